#!/usr/bin/env node
/**
 * The `herald` command: serve, publish, tail.
 * Exit codes: 0 ok, 1 the operation failed, 2 bad usage or configuration.
 */
import { HeraldError } from '../errors.js';
import { runPublish } from './publish.js';
import { runServe } from './serve.js';
import { runTail } from './tail.js';

const USAGE = `usage: herald <command> [options]

commands:
  serve    run a Herald replica (every option also as HERALD_* env; see docs/config.md)
  publish  publish one event over gRPC and print its id
  tail     follow topics over SSE, resuming by the last id after a disconnect

herald <command> --help shows the command's options.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return runServe(rest);
    case 'publish':
      return runPublish(rest);
    case 'tail':
      return runTail(rest);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`herald: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof HeraldError) console.error(`herald: ${err.code}: ${err.message}`);
    else console.error('herald:', err);
    process.exitCode = err instanceof HeraldError && err.code.startsWith('HERALD_ERR_CONFIG') ? 2 : 1;
  },
);
