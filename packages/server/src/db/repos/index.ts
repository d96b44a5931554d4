import type { AshDatabase } from '../client.js';
import { AgentsRepo } from './agents-repo.js';
import { AgentVersionsRepo } from './agent-versions-repo.js';
import { AttachmentsRepo } from './attachments-repo.js';
import { ApiKeysRepo } from './api-keys-repo.js';
import { CredentialsRepo } from './credentials-repo.js';
import { HistoryRepo } from './history-repo.js';
import { ManagedObjectsRepo } from './managed-objects-repo.js';
import { RunnersRepo } from './runners-repo.js';
import { ServersRepo } from './servers-repo.js';
import { QueueRepo } from './queue-repo.js';
import { SessionsRepo } from './sessions-repo.js';
import { UsageRepo } from './usage-repo.js';

export { AgentsRepo, type AgentRecord } from './agents-repo.js';
export { AgentVersionsRepo, type AgentVersionRecord } from './agent-versions-repo.js';
export { AttachmentsRepo, type AttachmentRecord } from './attachments-repo.js';
export { ApiKeysRepo, type ApiKeyRecord } from './api-keys-repo.js';
export { CredentialsRepo, type CredentialRecord, type SealedValue } from './credentials-repo.js';
export { RunnersRepo, type RunnerRecord } from './runners-repo.js';
export { ServersRepo, type ServerRecord } from './servers-repo.js';
export { HistoryRepo, type EventRecord, type MessageRecord } from './history-repo.js';
export {
  ManagedObjectsRepo,
  type ManagedKind,
  type ManagedObjectRecord,
} from './managed-objects-repo.js';
export { SessionsRepo, type NewSession, type SessionRecord } from './sessions-repo.js';
export { QueueRepo, type NewQueueItem, type QueueRecord } from './queue-repo.js';
export { UsageRepo, type UsageFilter, type UsageRow, type UsageSums } from './usage-repo.js';

/** All repositories over one database. */
export interface Repos {
  agents: AgentsRepo;
  agentVersions: AgentVersionsRepo;
  sessions: SessionsRepo;
  history: HistoryRepo;
  attachments: AttachmentsRepo;
  apiKeys: ApiKeysRepo;
  credentials: CredentialsRepo;
  runners: RunnersRepo;
  /** The servers sharing this database and their URLs (request forwarding). */
  servers: ServersRepo;
  usage: UsageRepo;
  queue: QueueRepo;
  /** Managed Agents (`/v1`) objects: environments, agent config versions, session extras. */
  managed: ManagedObjectsRepo;
}

export function createRepos(d: AshDatabase): Repos {
  return {
    agents: new AgentsRepo(d),
    agentVersions: new AgentVersionsRepo(d),
    sessions: new SessionsRepo(d),
    history: new HistoryRepo(d),
    attachments: new AttachmentsRepo(d),
    apiKeys: new ApiKeysRepo(d),
    credentials: new CredentialsRepo(d),
    runners: new RunnersRepo(d),
    servers: new ServersRepo(d),
    usage: new UsageRepo(d),
    queue: new QueueRepo(d),
    managed: new ManagedObjectsRepo(d),
  };
}
