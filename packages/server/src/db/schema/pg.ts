/**
 * Postgres tables. Column names and TypeScript property names are identical to `sqlite.ts`, so the
 * repositories are written once against either (drizzle has no dialect-neutral schema; see
 * drizzle-orm issue #1196). Timestamps are ISO-8601 text; JSON is text.
 */
import { index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';

export const agents = pgTable(
  'agents',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    version: integer('version').notNull(),
    description: text('description'),
    env: text('env').notNull(),
    config: text('config').notNull(),
    fileCount: integer('file_count').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [uniqueIndex('agents_tenant_name').on(t.tenantId, t.name)],
);

export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    agentName: text('agent_name').notNull(),
    agentVersion: integer('agent_version').notNull(),
    status: text('status').notNull(),
    runnerId: text('runner_id'),
    ownerId: text('owner_id'),
    parentSessionId: text('parent_session_id'),
    model: text('model'),
    config: text('config').notNull(),
    extraEnv: text('extra_env'),
    credentialId: text('credential_id'),
    activeTurnId: text('active_turn_id'),
    turnStartedAt: text('turn_started_at'),
    lastEventSeq: integer('last_event_seq').notNull(),
    lastMessageSeq: integer('last_message_seq').notNull(),
    createdAt: text('created_at').notNull(),
    lastActiveAt: text('last_active_at').notNull(),
    endedAt: text('ended_at'),
  },
  (t) => [
    index('sessions_tenant_created').on(t.tenantId, t.createdAt),
    index('sessions_tenant_agent').on(t.tenantId, t.agentName),
    index('sessions_owner').on(t.ownerId),
  ],
);

export const messages = pgTable(
  'messages',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    sessionId: text('session_id').notNull(),
    role: text('role').notNull(),
    type: text('type').notNull(),
    content: text('content').notNull(),
    text: text('text').notNull(),
    sequence: integer('sequence').notNull(),
    turnId: text('turn_id'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('messages_session_seq').on(t.sessionId, t.sequence)],
);

export const sessionEvents = pgTable(
  'session_events',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    sessionId: text('session_id').notNull(),
    type: text('type').notNull(),
    data: text('data').notNull(),
    sequence: integer('sequence').notNull(),
    turnId: text('turn_id'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('session_events_session_seq').on(t.sessionId, t.sequence)],
);
