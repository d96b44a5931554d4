import { join } from 'node:path';

/** Where a session's files live on this server: `<data>/sessions/<id>/{workspace,claude}`. */
export class SessionPaths {
  constructor(private readonly dataDir: string) {}

  sessionDir(id: string): string {
    return join(this.dataDir, 'sessions', id);
  }

  /** The workspace (the agent's working directory, `/workspace` inside the sandbox). */
  workspace(id: string): string {
    return join(this.sessionDir(id), 'workspace');
  }

  /** The session's CLAUDE_CONFIG_DIR: SDK transcripts and settings. */
  claudeConfig(id: string): string {
    return join(this.sessionDir(id), 'claude');
  }
}
