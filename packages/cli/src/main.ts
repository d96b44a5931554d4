#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { runCli } from './program.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const isServe = process.argv[2] === 'serve';
runCli(process.argv, version).then((code) => {
  // `serve` keeps running until a signal; everything else exits when done.
  if (!isServe || code !== 0) process.exit(code);
});
