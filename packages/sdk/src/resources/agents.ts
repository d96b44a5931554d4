import type { Agent, DeployAgentBody, UpdateAgentBody, UploadFile } from '@ash-ai/shared';
import type { HttpClient } from '../core/http.js';
import { readAgentFolder, type ReadFolderOptions } from '../internal/folder.js';
import { AgentFiles } from './files.js';
import { route } from '../internal/route.js';

/** Agents: `client.agents`. */
export class Agents {
  /** Files of the current version (knowledge files); each change publishes a new version. */
  readonly files: AgentFiles;

  constructor(private readonly http: HttpClient) {
    this.files = new AgentFiles(http);
  }

  /**
   * Deploys an agent from uploaded files or from a folder path on the server's machine.
   * Redeploying an existing name bumps its version.
   * @throws BadRequestError, UnprocessableEntityError (no CLAUDE.md), PayloadTooLargeError.
   */
  async deploy(body: DeployAgentBody): Promise<Agent> {
    return (await this.http.request<{ agent: Agent }>('POST', '/api/agents', { body })).agent;
  }

  /**
   * Reads a local folder (skipping `.git`, `node_modules`, `.env*` and what `.ashignore` lists)
   * and deploys it as `name`. Node.js only.
   * @example await client.agents.deployDirectory('hello', './examples/hello')
   */
  async deployDirectory(
    name: string,
    dir: string,
    opts: Omit<DeployAgentBody, 'name' | 'path' | 'files'> & ReadFolderOptions = {},
  ): Promise<Agent> {
    const { maxBytes, onProgress, onSkip, ...rest } = opts;
    const files: UploadFile[] = await readAgentFolder(dir, {
      ...(maxBytes ? { maxBytes } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(onSkip ? { onSkip } : {}),
    });
    return this.deploy({ ...rest, name, files });
  }

  async list(): Promise<Agent[]> {
    return (await this.http.request<{ agents: Agent[] }>('GET', '/api/agents')).agents;
  }

  /** @throws NotFoundError */
  async get(name: string): Promise<Agent> {
    return (await this.http.request<{ agent: Agent }>('GET', route`/api/agents/${name}`)).agent;
  }

  /** Replaces env, merges config, sets description. @throws NotFoundError */
  async update(name: string, body: UpdateAgentBody): Promise<Agent> {
    return (await this.http.request<{ agent: Agent }>('PATCH', route`/api/agents/${name}`, { body })).agent;
  }

  /** Deletes the agent; its sessions end. @throws NotFoundError */
  async delete(name: string): Promise<void> {
    await this.http.request('DELETE', route`/api/agents/${name}`);
  }
}
