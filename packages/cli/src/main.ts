#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { quickServeArgs, runServe } from './serve.js';

const isServe = process.argv[2] === 'serve';
// A reader that goes away (`ash session send … --json | head -3`) ends the command quietly, as
// Unix tools do, instead of an unhandled EPIPE with a stack trace; other write errors still throw.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
// `ash serve [-p <port>] [--host <host>]` starts the server without loading the command tree
// (its time counts in the server's time to healthy); any other form goes through it.
const quick = isServe ? quickServeArgs(process.argv.slice(3)) : undefined;
const run = quick
  ? runServe(quick).catch((err: unknown) => {
      // As the command tree reports a failure: one line, exit 1.
      process.stderr.write(`ash: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    })
  : import('./program.js').then(({ runCli }) => {
      const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        version: string;
      };
      return runCli(process.argv, version);
    });
run.then((code) => {
  // `serve` keeps running until a signal; everything else exits when done.
  if (!isServe || code !== 0) process.exit(code);
});
