import createClient from 'openapi-fetch';
import type { components, paths } from './schema.js';

type Session = components['schemas']['Session'];
type Message = components['schemas']['Message'];

const client = createClient<paths>({
  baseUrl: process.env.ASH_URL!,
  headers: { authorization: `Bearer ${process.env.ASH_KEY!}` },
});
const created = await client.POST('/api/sessions', {
  body: { agent: 'gen-agent', model: 'claude-sonnet-4-5' },
});
if (!created.data) throw new Error(`create failed: ${created.error?.code}`);
const session: Session = created.data.session;
const listed = await client.GET('/api/sessions/{id}/messages', {
  params: { path: { id: session.id }, query: { after: 0, limit: 10 } },
});
if (!listed.data) throw new Error('list failed');
const messages: Message[] = listed.data.messages;
const missing = await client.GET('/api/sessions/{id}', { params: { path: { id: 'nope' } } });
const code: string | undefined = missing.error?.code;
console.log(JSON.stringify({ status: session.status, messages: messages.length, code }));
