/**
 * A real Kubernetes control plane for tests: one embedded etcd and one
 * kube-apiserver, started on free loopback ports, secured the way
 * controller-runtime's envtest secures its apiserver (TLS with a test CA,
 * client-certificate admin in system:masters, RBAC, service-account tokens).
 *
 * Concurrency: every cluster owns its processes, ports and a temp work dir;
 * clusters started by different test files never share state. The apiserver
 * alone can be stopped and started again on the same port while etcd keeps
 * running, so outage tests see the data they wrote before.
 *
 * Lifecycle: startKubeCluster() → (stopApiServer() ↔ startApiServer())* →
 * stop(). Child processes are also killed when the Node process exits, so a
 * crashed test run leaves no apiserver behind.
 *
 * Binaries come from scripts/k8s-build.sh (cached per version; see
 * test/k8s/README.md).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';

const execFileAsync = promisify(execFile);

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD_SCRIPT = path.join(REPO_ROOT, 'scripts/k8s-build.sh');

/**
 * How long etcd plus a fresh apiserver may take to report ready. The
 * apiserver alone takes 5–15 s on an idle 2-core machine (RBAC bootstrap and
 * other post-start hooks); the margin is for a CI runner also compiling.
 */
export const DEFAULT_START_TIMEOUT_MS = 180_000;
/** SIGTERM grace before SIGKILL: the apiserver drains requests, etcd syncs. */
const STOP_GRACE_MS = 15_000;
/** Readiness poll interval: short next to the seconds a start takes. */
const READY_POLL_MS = 250;
/** How long a new identity's RBAC grant may take to reach the authorizer's cache. */
const GRANT_TIMEOUT_MS = 30_000;
/** Lifetime of TokenRequest tokens; the API's minimum is 600 s. */
const TOKEN_EXPIRATION_SECONDS = 3_600;
/** Stderr lines kept per process to explain a failed start. */
const LOG_TAIL_LINES = 40;

const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
/** First address of SERVICE_CLUSTER_IP_RANGE: the `kubernetes` Service, put in the serving cert. */
const KUBERNETES_SERVICE_IP = '10.0.0.1';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** What tests may do with an admin kubeconfig. */
export interface KubeAdmin {
  /** Admin kubeconfig (client cert in system:masters, CA embedded). */
  readonly kubeconfigPath: string;
  /** Creates a namespace; an existing one is left as it is. */
  createNamespace(name: string): Promise<void>;
  /**
   * Creates ServiceAccount `name` in `namespace`, a Role allowing exactly
   * get, list, watch, create, update, patch and delete on
   * coordination.k8s.io leases there, and a RoleBinding; waits until the
   * grant is in force and returns a kubeconfig path that authenticates as
   * that ServiceAccount with a TokenRequest token.
   */
  createLeaseOnlyIdentity(namespace: string, name: string): Promise<string>;
}

/** A running etcd + kube-apiserver pair. */
export interface KubeCluster extends KubeAdmin {
  /** https://127.0.0.1:PORT; the port survives stopApiServer/startApiServer. */
  readonly server: string;
  /** PEM of the CA that signed the serving cert and the client certs. */
  readonly caPem: string;
  /** Directory holding kube-apiserver and etcd. */
  readonly binDir: string;
  /** Temp dir with certs, etcd data, kubeconfigs and the two processes' logs. */
  readonly workDir: string;
  /** Stops the apiserver and etcd and removes workDir (unless keepWorkDir). */
  stop(): Promise<void>;
  /** Stops the apiserver alone; etcd and its data stay. */
  stopApiServer(): Promise<void>;
  /** Starts the apiserver again on the same port and waits for /readyz. */
  startApiServer(): Promise<void>;
}

export interface StartKubeClusterOptions {
  /** Directory holding kube-apiserver and etcd; built with scripts/k8s-build.sh when absent. */
  binDir?: string;
  /** Bound on reaching ready, per process start. */
  startTimeoutMs?: number;
  /** Keep workDir after stop(), for reading logs. */
  keepWorkDir?: boolean;
  /** Extra kube-apiserver flags, e.g. `--feature-gates=...`. */
  extraApiServerArgs?: readonly string[];
}

/**
 * Runs scripts/k8s-build.sh (seconds when the binaries are cached, minutes
 * when cold) and returns the bin dir it prints. Build progress goes to this
 * process's stderr.
 */
export async function ensureKubeBinaries(): Promise<string> {
  const child = spawn('bash', [BUILD_SCRIPT], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  const [code] = (await once(child, 'close')) as [number | null];
  const binDir = out.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || binDir === '') {
    throw new Error(`scripts/k8s-build.sh failed with exit code ${code}`);
  }
  return binDir;
}

/** Starts etcd and kube-apiserver on free loopback ports and waits until both are ready. */
export async function startKubeCluster(opts: StartKubeClusterOptions = {}): Promise<KubeCluster> {
  const binDir = opts.binDir ?? (await ensureKubeBinaries());
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'herald-kube-'));
  const pkiDir = path.join(workDir, 'pki');
  const etcdBin = path.join(binDir, 'etcd');
  const apiServerBin = path.join(binDir, 'kube-apiserver');

  let etcd: ManagedProcess | undefined;
  let apiServer: ManagedProcess | undefined;
  try {
    await execFileAsync(etcdBin, ['pki', '--dir', pkiDir, '--service-ip', KUBERNETES_SERVICE_IP]);
    const [caPem, adminCert, adminKey] = await Promise.all(
      ['ca.crt', 'admin.crt', 'admin.key'].map((f) => readFile(path.join(pkiDir, f), 'utf8')),
    ) as [string, string, string];
    const tls = { ca: caPem, cert: adminCert, key: adminKey };

    const [etcdPort, peerPort] = await freePorts(2);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    etcd = ManagedProcess.spawn('etcd', etcdBin, [
      'serve',
      `--data-dir=${path.join(workDir, 'etcd')}`,
      `--listen-client-url=${etcdUrl}`,
      `--listen-peer-url=http://127.0.0.1:${peerPort}`,
      // Test data need not survive a machine crash; fsync dominates etcd's
      // latency on CI disks (envtest passes the same flag).
      '--unsafe-no-fsync',
    ], path.join(workDir, 'etcd.log'));
    await etcd.waitForStdout(/^etcd ready /, timeoutMs);

    let port = 0;
    const apiServerArgs = (): string[] => [
      `--etcd-servers=${etcdUrl}`,
      // The apiserver serves <cert-dir>/apiserver.{crt,key}, written by `etcd pki`.
      `--cert-dir=${pkiDir}`,
      `--secure-port=${port}`,
      // Loopback only; the advertised address defaults to the bind address,
      // so machines without a default route work too.
      '--bind-address=127.0.0.1',
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      // RBAC alone: no kubelets run here, so the Node authorizer has nothing to do.
      '--authorization-mode=RBAC',
      `--client-ca-file=${path.join(pkiDir, 'ca.crt')}`,
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${path.join(pkiDir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(pkiDir, 'sa.key')}`,
      ...(opts.extraApiServerArgs ?? []),
    ];
    const apiServerLog = path.join(workDir, 'kube-apiserver.log');
    const startApiServerProcess = async (): Promise<ManagedProcess> => {
      const proc = ManagedProcess.spawn('kube-apiserver', apiServerBin, apiServerArgs(), apiServerLog);
      try {
        await waitReady(proc, `https://127.0.0.1:${port}`, tls, timeoutMs);
      } catch (err) {
        await proc.stop();
        throw err;
      }
      return proc;
    };

    // A free port can be taken between our probe and the apiserver's bind;
    // try a fresh one then. Restarts reuse the port that worked.
    for (let attempt = 1; ; attempt++) {
      [port] = (await freePorts(1)) as [number];
      try {
        apiServer = await startApiServerProcess();
        break;
      } catch (err) {
        if (attempt >= 3 || !/address already in use/.test(String(err))) throw err;
      }
    }

    const server = `https://127.0.0.1:${port}`;
    const kubeconfigPath = path.join(workDir, 'admin.kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(server, caPem, 'herald-admin', {
      'client-certificate-data': b64(adminCert),
      'client-key-data': b64(adminKey),
    }), { mode: 0o600 });
    const admin = kubeAdmin(kubeconfigPath);

    let stopped = false;
    const cluster: KubeCluster = {
      kubeconfigPath,
      server,
      caPem,
      binDir,
      workDir,
      createNamespace: (name) => admin.createNamespace(name),
      createLeaseOnlyIdentity: (namespace, name) => admin.createLeaseOnlyIdentity(namespace, name),
      async stopApiServer() {
        await apiServer?.stop();
        apiServer = undefined;
      },
      async startApiServer() {
        if (stopped) throw new Error('cluster is stopped');
        if (apiServer !== undefined) return;
        apiServer = await startApiServerProcess();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await apiServer?.stop();
        await etcd?.stop();
        if (!opts.keepWorkDir) await rm(workDir, { recursive: true, force: true });
      },
    };
    return cluster;
  } catch (err) {
    await apiServer?.stop();
    await etcd?.stop();
    if (!opts.keepWorkDir) await rm(workDir, { recursive: true, force: true });
    throw err;
  }
}

/** Setup helpers acting with the admin credentials in `kubeconfigPath`. */
export function kubeAdmin(kubeconfigPath: string): KubeAdmin {
  return {
    kubeconfigPath,
    createNamespace: (name) => createNamespace(kubeconfigPath, name),
    createLeaseOnlyIdentity: (namespace, name) => createLeaseOnlyIdentity(kubeconfigPath, namespace, name),
  };
}

/** Creates a namespace with the admin kubeconfig; an existing one is left as it is. */
export async function createNamespace(adminKubeconfigPath: string, name: string): Promise<void> {
  const res = await kubeRequest(adminKubeconfigPath, 'POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  });
  if (res.status !== 201 && res.status !== 409) throw unexpected('create namespace', res);
}

/** See {@link KubeAdmin.createLeaseOnlyIdentity}. */
export async function createLeaseOnlyIdentity(
  adminKubeconfigPath: string,
  namespace: string,
  name: string,
): Promise<string> {
  const kc = loadKubeConfig(adminKubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);

  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name },
      rules: [{
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  });
  const tokenRequest = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: TOKEN_EXPIRATION_SECONDS } },
  });
  const token = tokenRequest.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);

  const cluster = kc.getCurrentCluster();
  if (!cluster?.caData) throw new Error(`${adminKubeconfigPath} has no cluster with certificate-authority-data`);
  const kubeconfigPath = path.join(path.dirname(adminKubeconfigPath), `${namespace}.${name}.kubeconfig`);
  await writeFile(
    kubeconfigPath,
    kubeconfigYaml(cluster.server, Buffer.from(cluster.caData, 'base64').toString('utf8'),
      `system:serviceaccount:${namespace}:${name}`, { token }),
    { mode: 0o600 },
  );

  // The RBAC authorizer reads Roles from an informer cache: wait until the
  // new identity can list leases, so tests never race the grant.
  const deadline = Date.now() + GRANT_TIMEOUT_MS;
  for (;;) {
    const res = await kubeRequest(kubeconfigPath, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`);
    if (res.status === 200) return kubeconfigPath;
    if (Date.now() > deadline) throw unexpected(`lease access for ${namespace}/${name}`, res);
    await sleep(READY_POLL_MS);
  }
}

/** The answer to one {@link kubeRequest}. */
export interface KubeResponse {
  status: number;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  body: unknown;
  /** The raw body, for checks on the exact wire text (e.g. MicroTime digits). */
  text: string;
}

/**
 * One HTTP request to the apiserver with the credentials of `kubeconfigPath`
 * (client cert or bearer token, CA verified). `body` is sent as JSON, or as
 * is when it is a string. Never throws on an HTTP status: tests assert on it.
 */
export async function kubeRequest(
  kubeconfigPath: string,
  method: string,
  apiPath: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<KubeResponse> {
  const kc = loadKubeConfig(kubeconfigPath);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${kubeconfigPath} has no current cluster`);
  const url = new URL(apiPath, cluster.server);
  const opts: https.RequestOptions = { method, headers: { accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  if (payload !== undefined) {
    opts.headers = { ...opts.headers, 'content-type': contentType, 'content-length': Buffer.byteLength(payload) };
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Loads a kubeconfig file with @kubernetes/client-node, as Herald will. */
export function loadKubeConfig(kubeconfigPath: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return kc;
}

function kubeconfigYaml(server: string, caPem: string, user: string, credentials: Record<string, string>): string {
  // Every value is base64, a URL or a plain name, so JSON quoting is valid YAML.
  const q = JSON.stringify;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: herald-test',
    '  cluster:',
    `    server: ${q(server)}`,
    `    certificate-authority-data: ${q(b64(caPem))}`,
    'users:',
    `- name: ${q(user)}`,
    '  user:',
    ...Object.entries(credentials).map(([k, v]) => `    ${k}: ${q(v)}`),
    'contexts:',
    '- name: herald-test',
    '  context:',
    '    cluster: herald-test',
    `    user: ${q(user)}`,
    'current-context: herald-test',
    '',
  ].join('\n');
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function unexpected(what: string, res: KubeResponse): Error {
  return new Error(`${what}: HTTP ${res.status}: ${res.text.slice(0, 500)}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Distinct free loopback ports, all held open together so the kernel cannot
 * hand out one twice. They are free again when this returns; a process that
 * binds them later races any other process on the machine, which callers
 * handle by retrying.
 */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, async () => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    return srv;
  }));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

async function waitReady(
  proc: ManagedProcess,
  server: string,
  tls: { ca: string; cert: string; key: string },
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (proc.exited) throw proc.failure(`exited before /readyz answered (${last})`);
    try {
      const status = await getStatus(`${server}/readyz`, tls);
      if (status === 200) return;
      last = `/readyz answered ${status}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(READY_POLL_MS);
  }
  throw proc.failure(`not ready after ${timeoutMs} ms (${last})`);
}

function getStatus(url: string, tls: { ca: string; cert: string; key: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...tls, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** Children still running, killed if this Node process exits without stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A child process whose stderr goes to a log file, with its tail kept for error messages. */
class ManagedProcess {
  exited = false;
  private readonly tail: string[] = [];
  private readonly exit: Promise<void>;

  private constructor(
    private readonly name: string,
    private readonly child: ChildProcess,
    log: WriteStream,
  ) {
    live.add(child);
    this.exit = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exited = true;
        live.delete(child);
        this.pushTail(`[${name} exited: code ${code}, signal ${signal}]`);
        log.end();
        resolve();
      });
    });
    child.on('error', (err) => {
      this.pushTail(`[${name} spawn error: ${err.message}]`);
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      log.write(chunk);
      for (const line of chunk.split('\n')) if (line !== '') this.pushTail(line);
    });
  }

  static spawn(name: string, bin: string, args: string[], logPath: string): ManagedProcess {
    const log = createWriteStream(logPath, { flags: 'a' });
    log.write(`--- ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    return new ManagedProcess(name, child, log);
  }

  /** Resolves when a stdout line matches; rejects when the process exits first or time runs out. */
  waitForStdout(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(this.failure(`no ${pattern} on stdout after ${timeoutMs} ms`)), timeoutMs);
      this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        if (lines.some((l) => pattern.test(l))) {
          clearTimeout(timer);
          resolve();
        }
      });
      void this.exit.then(() => {
        clearTimeout(timer);
        reject(this.failure('exited before it was ready'));
      });
    });
  }

  /** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves once the process is gone. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exit;
    clearTimeout(timer);
  }

  failure(what: string): Error {
    return new Error(`${this.name} ${what}; last stderr lines:\n${this.tail.join('\n')}`);
  }

  private pushTail(line: string): void {
    this.tail.push(line);
    if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
  }
}
