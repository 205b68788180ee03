import { defineConfig } from '@playwright/test';

// Browser tests run in Debian's Chromium (Playwright's own browser downloads are not used), with WebGPU on.
// WebGPU needs a secure context, so pages come from vite's dev server on 127.0.0.1.
const PORT = 5199;

export default defineConfig({
  testDir: 'test/e2e',
  timeout: 120_000,
  workers: 1,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.SYNTHE_CHROMIUM ?? '/usr/bin/chromium',
      args: ['--enable-unsafe-webgpu', '--disable-gpu-sandbox'],
    },
  },
  webServer: {
    command: `npx vite --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});
