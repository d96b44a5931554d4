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

  it('documents every environment variable the server reads', () => {
    const text = doc('configuration.md');
    for (const name of Object.keys(EnvSchema.properties)) expect(text, name).toContain(`\`${name}\``);
  });
});
