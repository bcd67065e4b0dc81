import { loadConfig, OPTIONS, flagName, envName } from '../config/index.js';
import { exitOnSignals, startHerald } from '../main.js';

/** `herald serve`: runs until SIGTERM, then drains and exits 0. Returns -1: the process lives on. */
export async function runServe(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log('usage: herald serve [options]\n');
    for (const [key, spec] of Object.entries(OPTIONS)) {
      console.log(`  ${flagName(key).padEnd(32)} ${envName(key).padEnd(40)} default ${JSON.stringify(spec.default)}\n      ${spec.doc}`);
    }
    return 0;
  }
  const config = loadConfig(argv, process.env);
  const herald = await startHerald(config);
  exitOnSignals(herald);
  return -1;
}
