// Writes docs/config.md from the configuration schema.
//
//   npm run docs:config              rebuild, then write docs/config.md
//   npm run docs:config -- --check   rebuild, then exit 1 if docs/config.md is stale
//
// The renderer is src/config/docs.ts; this script imports its compiled form
// from dist/ (built by `npm run build`), so the file it writes is exactly what
// src/config/config.test.ts compares against.

import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const DOC = fileURLToPath(new URL('../docs/config.md', import.meta.url));
const RENDERER = new URL('../dist/config/docs.js', import.meta.url);
const DOC_LABEL = 'docs/config.md';

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--check');
if (unknown.length > 0) {
  console.error(`gen-config-docs: unknown argument ${unknown[0]}\nusage: node scripts/gen-config-docs.mjs [--check]`);
  process.exit(2);
}
const check = args.includes('--check');

let renderConfigDocs;
try {
  ({ renderConfigDocs } = await import(RENDERER.href));
} catch (err) {
  console.error(`gen-config-docs: cannot load ${fileURLToPath(RENDERER)}; run \`npm run build\` first (npm run docs:config does).\n${err}`);
  process.exit(2);
}

const want = renderConfigDocs();
const have = await readFile(DOC, 'utf8').catch((err) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));

if (!check) {
  if (have === want) {
    console.log(`${DOC_LABEL} is up to date`);
  } else {
    await writeFile(DOC, want);
    console.log(`wrote ${DOC_LABEL}`);
  }
  process.exit(0);
}

if (have === want) {
  console.log(`${DOC_LABEL} matches the schema`);
  process.exit(0);
}

console.error(`${DOC_LABEL} is out of date with src/config/schema.ts.`);
if (have === undefined) {
  console.error(`  ${DOC_LABEL} does not exist.`);
} else {
  console.error(firstDifference(have, want));
}
console.error('Run `npm run docs:config` and commit the result.');
process.exit(1);

/** A short hint at where the files part: the first line that differs, both versions. */
function firstDifference(have, want) {
  const a = have.split('\n');
  const b = want.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      const show = (line) => (line === undefined ? '(end of file)' : line);
      return `  first difference at line ${i + 1}:\n  - ${show(a[i])}\n  + ${show(b[i])}`;
    }
  }
  return '  (the files differ only in line endings)';
}
