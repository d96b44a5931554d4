import type { AshDatabase } from '../client.js';
import { AgentsRepo } from './agents-repo.js';
import { AttachmentsRepo } from './attachments-repo.js';
import { HistoryRepo } from './history-repo.js';
import { SessionsRepo } from './sessions-repo.js';

export { AgentsRepo, type AgentRecord } from './agents-repo.js';
export { AttachmentsRepo, type AttachmentRecord } from './attachments-repo.js';
export { HistoryRepo, type EventRecord, type MessageRecord } from './history-repo.js';
export { SessionsRepo, type NewSession, type SessionRecord } from './sessions-repo.js';

/** All repositories over one database. */
export interface Repos {
  agents: AgentsRepo;
  sessions: SessionsRepo;
  history: HistoryRepo;
  attachments: AttachmentsRepo;
}

export function createRepos(d: AshDatabase): Repos {
  return {
    agents: new AgentsRepo(d),
    sessions: new SessionsRepo(d),
    history: new HistoryRepo(d),
    attachments: new AttachmentsRepo(d),
  };
}
