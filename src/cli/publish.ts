import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { PublisherServiceClient, type PublishResponse } from '../gen/herald/v1/herald.js';
import { ERROR_CODE_METADATA } from '../ingest/index.js';
import { Severity as WireSeverity } from '../gen/herald/v1/herald.js';

const USAGE = `usage: herald publish --topic T --data TEXT [options]

  --server HOST:PORT        gRPC address (default 127.0.0.1:9090)
  --topic T                 topic to publish to
  --data TEXT               the event data (use - to read it from stdin)
  --type NAME               SSE event name (default message)
  --severity LEVEL          debug, info, warning, error or critical (default info)
  --label KEY=VALUE         a label; repeat for more
  --key K                   conflation key
  --idempotency-key K       a repeat within the window is not delivered twice
  --timeout-ms N            give up after N ms (default 10000)`;

/** `herald publish`: one event over gRPC Publish; prints the id. */
export async function runPublish(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string', default: '127.0.0.1:9090' },
      topic: { type: 'string' },
      data: { type: 'string' },
      type: { type: 'string' },
      severity: { type: 'string' },
      label: { type: 'string', multiple: true },
      key: { type: 'string' },
      'idempotency-key': { type: 'string' },
      'timeout-ms': { type: 'string', default: '10000' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.topic === undefined || values.data === undefined) {
    console.error(`herald publish: --topic and --data are required\n\n${USAGE}`);
    return 2;
  }
  const data = values.data === '-' ? await readStdin() : Buffer.from(values.data, 'utf8');
  let severity = WireSeverity.SEVERITY_UNSPECIFIED;
  if (values.severity !== undefined) {
    const s = WireSeverity[`SEVERITY_${values.severity.toUpperCase()}` as keyof typeof WireSeverity];
    if (typeof s !== 'number' || s <= 0) {
      console.error('herald publish: --severity must be debug, info, warning, error or critical');
      return 2;
    }
    severity = s;
  }
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const i = l.indexOf('=');
    if (i <= 0) {
      console.error(`herald publish: --label ${l} must be KEY=VALUE`);
      return 2;
    }
    labels[l.slice(0, i)] = l.slice(i + 1);
  }

  const client = new PublisherServiceClient(values.server!, credentials.createInsecure());
  try {
    const res = await new Promise<PublishResponse>((resolve, reject) => {
      client.publish(
        { event: { topic: values.topic!, type: values.type ?? '', data, severity, labels, key: values.key ?? '', idempotencyKey: values['idempotency-key'] ?? '' } },
        new Metadata(),
        { deadline: Date.now() + Number(values['timeout-ms']) },
        (err, r) => (err ? reject(err) : resolve(r)),
      );
    });
    console.log(res.id + (res.duplicate ? ' (duplicate)' : ''));
    return 0;
  } catch (err) {
    const e = err as ServiceError;
    const code = e.metadata?.get(ERROR_CODE_METADATA)[0];
    console.error(`herald publish: ${code ?? `gRPC status ${e.code}`}: ${e.details ?? e.message}`);
    return 1;
  } finally {
    client.close();
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
