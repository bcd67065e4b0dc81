import { pino, type Logger } from 'pino';

/** JSON lines on stdout, the format a cluster's log pipeline expects. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'herald' }, timestamp: pino.stdTimeFunctions.isoTime });
}
export type { Logger };
