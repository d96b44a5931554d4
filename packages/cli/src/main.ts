#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { runCli } from './program.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const isServe = process.argv[2] === 'serve';
// A reader that goes away (`ash session send … --json | head -3`) ends the command quietly, as
// Unix tools do, instead of an unhandled EPIPE with a stack trace; other write errors still throw.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
runCli(process.argv, version).then((code) => {
  // `serve` keeps running until a signal; everything else exits when done.
  if (!isServe || code !== 0) process.exit(code);
});
