import { defineConfig } from 'vitest/config';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
// With an extension, as Node resolves it: vite's native config loader wants that of the config's own imports.
import { demoWeights } from './src/demo/vite-plugin-weights.js';

// One config, three jobs: `--mode lib` builds the library and the CLI into dist/ (WGSL inlined through
// `?raw` imports, so the same bundle runs in Node and in any bundler); the default mode serves and builds
// the demo page; vitest runs the Node tests in forked processes (Dawn's addon is not safe in worker threads).
const nodeExternals = ['webgpu', 'wgsl_reflect', /^wgsl_reflect\//, ...builtinModules, /^node:/];
const projectRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig(({ mode }) => {
  if (mode === 'lib') {
    return {
      build: {
        outDir: 'dist',
        // The demo build lives in dist/demo; keep it.
        emptyOutDir: false,
        target: 'es2022',
        minify: false,
        sourcemap: true,
        lib: {
          entry: { synthe: 'src/index.ts', cli: 'src/cli/main.ts' },
          formats: ['es'],
        },
        rollupOptions: { external: nodeExternals },
      },
    };
  }
  return {
    root: 'src/demo',
    publicDir: false,
    base: './',
    // The demo's weights are served and published next to its pages (not in vitest runs).
    plugins: mode === 'test' ? [] : [demoWeights(projectRoot)],
    // Dawn is Node-only; left to the optimizer, finding it mid-session re-bundles and reloads open pages.
    optimizeDeps: { exclude: ['webgpu'] },
    build: {
      outDir: '../../dist/demo',
      emptyOutDir: true,
      target: 'es2022',
      rollupOptions: { input: { index: `${projectRoot}src/demo/index.html`, embed: `${projectRoot}src/demo/embed.html` } },
    },
    server: { host: '127.0.0.1', fs: { allow: ['../..'] } },
    test: {
      root: '.',
      include: ['test/**/*.test.ts'],
      exclude: ['test/e2e/**', 'node_modules/**'],
      pool: 'forks',
      testTimeout: 120_000,
      hookTimeout: 120_000,
      setupFiles: ['test/setup.ts'],
    },
  };
});
