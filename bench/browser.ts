/**
 * Runs the benchmark page in Debian's Chromium under Playwright (never Playwright's own browser downloads),
 * served by vite from 127.0.0.1: WebGPU needs a secure context and `--enable-unsafe-webgpu` on Linux.
 */
import type { PageOptions } from './browser/page';
import type { AdapterResult } from './results';

const PORT = 5198;

export async function runBrowser(workloads: string[], options: Omit<PageOptions, 'workloads'>, log: (line: string) => void): Promise<AdapterResult> {
  const { createServer } = await import('vite');
  const { chromium } = await import('@playwright/test');
  const server = await createServer({
    configFile: false,
    root: process.cwd(),
    logLevel: process.env.BENCH_VITE_LOG === 'info' ? 'info' : 'error',
    // No file watching or HMR: an edit to src/ mid-run (other work goes on in this tree) must not reload the page.
    server: { host: '127.0.0.1', port: PORT, watch: null, hmr: false },
    optimizeDeps: {
      entries: ['bench/browser/index.html'],
      // Pre-bundled before the page loads, so vite never reloads it mid-run to add a dependency.
      include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'wgsl_reflect/wgsl_reflect.module.js'],
      // ORT finds its .wasm next to its own module URL, which pre-bundling would move.
      exclude: ['onnxruntime-web'],
    },
  });
  await server.listen();
  const base = server.resolvedUrls?.local[0] ?? `http://127.0.0.1:${PORT}/`;
  const browser = await chromium.launch({
    executablePath: process.env.SYNTHE_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--enable-unsafe-webgpu', '--disable-gpu-sandbox'],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (message) => {
      const text = message.text();
      if (text.startsWith('[bench] ')) log(text.slice(8));
      else if (message.type() === 'error' && !text.includes('404')) log(`console: ${text}`);
    });
    page.on('pageerror', (error) => log(`page error: ${error.message}`));
    await page.goto(new URL('bench/browser/index.html', base).href);
    await page.waitForFunction(() => 'runBench' in window, null, { timeout: 120_000 });
    return await page.evaluate((o) => window.runBench(o), { ...options, workloads });
  } finally {
    await browser.close();
    await server.close();
  }
}
