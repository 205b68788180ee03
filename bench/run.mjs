#!/usr/bin/env node
// Builds the TypeScript harness (bench/main.ts) with vite, which also inlines the `?raw` WGSL imports the
// engine uses, into a fresh directory under node_modules/.cache (so concurrent runs do not share a build),
// then runs it with the same arguments. Dependencies stay external and load from node_modules. A separate
// process rather than an import: the harness re-runs its own file per adapter with V8 flags.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const cache = join(root, 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const outDir = mkdtempSync(join(cache, 'synthe-bench-'));

let code = 1;
try {
  await build({
    configFile: false,
    root,
    logLevel: 'warn',
    build: {
      ssr: 'bench/main.ts',
      outDir,
      emptyOutDir: true,
      target: 'node20',
      minify: false,
      sourcemap: 'inline',
      rollupOptions: { output: { entryFileNames: 'main.mjs', format: 'es' } },
    },
  });
  const child = spawn(process.execPath, ['--enable-source-maps', join(outDir, 'main.mjs'), ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
  code = await new Promise((done) => child.on('exit', (c, signal) => done(c ?? (signal ? 128 : 1))));
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
process.exit(code);
