import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/k8s/**', 'test/cluster/**'],
        },
      },
      {
        // Real etcd + kube-apiserver (test/k8s/README.md). The global setup
        // builds them on first use and starts one cluster for all files.
        test: {
          name: 'k8s',
          include: ['test/k8s/**/*.test.ts', 'test/cluster/**/*.test.ts'],
          globalSetup: ['test/k8s/global-setup.ts'],
          // A test may start its own cluster (~10-30 s on 2 busy cores).
          testTimeout: 60_000,
          // beforeAll hooks start clusters and create RBAC identities.
          hookTimeout: 300_000,
          // Files share one apiserver and the machine's 2 cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
