import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { HeraldError } from '../errors.js';
import { renderConfigDocs } from './docs.js';
import { leaseName } from './load.js';
import { type ConfigKey, envName, flagName, loadConfig, OPTIONS } from './index.js';

const CONFIG_DOC = new URL('../../docs/config.md', import.meta.url);

/** Runs `fn` and returns the HeraldError it throws (fails the test if it throws anything else, or nothing). */
function thrown(fn: () => unknown): HeraldError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HeraldError);
    return err as HeraldError;
  }
  throw new Error('expected a HeraldError, nothing was thrown');
}

describe('config docs', () => {
  it('config - docs/config.md is what the schema renders (run `npm run docs:config` to fix)', () => {
    expect(readFileSync(CONFIG_DOC, 'utf8')).toBe(renderConfigDocs());
  });

  it('config - docs list every option with its flag, env name and default', () => {
    const doc = renderConfigDocs();
    for (const key of Object.keys(OPTIONS) as ConfigKey[]) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
      expect(row, key).toBeDefined();
      expect(row).toContain(`\`${flagName(key)}\``);
      expect(row).toContain(`\`${envName(key)}\``);
      const def = OPTIONS[key].default;
      if (def !== '') expect(row).toContain(`\`${String(def)}\``);
    }
  });

  it('config - docs show ranges, enum values and patterns', () => {
    const doc = renderConfigDocs();
    expect(doc).toContain('integer `0` .. `65535`');
    expect(doc).toContain('`trace`, `debug`, `info`, `warn`, `error`, `fatal`, `silent`');
    expect(doc).toContain('matches `/^[a-z0-9-]*$/`');
  });
});

describe('loadConfig', () => {
  it('config - empty argv and env give every default', () => {
    const config = loadConfig([], {});
    for (const key of Object.keys(OPTIONS) as ConfigKey[]) {
      if (key === 'podName') continue; // derived from the hostname, below
      expect(config[key], key).toBe(OPTIONS[key].default);
    }
  });

  it('config - an empty podName becomes the hostname as a valid Lease name', () => {
    expect(loadConfig([], {}).podName).toBe(leaseName(hostname()));
    expect(loadConfig([], {}).podName).toMatch(OPTIONS.podName.pattern);
    expect(leaseName('My_Laptop.local')).toBe('my-laptop.local');
    expect(leaseName('--')).toBe('herald');
    expect(loadConfig([], { HERALD_POD_NAME: 'herald-7f9c-x2' }).podName).toBe('herald-7f9c-x2');
  });

  it('config - leaseRenewMs must be below leaseDurationMs, naming both keys', () => {
    const e = thrown(() => loadConfig(['--lease-duration-ms', '3000', '--lease-renew-ms', '3000'], {}));
    expect(e.code).toBe('HERALD_ERR_CONFIG_INVALID');
    expect(e.message).toContain('leaseRenewMs (3000)');
    expect(e.message).toContain('leaseDurationMs (3000)');
    expect(loadConfig(['--lease-duration-ms', '3000', '--lease-renew-ms', '1000'], {}).leaseRenewMs).toBe(1000);
  });

  it('config - leaseDurationMs must be whole seconds', () => {
    const e = thrown(() => loadConfig(['--lease-duration-ms', '2500', '--lease-renew-ms', '1000'], {}));
    expect(e.code).toBe('HERALD_ERR_CONFIG_INVALID');
    expect(e.message).toContain('leaseDurationSeconds');
  });

  it('config - cluster mode is off by default and kubernetes on request', () => {
    expect(loadConfig([], {}).cluster).toBe('off');
    expect(loadConfig(['--cluster', 'kubernetes'], {}).cluster).toBe('kubernetes');
    expect(thrown(() => loadConfig(['--cluster', 'consul'], {})).message).toContain('off, kubernetes');
  });

  it('config - reads HERALD_* environment', () => {
    const config = loadConfig([], { HERALD_HTTP_PORT: '1234', HERALD_LOG_LEVEL: 'warn', PATH: '/bin' });
    expect(config.httpPort).toBe(1234);
    expect(config.logLevel).toBe('warn');
  });

  it('config - a flag wins over the environment', () => {
    const env = { HERALD_HTTP_PORT: '1111' };
    expect(loadConfig(['--http-port', '2222'], env).httpPort).toBe(2222);
    expect(loadConfig(['--http-port=3333'], env).httpPort).toBe(3333);
  });

  it('config - a non-integer port names the key, the flag and the allowed range', () => {
    const e = thrown(() => loadConfig(['--http-port=abc'], {}));
    expect(e.code).toBe('HERALD_ERR_CONFIG_INVALID');
    expect(e.message).toContain('httpPort');
    expect(e.message).toContain('--http-port');
    expect(e.message).toContain('"abc"');
    expect(e.message).toContain('from 0 to 65535');
  });

  it('config - an out-of-range value names the key, the env variable and the range', () => {
    const e = thrown(() => loadConfig([], { HERALD_HTTP_PORT: '70000' }));
    expect(e.code).toBe('HERALD_ERR_CONFIG_INVALID');
    expect(e.message).toContain('httpPort');
    expect(e.message).toContain('HERALD_HTTP_PORT');
    expect(e.message).toContain('from 0 to 65535');

    const low = thrown(() => loadConfig(['--heartbeat-ms', '99'], {}));
    expect(low.code).toBe('HERALD_ERR_CONFIG_INVALID');
    expect(low.message).toContain('heartbeatMs');
    expect(low.message).toContain('from 100 to 600000');
  });

  it('config - an enum error lists the allowed values', () => {
    const e = thrown(() => loadConfig(['--log-level', 'loud'], {}));
    expect(e.code).toBe('HERALD_ERR_CONFIG_INVALID');
    expect(e.message).toContain('logLevel');
    for (const v of OPTIONS.logLevel.values) expect(e.message).toContain(v);
  });

  it('config - a string that breaks its pattern names the pattern', () => {
    const e = thrown(() => loadConfig(['--client-address-header', 'X-Forwarded-For'], {}));
    expect(e.code).toBe('HERALD_ERR_CONFIG_INVALID');
    expect(e.message).toContain('clientAddressHeader');
    expect(e.message).toContain('/^[a-z0-9-]*$/');
  });

  it('config - a misspelt flag suggests the closest one', () => {
    const e = thrown(() => loadConfig(['--http-prot', '8080'], {}));
    expect(e.code).toBe('HERALD_ERR_CONFIG_UNKNOWN');
    expect(e.message).toContain('--http-prot');
    expect(e.message).toContain('did you mean --http-port?');
  });

  it('config - a misspelt HERALD_ variable suggests the closest one', () => {
    const e = thrown(() => loadConfig([], { HERALD_HTTP_PROT: '8080' }));
    expect(e.code).toBe('HERALD_ERR_CONFIG_UNKNOWN');
    expect(e.message).toContain('HERALD_HTTP_PROT');
    expect(e.message).toContain('did you mean HERALD_HTTP_PORT?');
  });

  it('config - a flag without a value is an error', () => {
    const e = thrown(() => loadConfig(['--http-port'], {}));
    expect(e.code).toBe('HERALD_ERR_CONFIG_INVALID');
    expect(e.message).toContain('--http-port');
  });

  it('config - the result is frozen', () => {
    const config = loadConfig([], {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { httpPort: number }).httpPort = 1;
    }).toThrow(TypeError);
  });
});
