/**
 * Telemetry: the structured log today; OpenTelemetry metrics and traces
 * arrive with their own issue and are set up here, with the name of every
 * metric and span in one file.
 */
export { createLogger, type Logger } from './logger.js';
