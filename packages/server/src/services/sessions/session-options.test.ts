import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../db/repos/index.js';
import {
  applyConfigPatch,
  folderAgentNames,
  inheritedSessionSettings,
  resolveSdkOptions,
  validateSdkOptions,
} from './session-options.js';

describe('session options', () => {
  it('resolves turn > session > agent config, ignoring non-option agent keys', () => {
    const agent = { model: 'agent', maxTurns: 3, effort: 'low', preWarmCount: 2, permissionMode: null };
    expect(resolveSdkOptions(agent, { config: {}, model: null }, {})).toEqual({
      model: 'agent',
      maxTurns: 3,
      effort: 'low',
    });
    expect(
      resolveSdkOptions(agent, { config: { model: 'session', allowedTools: ['Bash'] }, model: 'legacy' }, {}),
    ).toEqual({ model: 'session', maxTurns: 3, effort: 'low', allowedTools: ['Bash'] });
    expect(resolveSdkOptions(agent, { config: {}, model: 'legacy' }, {}).model).toBe('legacy');
    expect(
      resolveSdkOptions(agent, { config: { model: 'session' }, model: null }, { model: 'turn', maxTurns: 9 }),
    ).toMatchObject({ model: 'turn', maxTurns: 9 });
  });

  it('merge-patches the config: values replace, null removes, budget apart', () => {
    const current = { model: 'a', allowedTools: ['Bash'], systemPrompt: 'p' };
    expect(applyConfigPatch(current, { model: 'b', allowedTools: null })).toEqual({
      config: { model: 'b', systemPrompt: 'p' },
      budgetUsd: undefined,
    });
    expect(applyConfigPatch(current, { budgetUsd: null })).toEqual({ config: current, budgetUsd: null });
    expect(current).toEqual({ model: 'a', allowedTools: ['Bash'], systemPrompt: 'p' });
  });

  it('gives a fork a deep copy of what it inherits', () => {
    const parent = {
      model: 'm',
      config: { subagents: { h: { description: 'd', prompt: 'p' } } },
      extraEnv: { A: '1' },
      credentialId: null,
      budgetUsd: 3,
      runnerLabels: { zone: 'eu' },
    } as unknown as SessionRecord;
    const child = inheritedSessionSettings(parent);
    expect(child).toEqual({
      model: 'm',
      config: parent.config,
      extraEnv: { A: '1' },
      credentialId: null,
      budgetUsd: 3,
      runnerLabels: { zone: 'eu' },
    });
    child.config.subagents!.h!.prompt = 'changed';
    expect(parent.config.subagents!.h!.prompt).toBe('p');
    child.runnerLabels.zone = 'us';
    expect(parent.runnerLabels.zone).toBe('eu');
  });

  it('names folder agents by frontmatter, else by file name; validates what schemas cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ash-opts-'));
    try {
      mkdirSync(join(dir, '.claude', 'agents', 'team'), { recursive: true });
      writeFileSync(join(dir, '.claude', 'agents', 'a.md'), '---\nname: "alpha"\ndescription: x\n---\nbody');
      writeFileSync(join(dir, '.claude', 'agents', 'team', 'beta.md'), 'no frontmatter');
      expect(folderAgentNames(dir).sort()).toEqual(['alpha', 'beta']);
      expect(folderAgentNames(join(dir, 'nowhere'))).toEqual([]);
      expect(() => validateSdkOptions({ initialAgent: 'alpha' }, {}, dir)).not.toThrow();
      expect(() => validateSdkOptions({ initialAgent: 'Explore' }, {}, undefined)).not.toThrow();
      expect(() =>
        validateSdkOptions(
          { initialAgent: 'h' },
          { subagents: { h: { description: 'd', prompt: 'p' } } },
          dir,
        ),
      ).not.toThrow();
      expect(() => validateSdkOptions({ initialAgent: 'gamma' }, {}, dir)).toThrow(/no agent named 'gamma'/);
      expect(() =>
        validateSdkOptions(
          { outputFormat: { type: 'json_schema', schema: { type: 'object', required: 'x' } } },
          {},
          dir,
        ),
      ).toThrow(/not a valid JSON Schema/);
      expect(() =>
        validateSdkOptions({ allowedTools: ['Read'], disallowedTools: ['Write'] }, {}, dir),
      ).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
