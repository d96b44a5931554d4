import type { Agent, DeployAgentBody, UpdateAgentBody } from '@ash-ai/shared';
import type { HttpClient } from '../core/http.js';
import { listAgentFolder, type ReadFolderOptions } from '../internal/folder.js';
import { jsonFilesBody } from '../internal/upload-stream.js';
import { AgentFiles } from './files.js';
import { route } from '../internal/route.js';

/** A deployed agent; `unchanged` is true when the server found nothing new (no version was published). */
export type DeployedAgent = Agent & { unchanged?: boolean };

const deployed = (r: { agent: Agent; unchanged?: boolean }): DeployedAgent =>
  r.unchanged ? { ...r.agent, unchanged: true } : r.agent;

/** Agents: `client.agents`. */
export class Agents {
  /** Files of the current version (knowledge files); each change publishes a new version. */
  readonly files: AgentFiles;

  constructor(private readonly http: HttpClient) {
    this.files = new AgentFiles(http);
  }

  /**
   * Deploys an agent from uploaded files or from a folder path on the server's machine.
   * Redeploying an existing name bumps its version, unless nothing changed (`unchanged: true`).
   * @throws BadRequestError (also: no CLAUDE.md), PayloadTooLargeError.
   */
  async deploy(body: DeployAgentBody): Promise<DeployedAgent> {
    return deployed(
      await this.http.request<{ agent: Agent; unchanged?: boolean }>('POST', '/api/agents', { body }),
    );
  }

  /**
   * Reads a local folder (skipping `.git`, `node_modules`, `.env*` and what `.ashignore` lists)
   * and deploys it as `name`. The files are streamed from disk as the request is sent (never held
   * whole in memory); `onProgress` reports the bytes sent. The size limit (`maxBytes`, default
   * 100 MiB) is checked before anything is read or sent. Node.js only.
   * @example await client.agents.deployDirectory('hello', './examples/hello')
   */
  async deployDirectory(
    name: string,
    dir: string,
    opts: Omit<DeployAgentBody, 'name' | 'path' | 'files'> & ReadFolderOptions = {},
  ): Promise<DeployedAgent> {
    const { maxBytes, onProgress, onSkip, ...rest } = opts;
    const entries = await listAgentFolder(dir, {
      ...(maxBytes ? { maxBytes } : {}),
      ...(onSkip ? { onSkip } : {}),
    });
    const body = jsonFilesBody(
      { ...rest, name },
      entries.map((e) => ({ path: e.rel, localPath: e.abs, size: e.size })),
      onProgress,
    );
    return deployed(
      await this.http.request<{ agent: Agent; unchanged?: boolean }>('POST', '/api/agents', {
        streamBody: { stream: body.stream, contentType: 'application/json', length: body.length },
      }),
    );
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
