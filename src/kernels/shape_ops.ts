/**
 * Data movement: permute/transpose, concat, narrow/slice/chunk and the pixel shuffles. Every one of them is a
 * strided copy (shaders/strided_copy.wgsl) from a view of the input into a view of the output. Reshapes are
 * free, so a pixel shuffle is a permute of a 6-D view of its input. Before dispatching, dims that are
 * contiguous in both views are merged; a copy that merges into one contiguous run is a copyBufferToBuffer.
 */
import stridedCopyCode from '../../shaders/strided_copy.wgsl?raw';
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import { bytesPerElement } from '../tensor/dtype';
import { contiguousStrides, formatShape, normalizeDim, numel } from '../tensor/shape';
import { Tensor } from '../tensor/tensor';
import { expectSameEngine, linearWorkgroups, output } from './common';

const STRIDED_COPY = shader('strided_copy.wgsl', stridedCopyCode);

/** Rank the kernel indexes (after merging contiguous dims). */
const MAX_RANK = 8;
/** Row elements each invocation of strided_copy.wgsl copies. */
const PER_THREAD = 64;

/** A strided view of a tensor's storage, in elements. */
interface View {
  shape: number[];
  strides: number[];
  offset: number;
}

function contiguousView(shape: readonly number[], offset = 0): View {
  return { shape: [...shape], strides: contiguousStrides(shape), offset };
}

/** The contiguous tensor of `shape` seen with its dims reordered: view dim i is dim `dims[i]`. */
function permutedView(shape: readonly number[], dims: readonly number[]): View {
  const strides = contiguousStrides(shape);
  return { shape: dims.map((d) => shape[d]!), strides: dims.map((d) => strides[d]!), offset: 0 };
}

/** The copy kernel moves 32-bit words: f32 and i32 tensors; f16 has no data-movement kernel yet. */
function expectWords(op: string, name: string, t: Tensor): void {
  if (bytesPerElement(t.dtype) !== 4) throw new ShapeError(`${op}: ${name} is ${t.dtype}; only f32 and i32 tensors are supported`);
}

/** A copy's dims in iteration order: the shape and the source and destination strides of each dim. */
interface CopyDims {
  shape: number[];
  a: number[];
  b: number[];
}

/**
 * Orders the dims by decreasing stride of one side (`a` or `b`: that side's memory order), drops size-1
 * dims, and merges each dim into the next inner one when both sides step over it contiguously, so e.g. a
 * concat along dim 1 of NCHW tensors becomes a 2-D copy (N, C·H·W).
 */
function mergeDims(dims: CopyDims, by: 'a' | 'b'): CopyDims {
  const order = dims.shape.map((_, i) => i).filter((i) => dims.shape[i] !== 1);
  order.sort((i, j) => dims[by][j]! - dims[by][i]!);
  const m: CopyDims = { shape: [], a: [], b: [] }; // innermost first while building
  for (const i of order.reverse()) {
    const last = m.shape.length - 1;
    if (last >= 0 && dims.a[i] === m.a[last]! * m.shape[last]! && dims.b[i] === m.b[last]! * m.shape[last]!) {
      m.shape[last]! *= dims.shape[i]!;
      continue;
    }
    m.shape.push(dims.shape[i]!);
    m.a.push(dims.a[i]!);
    m.b.push(dims.b[i]!);
  }
  if (m.shape.length === 0) return { shape: [1], a: [1], b: [1] };
  return { shape: m.shape.reverse(), a: m.a.reverse(), b: m.b.reverse() };
}

/** Copies view `from` of `src` into view `to` of `dst` (same shape). */
function copyView(rt: Runtime, op: string, src: Tensor, from: View, dst: Tensor, to: View): void {
  const n = numel(from.shape);
  if (n === 0) return;
  const dims = { shape: from.shape, a: from.strides, b: to.strides };
  // Rows (the innermost dim) should be long. Walk in destination order, so writes are contiguous, unless
  // that makes rows short and source order makes them longer (pixel shuffles, NCHW -> NHWC with 3 channels).
  const byDst = mergeDims(dims, 'b');
  const bySrc = mergeDims(dims, 'a');
  const m = byDst.shape.at(-1)! >= PER_THREAD || byDst.shape.at(-1)! >= bySrc.shape.at(-1)! ? byDst : bySrc;
  if (m.shape.length === 1 && m.a[0] === 1 && m.b[0] === 1) {
    const bytes = bytesPerElement(src.dtype);
    rt.copy(src.buffer, from.offset * bytes, dst.buffer, to.offset * bytes, n * bytes);
    return;
  }
  if (m.shape.length > MAX_RANK) {
    throw new ShapeError(`${op}: the copy of ${formatShape(from.shape)} needs ${m.shape.length} strided dims; at most ${MAX_RANK} are supported`);
  }
  const rowBlocks = Math.ceil(m.shape.at(-1)! / PER_THREAD);
  const rows = n / m.shape.at(-1)!;
  const pad = (v: number[]) => [...v, ...new Array<number>(MAX_RANK - v.length).fill(0)];
  rt.dispatch({
    shader: STRIDED_COPY,
    overrides: { RANK: m.shape.length, PER_THREAD },
    uniforms: {
      rows,
      row_blocks: rowBlocks,
      src_offset: from.offset,
      dst_offset: to.offset,
      shape: pad(m.shape),
      src_strides: pad(m.a),
      dst_strides: pad(m.b),
    },
    bindings: { src: src.buffer, dst: dst.buffer },
    workgroups: linearWorkgroups(rows * rowBlocks, 1),
    label: op,
  });
}

/** Copies a view of `input` into a new contiguous tensor of `shape` (same element count as the view). */
function gather(rt: Runtime, op: string, input: Tensor, from: View, shape: readonly number[]): Tensor {
  const out = output(rt, shape, input.dtype);
  copyView(rt, op, input, from, out, contiguousView(from.shape));
  return out;
}

function checkInput(rt: Runtime, op: string, input: Tensor): void {
  expectSameEngine(rt, op, input);
  expectWords(op, 'input', input);
}

/** `torch.permute(input, dims)` as a contiguous copy: out.shape[i] = input.shape[dims[i]]. */
export function permute(rt: Runtime, input: Tensor, dims: readonly number[]): Tensor {
  checkInput(rt, 'permute', input);
  if (dims.length !== input.rank) {
    throw new ShapeError(`permute: dims ${formatShape(dims)} must list each of the ${input.rank} dims of input ${formatShape(input.shape)}`);
  }
  const resolved = dims.map((d) => normalizeDim(d, input.rank, 'permute'));
  if (new Set(resolved).size !== resolved.length) {
    throw new ShapeError(`permute: dims ${formatShape(dims)} repeat a dim (input ${formatShape(input.shape)})`);
  }
  const view = permutedView(input.shape, resolved);
  return gather(rt, 'permute', input, view, view.shape);
}

/** `torch.transpose(input, dim0, dim1)` as a contiguous copy. */
export function transpose(rt: Runtime, input: Tensor, dim0: number, dim1: number): Tensor {
  const a = normalizeDim(dim0, input.rank, 'transpose');
  const b = normalizeDim(dim1, input.rank, 'transpose');
  const dims = input.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(rt, input, dims);
}

/**
 * `input[..., start:end:step, ...]` along `dim` (Python slicing: negative indices count from the end,
 * out-of-range bounds are clamped, step is positive), as a contiguous copy.
 */
export function slice(rt: Runtime, input: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  checkInput(rt, 'slice', input);
  const d = normalizeDim(dim, input.rank, 'slice');
  const size = input.shape[d]!;
  if (!Number.isInteger(step) || step <= 0) throw new ShapeError(`slice: step must be a positive integer, got ${step}`);
  const bound = (v: number, what: string) => {
    if (!Number.isInteger(v)) throw new ShapeError(`slice: ${what} must be an integer, got ${v}`);
    return Math.min(Math.max(v < 0 ? v + size : v, 0), size);
  };
  const lo = bound(start, 'start');
  const hi = end === undefined ? size : bound(end, 'end');
  return sliceCopy(rt, 'slice', input, d, lo, Math.max(0, Math.ceil((hi - lo) / step)), step);
}

/** `torch.narrow(input, dim, start, length)` as a contiguous copy; start may be negative. */
export function narrow(rt: Runtime, input: Tensor, dim: number, start: number, length: number): Tensor {
  checkInput(rt, 'narrow', input);
  const d = normalizeDim(dim, input.rank, 'narrow');
  const size = input.shape[d]!;
  const s = start < 0 ? start + size : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > size) {
    throw new ShapeError(`narrow: start ${start} and length ${length} are out of range for dim ${d} (size ${size}) of input ${formatShape(input.shape)}`);
  }
  return sliceCopy(rt, 'narrow', input, d, s, length, 1);
}

/**
 * `torch.chunk(input, chunks, dim)`: pieces of ceil(size / chunks) along `dim`, the last one smaller, so
 * there may be fewer than `chunks` pieces.
 */
export function chunk(rt: Runtime, input: Tensor, chunks: number, dim = 0): Tensor[] {
  checkInput(rt, 'chunk', input);
  if (!Number.isInteger(chunks) || chunks <= 0) throw new ShapeError(`chunk: chunks must be a positive integer, got ${chunks}`);
  const d = normalizeDim(dim, input.rank, 'chunk');
  const size = input.shape[d]!;
  const step = Math.ceil(size / chunks);
  if (step === 0) return Array.from({ length: chunks }, () => sliceCopy(rt, 'chunk', input, d, 0, 0, 1));
  const pieces: Tensor[] = [];
  for (let s = 0; s < size; s += step) pieces.push(sliceCopy(rt, 'chunk', input, d, s, Math.min(step, size - s), 1));
  return pieces;
}

/** `length` elements from `start` every `step` along dim `d`. */
function sliceCopy(rt: Runtime, op: string, input: Tensor, d: number, start: number, length: number, step: number): Tensor {
  const view = contiguousView(input.shape);
  view.offset = start * view.strides[d]!;
  view.shape[d] = length;
  view.strides[d]! *= step;
  return gather(rt, op, input, view, view.shape);
}

/**
 * `torch.cat(tensors, dim)`: all tensors share every dim but `dim` (negative counts from the end). As in
 * torch, 1-D empty tensors (shape [0]) are skipped. The tensors must have one dtype (there is no promotion).
 */
export function concat(rt: Runtime, tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError('concat: expected a non-empty array of tensors');
  const first = tensors[0]!;
  tensors.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new ShapeError(`concat: tensors[${i}] is not a Tensor`);
    if (t.runtime !== rt) throw new ShapeError(`concat: tensors[${i}] ${t.toString()} belongs to another engine`);
    expectWords('concat', `tensors[${i}]`, t);
    if (t.dtype !== first.dtype) throw new ShapeError(`concat: tensors[${i}] is ${t.dtype} but tensors[0] is ${first.dtype}; convert them to one dtype first`);
  });
  const parts = tensors.map((t, i) => ({ t, i })).filter(({ t }) => !(t.rank === 1 && t.shape[0] === 0));
  if (parts.length === 0) return output(rt, [0], first.dtype);
  const base = parts[0]!;
  if (base.t.rank === 0) throw new ShapeError(`concat: tensors[${base.i}] is zero-dimensional and cannot be concatenated`);
  const d = normalizeDim(dim, base.t.rank, 'concat');
  let total = 0;
  for (const { t, i } of parts) {
    if (t.rank !== base.t.rank) {
      throw new ShapeError(`concat: tensors[${i}] ${formatShape(t.shape)} has rank ${t.rank} but tensors[${base.i}] ${formatShape(base.t.shape)} has rank ${base.t.rank}`);
    }
    const bad = t.shape.findIndex((s, k) => k !== d && s !== base.t.shape[k]);
    if (bad !== -1) {
      throw new ShapeError(
        `concat: sizes must match except in dim ${d}, but tensors[${i}] ${formatShape(t.shape)} differs from tensors[${base.i}] ${formatShape(base.t.shape)} in dim ${bad}`,
      );
    }
    total += t.shape[d]!;
  }
  const shape = [...base.t.shape];
  shape[d] = total;
  const out = output(rt, shape, first.dtype);
  const outStrides = contiguousStrides(shape);
  let at = 0;
  for (const { t } of parts) {
    copyView(rt, 'concat', t, contiguousView(t.shape), out, { shape: [...t.shape], strides: outStrides, offset: at * outStrides[d]! });
    at += t.shape[d]!;
  }
  return out;
}

function expectFactor(op: string, name: string, factor: number, input: Tensor): void {
  if (!Number.isInteger(factor) || factor <= 0) {
    throw new ShapeError(`${op}: ${name} must be a positive integer, got ${factor} (input ${formatShape(input.shape)})`);
  }
}

/** Splits a (*, C, H, W) shape into the flattened batch and the last three dims. */
function imageDims(op: string, input: Tensor): [number, number, number, number] {
  if (input.rank < 3) throw new ShapeError(`${op}: input must have at least 3 dims (*, C, H, W), got ${formatShape(input.shape)}`);
  const [c, h, w] = input.shape.slice(-3) as [number, number, number];
  return [numel(input.shape.slice(0, -3)), c, h, w];
}

/**
 * `F.pixel_shuffle(input, r)`: (*, C·r², H, W) -> (*, C, H·r, W·r) with
 * out[…, c, h·r+i, w·r+j] = in[…, c·r² + i·r + j, h, w].
 */
export function pixelShuffle(rt: Runtime, input: Tensor, upscaleFactor: number): Tensor {
  checkInput(rt, 'pixelShuffle', input);
  expectFactor('pixelShuffle', 'upscaleFactor', upscaleFactor, input);
  const r = upscaleFactor;
  const [b, cin, h, w] = imageDims('pixelShuffle', input);
  if (cin % (r * r) !== 0) throw new ShapeError(`pixelShuffle: channels ${cin} of input ${formatShape(input.shape)} are not divisible by upscaleFactor² = ${r * r}`);
  const c = cin / (r * r);
  // (B, C, r, r, H, W) -> (B, C, H, r, W, r)
  const view = permutedView([b, c, r, r, h, w], [0, 1, 4, 2, 5, 3]);
  return gather(rt, 'pixelShuffle', input, view, [...input.shape.slice(0, -3), c, h * r, w * r]);
}

/**
 * `F.pixel_unshuffle(input, r)`: (*, C, H·r, W·r) -> (*, C·r², H, W), the inverse of pixelShuffle.
 */
export function pixelUnshuffle(rt: Runtime, input: Tensor, downscaleFactor: number): Tensor {
  checkInput(rt, 'pixelUnshuffle', input);
  expectFactor('pixelUnshuffle', 'downscaleFactor', downscaleFactor, input);
  const r = downscaleFactor;
  const [b, c, hin, win] = imageDims('pixelUnshuffle', input);
  if (hin % r !== 0 || win % r !== 0) {
    throw new ShapeError(`pixelUnshuffle: spatial size ${hin}x${win} of input ${formatShape(input.shape)} is not divisible by downscaleFactor ${r}`);
  }
  const h = hin / r;
  const w = win / r;
  // (B, C, H, r, W, r) -> (B, C, r, r, H, W)
  const view = permutedView([b, c, h, r, w, r], [0, 1, 3, 5, 2, 4]);
  return gather(rt, 'pixelUnshuffle', input, view, [...input.shape.slice(0, -3), c * r * r, h, w]);
}

/**
 * TensorFlow's `depth_to_space` channel order on an NCHW tensor (what TF.js models such as ESRGAN's
 * PixelShuffle layer compute): (N, C·b², H, W) -> (N, C, H·b, W·b) with
 * out[n, c, h·b+i, w·b+j] = in[n, (i·b + j)·C + c, h, w]. Differs from pixelShuffle's c·b² + i·b + j.
 */
export function depthToSpace(rt: Runtime, input: Tensor, blockSize: number): Tensor {
  checkInput(rt, 'depthToSpace', input);
  if (input.rank !== 4) throw new ShapeError(`depthToSpace: input must be 4-D (N, C, H, W), got ${formatShape(input.shape)}`);
  expectFactor('depthToSpace', 'blockSize', blockSize, input);
  const bs = blockSize;
  const [n, cin, h, w] = input.shape as [number, number, number, number];
  if (cin % (bs * bs) !== 0) throw new ShapeError(`depthToSpace: channels ${cin} of input ${formatShape(input.shape)} are not divisible by blockSize² = ${bs * bs}`);
  const c = cin / (bs * bs);
  // (N, b, b, C, H, W) -> (N, C, H, b, W, b)
  const view = permutedView([n, bs, bs, c, h, w], [0, 3, 4, 1, 5, 2]);
  return gather(rt, 'depthToSpace', input, view, [n, c, h * bs, w * bs]);
}
