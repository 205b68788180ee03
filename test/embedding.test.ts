import { expect, it } from 'vitest';
import { describeEachDevice } from './devices';

/** Reads an rgba8unorm texture back through a buffer (rows padded to 256 bytes, as copies require). */
async function readTexture(device: GPUDevice, texture: GPUTexture): Promise<Uint8Array> {
  const bytesPerRow = Math.ceil((texture.width * 4) / 256) * 256;
  const buffer = device.createBuffer({ size: bytesPerRow * texture.height, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const encoder = device.createCommandEncoder();
  encoder.copyTextureToBuffer({ texture }, { buffer, bytesPerRow }, [texture.width, texture.height]);
  device.queue.submit([encoder.finish()]);
  await buffer.mapAsync(GPUMapMode.READ);
  const rows = new Uint8Array(buffer.getMappedRange());
  const out = new Uint8Array(texture.width * texture.height * 4);
  for (let y = 0; y < texture.height; y++) out.set(rows.subarray(y * bytesPerRow, y * bytesPerRow + texture.width * 4), y * texture.width * 4);
  buffer.destroy();
  return out;
}

describeEachDevice('embedding in a host app', (engine) => {
  it('writes an image into the host texture, mapping the value range, at an origin', async () => {
    const e = engine();
    const device = e.device;
    const texture = device.createTexture({ size: [5, 4], format: 'rgba8unorm', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_SRC });
    // (N=2, C=3, H=2, W=3) in [-1, 1]; image 1 is written at (2, 1).
    const data = new Float32Array(2 * 3 * 2 * 3);
    for (let i = 0; i < data.length; i++) data[i] = ((i % 7) / 3) - 1;
    const t = e.tensor(data, [2, 3, 2, 3]);
    e.writeTexture(t, texture, { range: '-1-1', batchIndex: 1, origin: [2, 1] });
    e.submit();
    const pixels = await readTexture(device, texture);
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        for (let c = 0; c < 3; c++) {
          const v = data[18 + c * 6 + y * 3 + x]!;
          const expected = Math.round(Math.min(1, Math.max(0, v * 0.5 + 0.5)) * 255);
          expect(Math.abs(pixels[((y + 1) * 5 + x + 2) * 4 + c]! - expected)).toBeLessThanOrEqual(1);
        }
        expect(pixels[((y + 1) * 5 + x + 2) * 4 + 3]).toBe(255);
      }
    }
    expect(Array.from(pixels.subarray(0, 4))).toEqual([0, 0, 0, 0]); // untouched texels stay as they were
    texture.destroy();
  });

  it('rejects textures it cannot write, saying why', () => {
    const e = engine();
    const t = e.tensor(new Float32Array(3 * 4 * 4), [1, 3, 4, 4]);
    const small = e.device.createTexture({ size: [2, 2], format: 'rgba8unorm', usage: GPUTextureUsage.STORAGE_BINDING });
    expect(() => e.writeTexture(t, small)).toThrow(/does not fit a 2×2 texture/);
    const sampled = e.device.createTexture({ size: [4, 4], format: 'rgba8unorm', usage: GPUTextureUsage.TEXTURE_BINDING });
    expect(() => e.writeTexture(t, sampled)).toThrow(/STORAGE_BINDING/);
    expect(() => e.writeTexture(e.tensor([1, 2], [2]), small)).toThrow(/\(N, C, H, W\)/);
  });

  it('writes rgba16float textures', async () => {
    const e = engine();
    const texture = e.device.createTexture({ size: [2, 1], format: 'rgba16float', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_SRC });
    e.writeTexture(e.tensor([0.25, 0.5], [1, 1, 1, 2]), texture);
    e.submit();
    const buffer = e.device.createBuffer({ size: 256, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const enc = e.device.createCommandEncoder();
    enc.copyTextureToBuffer({ texture }, { buffer, bytesPerRow: 256 }, [2, 1]);
    e.device.queue.submit([enc.finish()]);
    await buffer.mapAsync(GPUMapMode.READ);
    const halves = new Uint16Array(buffer.getMappedRange().slice(0, 16));
    // f16 bits: 0.25 = 0x3400, 0.5 = 0x3800, 1.0 = 0x3c00
    expect(Array.from(halves)).toEqual([0x3400, 0x3400, 0x3400, 0x3c00, 0x3800, 0x3800, 0x3800, 0x3c00]);
  });

  it('copies results into a host buffer in order with its own work', async () => {
    const e = engine();
    const host = e.device.createBuffer({ size: 32, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE });
    e.writeBuffer(e.ops.relu(e.tensor([-1, 2, -3, 4], [4])), host, 16);
    e.submit();
    const view = e.wrap(host, [8]);
    expect(Array.from(await view.read()).slice(4)).toEqual([0, 2, 0, 4]);
    expect(() => e.writeBuffer(e.tensor(new Float32Array(16), [16]), host)).toThrow(/do not fit/);
  });
});
