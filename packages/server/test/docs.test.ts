import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@ash-ai/testing';
import { ErrorCodes } from '@ash-ai/shared';
import { describe, expect, it } from 'vitest';
import { EnvSchema } from '../src/config.js';

const doc = (name: string) => readFileSync(join(REPO_ROOT, 'docs', name), 'utf8');

// The docs are part of the contract: they must name every code and every setting.
describe('docs stay true', () => {
  it('documents every error code with its status', () => {
    const text = doc('errors.md');
    for (const [code, status] of Object.entries(ErrorCodes)) {
      expect(text, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
    }
  });

  it('lists exactly the catalogue codes, each once', () => {
    const rows = [...doc('errors.md').matchAll(/^\| `([a-z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => m[1]);
    expect([...rows].sort()).toEqual(Object.keys(ErrorCodes).sort());
    expect(new Set(rows).size).toBe(rows.length);
  });

  it('repeats no passage within a page', () => {
    // Sentences of prose (tables and code left out), whitespace-normalised: a long one seen twice
    // is a paragraph pasted twice.
    for (const name of ['api.md', 'errors.md', 'configuration.md', 'security.md', 'architecture.md']) {
      const prose = doc(name)
        .replace(/```[\s\S]*?```/g, '')
        .split('\n')
        .filter((l) => !l.startsWith('|'))
        .join(' ')
        .replace(/\s+/g, ' ');
      const seen = new Set<string>();
      for (const sentence of prose.split(/(?<=[.;:]) /)) {
        if (sentence.length < 60) continue;
        expect(seen.has(sentence), `${name}: ${sentence}`).toBe(false);
        seen.add(sentence);
      }
    }
  });

  it('documents every environment variable the server reads', () => {
    const text = doc('configuration.md');
    for (const name of Object.keys(EnvSchema.properties)) expect(text, name).toContain(`\`${name}\``);
  });
});
