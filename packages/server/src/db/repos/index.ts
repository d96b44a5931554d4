import type { AshDatabase } from '../client.js';
import { AgentsRepo } from './agents-repo.js';
import { HistoryRepo } from './history-repo.js';
import { QueueRepo } from './queue-repo.js';
import { SessionsRepo } from './sessions-repo.js';
import { UsageRepo } from './usage-repo.js';

export { AgentsRepo, type AgentRecord } from './agents-repo.js';
export { HistoryRepo, type EventRecord, type MessageRecord } from './history-repo.js';
export { SessionsRepo, type NewSession, type SessionRecord } from './sessions-repo.js';
export { QueueRepo, type NewQueueItem, type QueueRecord } from './queue-repo.js';
export { UsageRepo, type UsageFilter, type UsageRow, type UsageSums } from './usage-repo.js';

/** All repositories over one database. */
export interface Repos {
  agents: AgentsRepo;
  sessions: SessionsRepo;
  history: HistoryRepo;
  usage: UsageRepo;
  queue: QueueRepo;
}

export function createRepos(d: AshDatabase): Repos {
  return {
    agents: new AgentsRepo(d),
    sessions: new SessionsRepo(d),
    history: new HistoryRepo(d),
    usage: new UsageRepo(d),
    queue: new QueueRepo(d),
  };
}
