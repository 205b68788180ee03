/**
 * Handing results to a host app without a CPU round trip: an image of a tensor written into the host's
 * storage texture, or a tensor's bytes copied into the host's buffer. Both are encoded in order with the
 * engine's other work; the host sees them after the engine submits (engine.submit()).
 */
import code from '../../shaders/to_image.wgsl?raw';
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import type { PixelRange } from '../io/image';
import type { Tensor } from '../tensor/tensor';
import { expectF32, linearWorkgroups } from './common';

const TO_IMAGE = shader('to_image.wgsl', code);
const TEXTURE_FORMATS = ['rgba8unorm', 'rgba16float'] as const;

/** Options for {@link writeTexture}. */
export interface WriteTextureOptions {
  /** The value range of the tensor's pixels (default '0-1'); it is mapped to [0, 1] and clamped. */
  range?: PixelRange;
  /** Which image of the batch (default 0). */
  batchIndex?: number;
  /** Texel where the image's top-left corner lands (default [0, 0]). */
  origin?: [number, number];
}

const RANGE_TO_UNIT: Record<PixelRange, { scale: number; offset: number }> = {
  '0-1': { scale: 1, offset: 0 },
  '0-255': { scale: 1 / 255, offset: 0 },
  '-1-1': { scale: 0.5, offset: 0.5 },
};

/** Writes image `batchIndex` of an (N, C, H, W) tensor (C = 1, 3 or 4) into a storage-capable texture. */
export function writeTexture(rt: Runtime, image: Tensor, texture: GPUTexture, options: WriteTextureOptions = {}): void {
  expectF32('writeTexture', { name: 'image', tensor: image });
  if (image.rank !== 4) throw new ShapeError(`writeTexture: image must be (N, C, H, W), got ${image.toString()}`);
  const [n, c, h, w] = image.shape as [number, number, number, number];
  if (c !== 1 && c !== 3 && c !== 4) throw new ShapeError(`writeTexture: image must have 1, 3 or 4 channels, got ${c}`);
  const batch = options.batchIndex ?? 0;
  if (!Number.isInteger(batch) || batch < 0 || batch >= n) throw new ShapeError(`writeTexture: batchIndex ${batch} is outside the batch of ${n}`);
  const format = texture.format as (typeof TEXTURE_FORMATS)[number];
  if (!TEXTURE_FORMATS.includes(format)) throw new ShapeError(`writeTexture: texture format ${texture.format} is not supported; use ${TEXTURE_FORMATS.join(' or ')}`);
  if (!(texture.usage & 0x08) /* STORAGE_BINDING */) throw new ShapeError('writeTexture: the texture needs GPUTextureUsage.STORAGE_BINDING');
  const [ox, oy] = options.origin ?? [0, 0];
  if (ox + w > texture.width || oy + h > texture.height) {
    throw new ShapeError(`writeTexture: a ${w}×${h} image at (${ox}, ${oy}) does not fit a ${texture.width}×${texture.height} texture`);
  }
  const { scale, offset } = RANGE_TO_UNIT[options.range ?? '0-1'];
  const binding = format === 'rgba8unorm' ? 'out_rgba8' : 'out_rgba16';
  rt.dispatch({
    shader: TO_IMAGE,
    entry: format === 'rgba8unorm' ? 'write_rgba8' : 'write_rgba16float',
    uniforms: { channels: c, height: h, width: w, batch_offset: batch * c * h * w, scale, offset, origin: [ox, oy] },
    bindings: { x: image.buffer, [binding]: texture.createView() },
    workgroups: linearWorkgroups(h * w, 1),
    label: 'writeTexture',
  });
}

/** Copies a tensor's bytes into a host buffer (which needs COPY_DST) at `byteOffset`. */
export function writeBuffer(rt: Runtime, tensor: Tensor, buffer: GPUBuffer, byteOffset = 0): void {
  if (!(buffer.usage & 0x0008) /* COPY_DST */) throw new ShapeError('writeBuffer: the buffer needs GPUBufferUsage.COPY_DST');
  if (byteOffset % 4 !== 0) throw new ShapeError(`writeBuffer: byteOffset ${byteOffset} must be a multiple of 4`);
  const bytes = Math.ceil(tensor.byteLength / 4) * 4;
  if (byteOffset + bytes > buffer.size) throw new ShapeError(`writeBuffer: ${bytes} bytes at offset ${byteOffset} do not fit a buffer of ${buffer.size} bytes`);
  rt.copy(tensor.buffer, 0, buffer, byteOffset, bytes);
}
