import { readFile } from 'node:fs/promises';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { decodeImage, encodePng, pngText } from '../../src/io/image';

// The demo page driven as a user would, in Chromium's WebGPU (SwiftShader here): every model kind generates
// into the viewer, downloads carry their parameters, cancel stops between steps, errors show and the page
// recovers, and browsers without WebGPU get a message instead of a blank page. Batches stay small: SwiftShader
// runs the kernels on the CPU.

/** What the result canvas holds. */
interface CanvasStats {
  width: number;
  height: number;
  /** Distinct gray levels (red channel) and the share of bright pixels: blank canvases have one level. */
  levels: number;
  bright: number;
}

async function resultStats(page: Page): Promise<CanvasStats> {
  return page.evaluate(() => {
    const canvas = document.getElementById('result') as HTMLCanvasElement;
    const { width, height } = canvas;
    const data = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
    const levels = new Set<number>();
    let bright = 0;
    for (let i = 0; i < data.length; i += 4) {
      levels.add(data[i]!);
      if (data[i]! > 128) bright += 1;
    }
    return { width, height, levels: levels.size, bright: bright / (width * height) };
  });
}

/** The red channel of the sheet's first image (`size` pixels square, after the 2-pixel gap). */
async function firstImage(page: Page, size: number): Promise<number[]> {
  return page.evaluate((size) => {
    const canvas = document.getElementById('result') as HTMLCanvasElement;
    const data = canvas.getContext('2d')!.getImageData(2, 2, size, size).data;
    return Array.from(data.filter((_, i) => i % 4 === 0));
  }, size);
}

/** Side of a contact sheet of `n` images of `size` pixels, `columns` wide, with the 2-pixel gaps. */
function sheet(n: number, columns: number, size: number): { width: number; height: number } {
  const rows = Math.ceil(n / columns);
  return { width: columns * size + (columns + 1) * 2, height: rows * size + (rows + 1) * 2 };
}

async function openDemo(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.locator('#adapter')).toContainText('WebGPU on');
}

/** Picks a model and waits until its weights are on the GPU. */
async function pickModel(page: Page, id: string): Promise<void> {
  await page.selectOption('#model', id);
  await expect(page.locator('#weights-status')).toContainText('on the GPU', { timeout: 60_000 });
}

async function waitForRun(page: Page, outcome: 'done' | 'cancelled' = 'done'): Promise<void> {
  await expect(page.locator('#run-label')).toContainText(new RegExp(`: (${outcome}|failed)$`), { timeout: 90_000 });
  await expect(page.locator('#errors')).toBeEmpty();
  await expect(page.locator('#run-label')).toContainText(`: ${outcome}`);
}

/** A full-page screenshot kept as an artifact in the test's folder under test-results/. */
async function keepScreenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
}

/** Clicks Download and returns the PNG's size and text chunks. */
async function download(page: Page): Promise<{ width: number; height: number; text: Record<string, string>; name: string }> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const bytes = new Uint8Array(await readFile((await file.path())!));
  const image = decodeImage(bytes, file.suggestedFilename());
  return { width: image.width, height: image.height, text: pngText(bytes), name: file.suggestedFilename() };
}

async function published(page: Page, path: string): Promise<boolean> {
  const manifest = (await (await page.request.get('/weights/manifest.json')).json()) as { files: { path: string }[] };
  return manifest.files.some((f) => f.path === path);
}

test('DCGAN: a seeded batch, a slerp strip, a PNG with its parameters, and cached weights on reload', async ({ page }, testInfo) => {
  await openDemo(page);
  await expect(page.locator('#model')).toHaveValue('dcgan-mnist');
  await expect(page.locator('#weights-status')).toContainText('downloaded', { timeout: 60_000 });

  await page.fill('#gan-seed', '42');
  await page.fill('#gan-batch', '4');
  await page.click('#gan-generate');
  await waitForRun(page);
  const batch = await resultStats(page);
  expect({ width: batch.width, height: batch.height }).toEqual(sheet(4, 2, 28));
  expect(batch.levels).toBeGreaterThan(20);
  expect(batch.bright).toBeGreaterThan(0.03);
  expect(batch.bright).toBeLessThan(0.6);
  await expect(page.locator('#timing-summary')).toContainText('Time to first result');
  await keepScreenshot(page, testInfo, 'dcgan-batch');

  const png = await download(page);
  expect({ width: png.width, height: png.height }).toEqual(sheet(4, 2, 28));
  expect(png.name).toBe('synthe-dcgan-mnist-seed42.png');
  expect(png.text.Comment).toBe('AI-generated by synthe');
  expect(png.text.Software).toBe('synthe');
  expect(JSON.parse(png.text.Parameters!)).toEqual({ model: 'dcgan-mnist', seed: 42, batch: 4 });

  // The same seed gives the same digits.
  const before = await page.evaluate(() => (document.getElementById('result') as HTMLCanvasElement).toDataURL());
  await page.click('#gan-generate');
  await waitForRun(page);
  expect(await page.evaluate(() => (document.getElementById('result') as HTMLCanvasElement).toDataURL())).toBe(before);

  const seedDigit = await firstImage(page, 28);
  await page.fill('#gan-seed-to', '7');
  await page.fill('#gan-frames', '5');
  await page.click('#gan-interpolate');
  await waitForRun(page);
  const strip = await resultStats(page);
  expect({ width: strip.width, height: strip.height }).toEqual(sheet(5, 5, 28));
  expect(strip.levels).toBeGreaterThan(20);
  // The strip starts at seed 42's latent: the first digit of the batch made with that seed (batches of other
  // sizes may run other kernel variants, hence one level of rounding).
  const stripStart = await firstImage(page, 28);
  expect(Math.max(...stripStart.map((v, i) => Math.abs(v - seedDigit[i]!)))).toBeLessThanOrEqual(1);
  await keepScreenshot(page, testInfo, 'dcgan-interpolation');

  // The viewer answers the keyboard: zoom in, then fit again.
  await page.focus('#viewer');
  const fitted = await page.locator('#zoom-level').textContent();
  await page.keyboard.press('+');
  await expect(page.locator('#zoom-level')).not.toHaveText(fitted!);
  await page.keyboard.press('0');
  await expect(page.locator('#zoom-level')).toHaveText(fitted!);

  await page.reload();
  await expect(page.locator('#weights-status')).toContainText('from the browser cache', { timeout: 60_000 });
});

test('ESRGAN slim ×2 upscales a user image in tiles, with a before/after split; a bad file is reported', async ({ page }, testInfo) => {
  await openDemo(page);
  await pickModel(page, 'esrgan-slim-x2');

  await page.setInputFiles('#upscale-file', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not an image at all') });
  await expect(page.locator('#errors')).toContainText('neither a PNG nor a JPEG');
  await expect(page.locator('#upscale-run')).toBeDisabled();

  // 40×24 with structure in every channel, so a blank or channel-swapped output would show.
  const width = 40;
  const height = 24;
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data.set([(x * 255) / width, (y * 255) / height, (x + y) % 8 < 4 ? 230 : 20, 255], i);
    }
  }
  await page.setInputFiles('#upscale-file', { name: 'pattern.png', mimeType: 'image/png', buffer: Buffer.from(encodePng({ width, height, data })) });
  await expect(page.locator('#upscale-file-info')).toHaveText('pattern.png: 40×24');
  await page.selectOption('#upscale-tile', '32');
  await page.click('#upscale-run');
  await waitForRun(page);
  const out = await resultStats(page);
  expect({ width: out.width, height: out.height }).toEqual({ width: 80, height: 48 });
  expect(out.levels).toBeGreaterThan(40);
  await expect(page.locator('#timing-summary')).toContainText('Per tile');
  await expect(page.locator('#timing-summary')).toContainText('mean over 2');
  await expect(page.locator('#compare-row')).toBeVisible();
  await page.fill('#compare', '30');
  await expect(page.locator('#result')).toHaveCSS('clip-path', 'inset(0px 0px 0px 30%)');
  await keepScreenshot(page, testInfo, 'esrgan-slim-x2');

  const png = await download(page);
  expect({ width: png.width, height: png.height }).toEqual({ width: 80, height: 48 });
  expect(JSON.parse(png.text.Parameters!)).toMatchObject({ model: 'esrgan-slim-x2', scale: 2, input: '40x24', tile: 32 });
});

test('ESRGAN slim ×4 upscales the sample image', async ({ page }, testInfo) => {
  await openDemo(page);
  await pickModel(page, 'esrgan-slim-x4');
  await page.click('#upscale-sample');
  await expect(page.locator('#upscale-file-info')).toHaveText('sample.png: 128×128');
  await page.click('#upscale-run');
  await waitForRun(page);
  const out = await resultStats(page);
  expect({ width: out.width, height: out.height }).toEqual({ width: 512, height: 512 });
  expect(out.levels).toBeGreaterThan(100);
  await keepScreenshot(page, testInfo, 'esrgan-slim-x4');
});

/**
 * Publishes the tiny random-weight diffusers UNet the diffusion tests use (weights/diffusion/tiny/unet2d: 3
 * channels, 16×16, 5 class embeddings) as the page's diffusion model, so the panel is tested whether or not
 * the trained digits model is in this checkout.
 */
async function serveTinyDiffusion(page: Page): Promise<void> {
  const tiny = new URL('../../weights/diffusion/tiny/unet2d/', import.meta.url);
  const files: Record<string, Buffer> = {
    'weights/ddpm-mnist/config.json': await readFile(new URL('config.json', tiny)),
    'weights/ddpm-mnist/diffusion_pytorch_model.safetensors': await readFile(new URL('diffusion_pytorch_model.safetensors', tiny)),
    'weights/ddpm-mnist/scheduler_config.json': Buffer.from(JSON.stringify({ _class_name: 'DDPMScheduler', num_train_timesteps: 1000 })),
  };
  await page.route('**/weights/manifest.json', async (route) => {
    const manifest = (await (await route.fetch()).json()) as { files: { path: string }[] };
    manifest.files = manifest.files.filter((f) => !f.path.startsWith('weights/ddpm-mnist/'));
    for (const [path, bytes] of Object.entries(files)) manifest.files.push({ path, bytes: bytes.length, version: 'tiny' } as { path: string });
    await route.fulfill({ json: manifest });
  });
  await page.route('**/weights/ddpm-mnist/**', (route) => route.fulfill({ body: files[new URL(route.request().url()).pathname.slice(1)]! }));
}

test('diffusion: a progress step and a live preview per denoising step, parameters in the PNG, cancel between steps', async ({ page }, testInfo) => {
  await serveTinyDiffusion(page);
  await openDemo(page);
  await pickModel(page, 'ddpm-mnist');
  await page.selectOption('#diffusion-class', '2');
  await page.fill('#diffusion-steps', '4');
  await page.selectOption('#diffusion-scheduler', 'DDIMScheduler');
  await page.fill('#diffusion-guidance', '2.5');
  await page.fill('#diffusion-count', '4');
  await page.fill('#diffusion-seed', '3');
  // Every drawing of the result canvas sets its width: 4 previews, then the final images.
  await page.evaluate(() => {
    const canvas = document.getElementById('result')!;
    const draws = { count: 0 };
    (window as unknown as { draws: typeof draws }).draws = draws;
    new MutationObserver((records) => (draws.count += records.filter((r) => r.attributeName === 'width').length)).observe(canvas, { attributes: true });
  });
  await page.click('#diffusion-generate');
  await waitForRun(page);
  expect(await page.evaluate(() => (window as unknown as { draws: { count: number } }).draws.count)).toBe(5);
  const out = await resultStats(page);
  expect({ width: out.width, height: out.height }).toEqual(sheet(4, 2, 16));
  expect(out.levels).toBeGreaterThan(50);
  await expect(page.locator('#timing-summary')).toContainText('Per denoising step');
  await expect(page.locator('#timing-summary')).toContainText('mean over 4');
  await keepScreenshot(page, testInfo, 'diffusion-tiny');
  const png = await download(page);
  expect(JSON.parse(png.text.Parameters!)).toEqual({ model: 'ddpm-mnist', class: 2, steps: 4, scheduler: 'DDIMScheduler', guidance: 2.5, seed: 3, count: 4 });

  await page.fill('#diffusion-steps', '500');
  await page.click('#diffusion-generate');
  await expect(page.locator('#run-label')).toContainText(/Denoising step [2-9] of 500/, { timeout: 60_000 });
  await page.click('#cancel');
  await waitForRun(page, 'cancelled');
  await expect(page.locator('#timing-title')).toContainText('(cancelled)');
  const steps = Number(/mean over (\d+)/.exec((await page.locator('#timing-summary').textContent())!)?.[1]);
  expect(steps).toBeGreaterThanOrEqual(2);
  expect(steps).toBeLessThan(20);
});

test('diffusion: the trained digits model draws the digit asked for', async ({ page }, testInfo) => {
  await openDemo(page);
  test.skip(!(await published(page, 'weights/ddpm-mnist/diffusion_pytorch_model.safetensors')), 'weights/ddpm-mnist is not in this checkout');
  await pickModel(page, 'ddpm-mnist');
  await page.selectOption('#diffusion-class', '7');
  await page.fill('#diffusion-steps', '4');
  await page.selectOption('#diffusion-scheduler', 'DDIMScheduler');
  await page.fill('#diffusion-count', '1');
  await page.fill('#diffusion-seed', '3');
  await page.click('#diffusion-generate');
  await waitForRun(page);
  const out = await resultStats(page);
  expect(out.width).toBe(out.height);
  expect(out.width).toBeGreaterThanOrEqual(28 + 4);
  expect(out.levels).toBeGreaterThan(10);
  expect(out.bright).toBeGreaterThan(0.02);
  await keepScreenshot(page, testInfo, 'diffusion-ddpm-mnist');
  const png = await download(page);
  expect(JSON.parse(png.text.Parameters!)).toMatchObject({ model: 'ddpm-mnist', class: 7, steps: 4, scheduler: 'DDIMScheduler', seed: 3 });
});

test('without WebGPU, or without an adapter, or with too small limits, the page says what is missing', async ({ page }, testInfo) => {
  await page.addInitScript(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
  await page.goto('/');
  await expect(page.locator('#unsupported')).toBeVisible();
  await expect(page.locator('#unsupported')).toContainText('This browser has no WebGPU');
  await expect(page.locator('#unsupported')).toContainText(/Chrome/);
  await keepScreenshot(page, testInfo, 'no-webgpu');

  const noAdapter = await page.context().newPage();
  await noAdapter.addInitScript(() => (GPU.prototype.requestAdapter = async () => null));
  await noAdapter.goto('/');
  await expect(noAdapter.locator('#unsupported')).toContainText('found no GPU adapter');

  const smallLimits = await page.context().newPage();
  await smallLimits.addInitScript(() => {
    const request = GPU.prototype.requestAdapter;
    GPU.prototype.requestAdapter = async function (this: GPU, options?: GPURequestAdapterOptions) {
      const adapter = await request.call(this, options);
      if (!adapter) return adapter;
      // A compatibility-mode adapter's workgroup limit.
      const limits = new Proxy(adapter.limits, { get: (t, k) => (k === 'maxComputeInvocationsPerWorkgroup' ? 128 : Reflect.get(t, k)) });
      Object.defineProperty(adapter, 'limits', { value: limits });
      return adapter;
    };
  });
  await smallLimits.goto('/');
  await expect(smallLimits.locator('#unsupported')).toContainText('maxComputeInvocationsPerWorkgroup is 128, 256 needed');
});

test('weights that fail to download are reported, and the next run loads them', async ({ page }) => {
  const weights = '**/weights/dcgan-mnist.safetensors?*';
  await page.route(weights, (route) => route.abort('connectionreset'));
  await openDemo(page);
  await expect(page.locator('#errors')).toContainText('downloading weights/dcgan-mnist.safetensors failed');
  await expect(page.locator('#run-label')).toContainText('failed');
  await page.unroute(weights);
  await page.fill('#gan-batch', '1');
  await page.click('#gan-generate');
  await waitForRun(page);
  expect((await resultStats(page)).width).toBe(sheet(1, 1, 28).width);
});

test('a lost GPU device is reported and the page recovers with a new one', async ({ page }) => {
  // Keep the devices the page creates, to lose one on purpose.
  await page.addInitScript(() => {
    const devices: GPUDevice[] = [];
    (window as unknown as { testDevices: GPUDevice[] }).testDevices = devices;
    const request = GPUAdapter.prototype.requestDevice;
    GPUAdapter.prototype.requestDevice = async function (this: GPUAdapter, descriptor?: GPUDeviceDescriptor) {
      const device = await request.call(this, descriptor);
      devices.push(device);
      return device;
    };
  });
  await openDemo(page);
  await expect(page.locator('#weights-status')).toContainText('on the GPU', { timeout: 60_000 });
  await page.evaluate(() => (window as unknown as { testDevices: GPUDevice[] }).testDevices.at(-1)!.destroy());
  await expect(page.locator('#errors')).toContainText('The GPU device was lost');
  await expect(page.locator('#errors')).toContainText('the page has recovered');
  await page.fill('#gan-batch', '2');
  await page.click('#gan-generate');
  await expect(page.locator('#run-label')).toContainText(/: (done|failed)$/, { timeout: 60_000 });
  await expect(page.locator('#run-label')).toContainText(': done');
  expect((await resultStats(page)).width).toBe(sheet(2, 2, 28).width);
  await expect(page.locator('#weights-status')).toContainText('from the browser cache');
});

// A WebGPU canvas is presented by the compositor; headless Chromium's default one (ANGLE on GL) cannot take
// Dawn's Vulkan (SwiftShader) images, and the device's instance is lost at the first present. This test's own
// browser composites on SwiftShader's Vulkan, with ANGLE on SwiftShader, so the canvas shows up.
const CANVAS_FLAGS = ['--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader'];

test('embedding: a host app draws the digit synthe wrote into its texture', async ({ playwright, launchOptions, baseURL }, testInfo) => {
  const browser = await playwright.chromium.launch({ ...launchOptions, args: [...(launchOptions.args ?? []), ...CANVAS_FLAGS] });
  try {
    const page = await browser.newPage({ baseURL: baseURL! });
    await page.goto('/embed.html');
    await expect(page.locator('#scene')).toHaveAttribute('data-frames', '1', { timeout: 60_000 });
    await expect(page.locator('#embed-status')).toContainText('drawn by the app');
    await keepScreenshot(page, testInfo, 'embed-page');
    const image = decodeImage(new Uint8Array(await page.locator('#scene').screenshot()), 'screenshot');
    // The host's paper-coloured quad, and ink where the digit's strokes are.
    let paper = 0;
    let ink = 0;
    for (let i = 0; i < image.data.length; i += 4) {
      const [r, g, b] = image.data.subarray(i, i + 3);
      if (r! > 230 && g! > 220 && b! > 200) paper += 1;
      if (r! > 150 && g! < 110 && b! < 90) ink += 1;
    }
    const pixels = image.width * image.height;
    expect(paper / pixels).toBeGreaterThan(0.2);
    expect(ink / pixels).toBeGreaterThan(0.02);
  } finally {
    await browser.close();
  }
});
