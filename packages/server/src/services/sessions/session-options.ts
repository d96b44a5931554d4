import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Ajv } from 'ajv';
import {
  BridgeSdkOptionsSchema,
  SESSION_CONFIG_KEYS,
  type BridgeSdkOptions,
  type SessionConfig,
  type TurnOptions,
  type UpdateSessionConfigBody,
} from '@ash-ai/shared';
import type { SessionRecord } from '../../db/repos/index.js';
import { invalidField } from '../../errors.js';

/**
 * SDK options and where they come from.
 *
 * Precedence, per option: **turn > session > agent config > agent folder**. Turn options come with
 * a message; session options are the session's config (set at creation, changed by
 * `PATCH /api/sessions/:id/config`); the agent config is `config` of the agent
 * (`PATCH /api/agents/:name`); the folder's `.claude/settings.json` (and `settings.local.json`)
 * is read by the SDK itself and applies to whatever none of the others set.
 */

/** Keys of the SDK options a turn, session or agent config can set. */
export const SDK_OPTION_KEYS = Object.keys(BridgeSdkOptionsSchema.properties) as Array<
  keyof BridgeSdkOptions
>;

/** Turn option keys (per message). */
export const TURN_OPTION_KEYS = [
  'model',
  'maxTurns',
  'maxBudgetUsd',
  'effort',
  'thinking',
  'outputFormat',
] as const;

/**
 * Merges the option layers into what the bridge passes to the SDK.
 * @param agentConfig the agent's `config` (only SDK option keys are used; other keys are other features' settings)
 * @param session the session's config, plus its legacy `model` column
 * @param turn the message's turn options
 */
export function resolveSdkOptions(
  agentConfig: Record<string, unknown>,
  session: Pick<SessionRecord, 'config' | 'model'>,
  turn: Partial<TurnOptions>,
): BridgeSdkOptions {
  const o: Record<string, unknown> = {};
  for (const k of SDK_OPTION_KEYS)
    if (agentConfig[k] !== undefined && agentConfig[k] !== null) o[k] = agentConfig[k];
  if (session.model) o.model = session.model;
  for (const [k, v] of Object.entries(session.config)) if (v !== undefined) o[k] = v;
  for (const k of TURN_OPTION_KEYS) if (turn[k] !== undefined) o[k] = turn[k];
  return o as BridgeSdkOptions;
}

/**
 * Applies a config patch (RFC 7396 merge patch: `null` removes an option).
 * @returns the new config and the new budget (`undefined`: unchanged).
 */
export function applyConfigPatch(
  current: SessionConfig,
  patch: UpdateSessionConfigBody,
): { config: SessionConfig; budgetUsd: number | null | undefined } {
  const next: Record<string, unknown> = { ...current };
  for (const k of SESSION_CONFIG_KEYS) {
    if (!(k in patch)) continue;
    const v = patch[k];
    if (v === null) delete next[k];
    else if (v !== undefined) next[k] = v;
  }
  return { config: next as SessionConfig, budgetUsd: patch.budgetUsd };
}

/**
 * What a fork inherits from its parent: the whole session config (and model), the budget, the
 * environment and the credential. Use it when creating the child row so a fork behaves like its
 * parent until its own config is patched.
 */
export function inheritedSessionSettings(
  parent: SessionRecord,
): Pick<SessionRecord, 'model' | 'config' | 'extraEnv' | 'credentialId' | 'budgetUsd' | 'runnerLabels'> {
  return {
    runnerLabels: { ...parent.runnerLabels },
    model: parent.model,
    config: structuredClone(parent.config),
    extraEnv: { ...parent.extraEnv },
    credentialId: parent.credentialId,
    budgetUsd: parent.budgetUsd,
  };
}

/** Agents the SDK provides itself (Claude Code 2.x); an `initialAgent` may name one of them. */
const BUILTIN_AGENTS = ['general-purpose', 'Explore', 'Plan', 'statusline-setup', 'claude'];

/** Names of the agents defined by files in a folder's `.claude/agents/` (frontmatter `name`, else the file name). */
export function folderAgentNames(folder: string): string[] {
  const dir = join(folder, '.claude', 'agents');
  if (!existsSync(dir)) return [];
  const names: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && depth < 4) walk(join(d, e.name), depth + 1);
      else if (e.isFile() && e.name.endsWith('.md')) {
        const text = readFileSync(join(d, e.name), 'utf8').slice(0, 8192);
        const fm = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text)?.[1] ?? '';
        const name = /^name:\s*["']?([^"'\r\n]+?)["']?\s*$/m.exec(fm)?.[1];
        names.push(name ?? e.name.slice(0, -3));
      }
    }
  };
  walk(dir, 0);
  return names;
}

/** The Ajv instance checking output schemas, made on first use (Ajv loads only then). */
let outputSchemaAjv: Ajv | undefined;

/**
 * Checks what the request schemas cannot express. Every failure is a 400 `validation_failed`
 * naming the field (`/body/<field>`).
 * - `allowedTools` and `disallowedTools` must not name the same tool;
 * - `initialAgent` must name a subagent (of the session or agent config), an agent file of the
 *   agent folder (`.claude/agents/*.md`) or a built-in agent — the SDK silently ignores others;
 * - `outputFormat.schema` must be a JSON Schema whose root is an object (the SDK offers it to the
 *   model as a tool's `input_schema`, which must describe an object).
 * @param effective the options as they will apply (for cross-layer checks such as `initialAgent`)
 */
export function validateSdkOptions(
  given: Partial<BridgeSdkOptions>,
  effective: Partial<BridgeSdkOptions>,
  folder: string | undefined,
  prefix = '/body',
): void {
  if (given.allowedTools && given.disallowedTools) {
    const allowed = new Set(given.allowedTools);
    const i = given.disallowedTools.findIndex((t) => allowed.has(t));
    if (i >= 0)
      throw invalidField(
        `${prefix}/disallowedTools/${i}`,
        `'${given.disallowedTools[i]}' is also in allowedTools`,
      );
  }
  if (given.initialAgent) {
    const known = new Set([
      ...Object.keys(effective.subagents ?? {}),
      ...(folder ? folderAgentNames(folder) : []),
      ...BUILTIN_AGENTS,
    ]);
    if (!known.has(given.initialAgent))
      throw invalidField(
        `${prefix}/initialAgent`,
        `no agent named '${given.initialAgent}': define it in subagents or in the folder's .claude/agents/`,
      );
  }
  if (given.outputFormat) validateOutputSchema(given.outputFormat.schema, `${prefix}/outputFormat/schema`);
}

function validateOutputSchema(schema: Record<string, unknown>, path: string): void {
  if (schema.type !== 'object') throw invalidField(path, "must describe an object (`type: 'object'`)");
  try {
    if (!outputSchemaAjv) {
      const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
      outputSchemaAjv = new Ajv({ strict: false, allErrors: false, validateSchema: true });
    }
    outputSchemaAjv.compile(schema);
  } catch (err) {
    throw invalidField(
      path,
      `is not a valid JSON Schema: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
