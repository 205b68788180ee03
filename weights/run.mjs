// Runs a TypeScript weights script in Node: `node weights/run.mjs <script.ts> [args…]`.
// Node 20 cannot load TypeScript, so the script is bundled with vite (the project's own build tool, there after
// `npm ci`) into node_modules/.cache, where bare imports still resolve to the project's node_modules, and its
// exported `main(args)` is called.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error('usage: node weights/run.mjs <script.ts> [args…]');
  process.exit(1);
}
const cache = join(root, 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const outDir = mkdtempSync(join(cache, 'synthe-run-'));
try {
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    build: {
      // An SSR build targets Node and leaves node_modules imports external.
      ssr: resolve(script),
      outDir,
      emptyOutDir: true,
      minify: false,
      rollupOptions: { output: { format: 'es', entryFileNames: 'main.mjs' } },
    },
  });
  const module = await import(pathToFileURL(join(outDir, 'main.mjs')).href);
  if (typeof module.main !== 'function') throw new Error(`${script} does not export main(args)`);
  await module.main(args);
} catch (error) {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exitCode = 1;
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
