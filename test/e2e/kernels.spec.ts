import { expect, test } from '@playwright/test';

// The same kernels the Node tests check, run in Chromium's WebGPU (SwiftShader here) through vite's module
// graph, against the plain-TS CPU references.
test('kernels match the CPU reference in the browser', async ({ page }) => {
  // Any page of the dev server will do: the checks import their own modules.
  await page.goto('/');
  const results = await page.evaluate(async (root) => {
    const mod = await import(/* @vite-ignore */ `/@fs${root}/test/e2e/browser-kernels.ts`);
    return (mod as typeof import('./browser-kernels')).runKernelChecks();
  }, process.cwd());
  expect(results.length).toBeGreaterThan(0);
  for (const r of results) expect(r.error, `${r.name}: ${r.error}`).toBeLessThan(r.tolerance);
});
