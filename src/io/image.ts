/**
 * Images in and out: PNG (fast-png) and JPEG (jpeg-js) decoding to 8-bit RGBA, conversion to and from NCHW
 * float data in the value range a model expects, PNG encoding with text chunks, and contact sheets.
 * Pure JavaScript, so the same code runs in Node and in browsers.
 */
import { decode as decodePngBytes, encode as encodePngBytes } from 'fast-png';
import jpeg from 'jpeg-js';
import { SyntheError } from '../errors';

/** An 8-bit RGBA image, rows top to bottom. */
export interface RgbaImage {
  width: number;
  height: number;
  /** width × height × 4 bytes. */
  data: Uint8Array;
}

/** The value range of a model's pixels. */
export type PixelRange = '0-1' | '0-255' | '-1-1';

/** Images with more pixels than this are refused before decoding (64 megapixels: 256 MiB of RGBA). */
export const MAX_PIXELS = 64 * 1024 * 1024;

export class ImageError extends SyntheError {
  override name = 'ImageError';
}

/** Decodes PNG or JPEG bytes (recognised by their signature) to RGBA. */
export function decodeImage(bytes: Uint8Array, label = 'image', maxPixels = MAX_PIXELS): RgbaImage {
  if (isPng(bytes)) return decodePng(bytes, label, maxPixels);
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return decodeJpeg(bytes, label, maxPixels);
  throw new ImageError(`${label} is neither a PNG nor a JPEG file`);
}

function isPng(bytes: Uint8Array): boolean {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return signature.every((b, i) => bytes[i] === b);
}

/** Reads width and height from the IHDR chunk so oversized images fail before any allocation. */
function pngSize(bytes: Uint8Array): { width: number; height: number } {
  if (bytes.length < 24) throw new ImageError('PNG file is truncated before its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function checkSize(width: number, height: number, label: string, maxPixels: number): void {
  if (width === 0 || height === 0) throw new ImageError(`${label} is empty (${width}×${height})`);
  if (width * height > maxPixels) {
    throw new ImageError(`${label} is ${width}×${height} (${((width * height) / 1e6).toFixed(1)} MP), larger than the ${(maxPixels / 1e6).toFixed(0)} MP limit`);
  }
}

function decodePng(bytes: Uint8Array, label: string, maxPixels: number): RgbaImage {
  const { width, height } = pngSize(bytes);
  checkSize(width, height, label, maxPixels);
  let png: ReturnType<typeof decodePngBytes>;
  try {
    png = decodePngBytes(bytes);
  } catch (error) {
    throw new ImageError(`${label} is not a valid PNG: ${(error as Error).message}`);
  }
  const channels = png.channels;
  const n = width * height;
  const out = new Uint8Array(n * 4);
  const src = png.data;
  const shift = png.depth === 16 ? 8 : 0;
  const palette = png.palette;
  for (let i = 0; i < n; i++) {
    let r: number, g: number, b: number, a: number;
    if (palette) {
      const entry = palette[src[i]!] ?? [0, 0, 0];
      [r, g, b] = entry as [number, number, number];
      a = (entry as number[])[3] ?? 255;
    } else if (channels >= 3) {
      r = src[i * channels]! >> shift;
      g = src[i * channels + 1]! >> shift;
      b = src[i * channels + 2]! >> shift;
      a = channels === 4 ? src[i * channels + 3]! >> shift : 255;
    } else {
      r = g = b = src[i * channels]! >> shift;
      a = channels === 2 ? src[i * channels + 1]! >> shift : 255;
    }
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = a;
  }
  return { width, height, data: out };
}

function decodeJpeg(bytes: Uint8Array, label: string, maxPixels: number): RgbaImage {
  try {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxPixels / 1e6, maxMemoryUsageInMB: 1024 });
    checkSize(img.width, img.height, label, maxPixels);
    return { width: img.width, height: img.height, data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength) };
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw new ImageError(`${label} is not a valid JPEG: ${(error as Error).message}`);
  }
}

/** Encodes RGBA (or gray, with `channels: 1`) to PNG, with optional tEXt chunks. */
export function encodePng(image: RgbaImage, text?: Record<string, string>): Uint8Array {
  return encodePngBytes({ width: image.width, height: image.height, data: image.data, channels: 4, depth: 8, ...(text ? { text } : {}) });
}

/** Reads the tEXt chunks of a PNG. */
export function pngText(bytes: Uint8Array): Record<string, string> {
  return decodePngBytes(bytes).text;
}

function toUnit(range: PixelRange): { scale: number; offset: number } {
  switch (range) {
    case '0-1':
      return { scale: 1 / 255, offset: 0 };
    case '0-255':
      return { scale: 1, offset: 0 };
    case '-1-1':
      return { scale: 2 / 255, offset: -1 };
    default:
      return range satisfies never;
  }
}

/** RGBA image → (1, 3, H, W) float data in `range`; alpha is dropped. */
export function imageToNchw(image: RgbaImage, range: PixelRange): Float32Array {
  const { scale, offset } = toUnit(range);
  const n = image.width * image.height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[c * n + i] = image.data[i * 4 + c]! * scale + offset;
  }
  return out;
}

/**
 * (C, H, W) float data in `range` → RGBA, rounding to nearest and clamping. C is 1 (gray), 3 or 4.
 */
export function nchwToImage(data: ArrayLike<number>, channels: number, height: number, width: number, range: PixelRange): RgbaImage {
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new ImageError(`cannot make an image of ${channels} channels`);
  if (data.length < channels * height * width) throw new ImageError(`image data holds ${data.length} values, ${channels}×${height}×${width} needed`);
  const { scale, offset } = toUnit(range);
  const n = width * height;
  const out = new Uint8Array(n * 4);
  const toByte = (v: number) => Math.min(255, Math.max(0, Math.round((v - offset) / scale)));
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[i * 4 + c] = toByte(data[(channels === 1 ? 0 : c) * n + i]!);
    out[i * 4 + 3] = channels === 4 ? toByte(data[3 * n + i]!) : 255;
  }
  return { width, height, data: out };
}

/** Lays images of one size out in a grid with `gap` pixels of `background` between them. */
export function contactSheet(images: RgbaImage[], columns: number, gap = 2, background = 0): RgbaImage {
  if (images.length === 0) throw new ImageError('a contact sheet needs at least one image');
  const { width: w, height: h } = images[0]!;
  if (images.some((im) => im.width !== w || im.height !== h)) throw new ImageError('contact sheet images must share one size');
  const cols = Math.max(1, Math.min(columns, images.length));
  const rows = Math.ceil(images.length / cols);
  const width = cols * w + (cols + 1) * gap;
  const height = rows * h + (rows + 1) * gap;
  const data = new Uint8Array(width * height * 4).fill(background);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  images.forEach((im, k) => {
    const x0 = gap + (k % cols) * (w + gap);
    const y0 = gap + Math.floor(k / cols) * (h + gap);
    for (let y = 0; y < h; y++) data.set(im.data.subarray(y * w * 4, (y + 1) * w * 4), ((y0 + y) * width + x0) * 4);
  });
  return { width, height, data };
}
