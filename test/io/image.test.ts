import { readFile } from 'node:fs/promises';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { contactSheet, decodeImage, encodePng, imageToNchw, nchwToImage, pngText, type RgbaImage } from '../../src/io/image';

const FIXTURE = 'node_modules/@upscalerjs/esrgan-slim/assets/fixture.png';

function gradient(width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([i % 256, (i * 7) % 256, (i * 13) % 256, 255], i * 4);
  return { width, height, data };
}

describe('images', () => {
  it('PNG encode/decode round-trips pixels and text chunks', () => {
    const img = gradient(13, 7);
    const bytes = encodePng(img, { Software: 'synthe', seed: '42' });
    expect(decodeImage(bytes)).toEqual(img);
    expect(pngText(bytes)).toMatchObject({ Software: 'synthe', seed: '42' });
  });

  it('decodes a real PNG fixture', async () => {
    const img = decodeImage(new Uint8Array(await readFile(FIXTURE)), 'fixture.png');
    expect(img.width).toBeGreaterThan(0);
    expect(img.data.length).toBe(img.width * img.height * 4);
  });

  it('decodes JPEG', () => {
    const img = gradient(16, 8);
    const encoded = jpeg.encode({ width: 16, height: 8, data: img.data }, 100);
    const back = decodeImage(new Uint8Array(encoded.data));
    expect([back.width, back.height]).toEqual([16, 8]);
    let worst = 0;
    for (let i = 0; i < img.data.length; i++) worst = Math.max(worst, Math.abs(img.data[i]! - back.data[i]!));
    expect(worst).toBeLessThan(40); // lossy, but the same picture
  });

  it('refuses garbage, truncated and oversized images with a clear message', () => {
    expect(() => decodeImage(new Uint8Array([1, 2, 3]), 'x.bin')).toThrow(/x\.bin is neither a PNG nor a JPEG/);
    const png = encodePng(gradient(4, 4));
    expect(() => decodeImage(png.subarray(0, 40), 'cut.png')).toThrow(/cut\.png is not a valid PNG/);
    expect(() => decodeImage(encodePng(gradient(64, 64)), 'big.png', 1000)).toThrow(/big\.png is 64×64 .* larger than/);
  });

  it('converts to NCHW floats and back in every range', () => {
    const img = gradient(5, 3);
    for (const range of ['0-1', '0-255', '-1-1'] as const) {
      const data = imageToNchw(img, range);
      expect(data.length).toBe(3 * 15);
      expect(nchwToImage(data, 3, 3, 5, range)).toEqual(img);
    }
    expect(imageToNchw(img, '-1-1')[0]).toBe(-1);
  });

  it('lays out contact sheets', () => {
    const sheet = contactSheet([gradient(4, 4), gradient(4, 4), gradient(4, 4)], 2, 1);
    expect([sheet.width, sheet.height]).toEqual([2 * 4 + 3, 2 * 4 + 3]);
  });
});
