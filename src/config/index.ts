/**
 * Configuration: one schema (schema.ts), parsed once at start from flags and
 * HERALD_* environment (load.ts), frozen, and passed down as an argument.
 * No other module reads process.env.
 */
export { loadConfig } from './load.js';
export { OPTIONS, envName, flagName, type Config, type ConfigKey, type OptionSpec } from './schema.js';
