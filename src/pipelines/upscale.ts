/**
 * Upscaling images of any size with a super-resolution model: the image is cut into tiles with a margin of
 * context on every side, each tile runs through the model, and only its centre is kept, so no buffer grows
 * with the image and the seams carry no border artefacts.
 */
import type { Engine } from '../engine';
import { SyntheError } from '../errors';
import { imageToNchw, nchwToImage, type PixelRange, type RgbaImage } from '../io/image';
import type { Model } from '../models/model';

/** Options for {@link upscaleImage}. */
export interface UpscaleOptions {
  /** Tile edge in input pixels, margin excluded. By default the largest that keeps the widest feature map well under the device's binding limit; `Infinity` runs the image whole. */
  tile?: number;
  /** Context pixels around each tile (default 16); more context brings tiles closer to the untiled result. */
  overlap?: number;
  /** Called after each tile with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Checked between tiles; when it returns true the upscale stops with an error. */
  cancelled?: () => boolean;
}

/** What an upscaler model declares in its config. */
interface UpscalerConfig {
  scale: number;
  pixelRange: PixelRange;
}

function upscalerConfig(model: Model): UpscalerConfig {
  const scale = Number(model.config.scale);
  const pixelRange = model.config.pixelRange as PixelRange | undefined;
  if (!model.inputNames.includes('input') || !Number.isInteger(scale) || scale < 1 || !pixelRange) {
    throw new SyntheError(`model '${model.arch}' is not an upscaler (it needs an 'input', an integer scale and a pixel range)`);
  }
  return { scale, pixelRange };
}

/** Upscales an RGBA image (alpha is dropped, output alpha is opaque). */
export async function upscaleImage(engine: Engine, model: Model, image: RgbaImage, options: UpscaleOptions = {}): Promise<RgbaImage> {
  const { scale, pixelRange } = upscalerConfig(model);
  const planes = imageToNchw(image, pixelRange);
  const out = await upscalePlanes(engine, model, planes, image.height, image.width, options);
  return nchwToImage(out, 3, image.height * scale, image.width * scale, pixelRange);
}

/**
 * Upscales (3, H, W) float data in the model's pixel range, tile by tile; returns (3, H·s, W·s).
 * Kept at float precision so tiled and untiled results can be compared exactly.
 */
export async function upscalePlanes(engine: Engine, model: Model, planes: Float32Array, height: number, width: number, options: UpscaleOptions = {}): Promise<Float32Array> {
  const { scale } = upscalerConfig(model);
  if (planes.length !== 3 * height * width) throw new SyntheError(`upscale: data holds ${planes.length} values, 3×${height}×${width} expected`);
  const overlap = Math.max(0, Math.floor(options.overlap ?? 16));
  const tile = Math.max(1, Math.min(options.tile ?? defaultTile(engine, model, scale, overlap), Math.max(width, height)));
  const multiple = inputMultiple(model);
  const outW = width * scale;
  const outH = height * scale;
  const out = new Float32Array(3 * outH * outW);
  const columns = Math.ceil(width / tile);
  const rows = Math.ceil(height / tile);
  let done = 0;
  for (let ty = 0; ty < rows; ty++) {
    for (let tx = 0; tx < columns; tx++) {
      if (options.cancelled?.()) throw new SyntheError('upscale cancelled');
      // The tile's own region, then the region run through the model: the tile plus context, clipped.
      const x0 = tx * tile;
      const y0 = ty * tile;
      const x1 = Math.min(width, x0 + tile);
      const y1 = Math.min(height, y0 + tile);
      const [cx0, cw] = contextWindow(x0, x1, overlap, width, multiple);
      const [cy0, ch] = contextWindow(y0, y1, overlap, height, multiple);
      const result = await runTile(engine, model, crop(planes, height, width, cx0, cy0, cw, ch), ch, cw, scale);
      const rw = cw * scale;
      const rh = ch * scale;
      for (let c = 0; c < 3; c++) {
        for (let y = (y0 - cy0) * scale; y < (y1 - cy0) * scale; y++) {
          const from = c * rh * rw + y * rw;
          out.set(result.subarray(from + (x0 - cx0) * scale, from + (x1 - cx0) * scale), c * outH * outW + (cy0 * scale + y) * outW + x0 * scale);
        }
      }
      done += 1;
      options.onProgress?.(done, rows * columns);
    }
  }
  return out;
}

async function runTile(engine: Engine, model: Model, data: Float32Array, height: number, width: number, scale: number): Promise<Float32Array> {
  // Only an image whose own side is not a multiple gets here with such a tile (see contextWindow): it runs
  // edge-padded, and the padding is cut from the result.
  const multiple = inputMultiple(model);
  const padH = (multiple - (height % multiple)) % multiple;
  const padW = (multiple - (width % multiple)) % multiple;
  if (padH > 0 || padW > 0) {
    const result = await runTile(engine, model, padEdges(data, height, width, padH, padW), height + padH, width + padW, scale);
    return crop(result, (height + padH) * scale, (width + padW) * scale, 0, 0, width * scale, height * scale);
  }
  const input = engine.tensor(data, [1, 3, height, width]);
  try {
    const { output } = model.forward({ input });
    if (!output) throw new SyntheError(`model '${model.arch}' returned no 'output'`);
    try {
      const [, c, h, w] = output.shape as [number, number, number, number];
      if (c !== 3 || h !== height * scale || w !== width * scale) {
        throw new SyntheError(`model '${model.arch}' turned (3, ${height}, ${width}) into (${c}, ${h}, ${w}), not ×${scale} RGB`);
      }
      return await output.read();
    } finally {
      output.dispose();
    }
  } finally {
    input.dispose();
  }
}

/**
 * The largest tile whose widest feature map (the model's `maxChannels`, default 64, at the output
 * resolution) stays under half the device's largest binding.
 */
function defaultTile(engine: Engine, model: Model, scale: number, overlap: number): number {
  const channels = Number(model.config.maxChannels ?? 64);
  const budget = engine.gpu.limits.maxStorageBufferBindingSize / 2;
  const side = Math.floor(Math.sqrt(budget / (channels * 4)) / scale) - 2 * overlap;
  return Math.max(16, Math.min(256, side));
}

/** The (3, h, w) window at (x, y) of (3, H, W) planes. */
function crop(planes: Float32Array, height: number, width: number, x: number, y: number, w: number, h: number): Float32Array {
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) {
    for (let row = 0; row < h; row++) {
      const from = c * height * width + (y + row) * width + x;
      out.set(planes.subarray(from, from + w), c * h * w + row * w);
    }
  }
  return out;
}

/** Models that pixel-unshuffle their input (BasicSR's ×2 and ×1) need sides that are a multiple of the factor. */
function inputMultiple(model: Model): number {
  return Number(model.config.unshuffle ?? 1);
}

/**
 * The span [start, start + size) run through the model for the tile [t0, t1) along one axis of length
 * `length`: the tile plus `overlap` of context, clipped to the image, then grown (or moved back) with more
 * real pixels until its size is a multiple of `multiple`, where the image is long enough.
 */
function contextWindow(t0: number, t1: number, overlap: number, length: number, multiple: number): [number, number] {
  let start = Math.max(0, t0 - overlap);
  const end = Math.min(length, t1 + overlap);
  const size = Math.min(length, Math.ceil((end - start) / multiple) * multiple);
  start = Math.min(start, length - size);
  return [start, size];
}

/** (3, H, W) planes grown to (3, H + padH, W + padW) by repeating the last row and column. */
function padEdges(planes: Float32Array, height: number, width: number, padH: number, padW: number): Float32Array {
  const h = height + padH;
  const w = width + padW;
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      const from = c * height * width + Math.min(y, height - 1) * width;
      const to = c * h * w + y * w;
      out.set(planes.subarray(from, from + width), to);
      out.fill(planes[from + width - 1]!, to + width, to + w);
    }
  }
  return out;
}
