/** Layout references: reshape, permute, transpose, concat, narrow, chunk, as_strided. Outputs are contiguous copies. */
import { type CpuTensor, checkTensor, normalizeDim, numel, shapeStr, strides } from './tensor';

/**
 * Reads `shape` elements from `x.data` at `offset` with arbitrary element `strides` into a new contiguous
 * tensor (torch.as_strided(x, shape, strides, offset) on x's contiguous storage).
 */
export function asStrided(x: CpuTensor, shape: readonly number[], srcStrides: readonly number[], offset = 0): CpuTensor {
  checkTensor(x, 'asStrided');
  if (srcStrides.length !== shape.length) {
    throw new Error(`asStrided: shape ${shapeStr(shape)} and strides ${shapeStr(srcStrides)} differ in rank`);
  }
  const total = numel(shape);
  const out = new Float32Array(total);
  if (total === 0) return { data: out, shape: [...shape] };
  // Bounds check: the largest reachable offset must lie inside the storage.
  let maxOff = offset;
  let minOff = offset;
  for (let i = 0; i < shape.length; i++) {
    const span = (shape[i]! - 1) * srcStrides[i]!;
    if (span > 0) maxOff += span;
    else minOff += span;
  }
  if (minOff < 0 || maxOff >= x.data.length) {
    throw new Error(`asStrided: view ${shapeStr(shape)} strides ${shapeStr(srcStrides)} offset ${offset} exceeds storage of ${x.data.length} (shape ${shapeStr(x.shape)})`);
  }
  const src = x.data;
  const rank = shape.length;
  if (rank === 0) {
    out[0] = src[offset]!;
    return { data: out, shape: [] };
  }
  const inner = shape[rank - 1]!;
  const innerStride = srcStrides[rank - 1]!;
  const outer = total / inner;
  const idx = new Int32Array(rank);
  let off = offset;
  for (let o = 0; o < outer; o++) {
    let p = off;
    const base = o * inner;
    for (let j = 0; j < inner; j++) {
      out[base + j] = src[p]!;
      p += innerStride;
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      off += srcStrides[d]!;
      if (idx[d]! < shape[d]!) break;
      off -= srcStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return { data: out, shape: [...shape] };
}

/** Same data, new shape; one entry may be −1 and is inferred (torch.reshape). The data array is shared. */
export function reshape(x: CpuTensor, shape: readonly number[]): CpuTensor {
  checkTensor(x, 'reshape');
  const n = x.data.length;
  let infer = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === -1) {
      if (infer >= 0) throw new Error(`reshape: only one dim can be -1, got ${shapeStr(shape)}`);
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new Error(`reshape: invalid target shape ${shapeStr(shape)}`);
    } else known *= d;
  }
  const out = [...shape];
  if (infer >= 0) {
    if (known === 0 || n % known !== 0) throw new Error(`reshape: shape ${shapeStr(shape)} is invalid for input of shape ${shapeStr(x.shape)}`);
    out[infer] = n / known;
  }
  if (numel(out) !== n) throw new Error(`reshape: shape ${shapeStr(shape)} is invalid for input of shape ${shapeStr(x.shape)} (${n} elements)`);
  return { data: x.data, shape: out };
}

/** Reorders dims: out.shape[i] = x.shape[dims[i]] (torch.permute(x, dims)); negative dims allowed. */
export function permute(x: CpuTensor, dims: readonly number[]): CpuTensor {
  checkTensor(x, 'permute');
  const rank = x.shape.length;
  if (dims.length !== rank) throw new Error(`permute: got ${dims.length} dims ${shapeStr(dims)} for shape ${shapeStr(x.shape)}`);
  const nd = dims.map((d) => normalizeDim(d, rank, 'permute', x.shape));
  if (new Set(nd).size !== rank) throw new Error(`permute: dims ${shapeStr(dims)} repeat a dim (shape ${shapeStr(x.shape)})`);
  const st = strides(x.shape);
  return asStrided(
    x,
    nd.map((d) => x.shape[d]!),
    nd.map((d) => st[d]!),
  );
}

/** Swaps two dims (torch.transpose(x, dim0, dim1)). */
export function transpose(x: CpuTensor, dim0: number, dim1: number): CpuTensor {
  checkTensor(x, 'transpose');
  const rank = x.shape.length;
  const perm = Array.from({ length: rank }, (_, i) => i);
  const a = normalizeDim(dim0, rank, 'transpose', x.shape);
  const b = normalizeDim(dim1, rank, 'transpose', x.shape);
  if (rank === 0) return { data: x.data.slice(), shape: [] };
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/**
 * Concatenates along `dim` (torch.cat(tensors, dim)); all other dims must match. As in torch, 1-D empty
 * tensors (shape [0]) are skipped.
 */
export function concat(tensors: readonly CpuTensor[], dim: number): CpuTensor {
  if (tensors.length === 0) throw new Error('concat: expected a non-empty list of tensors');
  tensors.forEach((t, i) => checkTensor(t, `concat tensor ${i}`));
  const parts = tensors.filter((t) => !(t.shape.length === 1 && t.shape[0] === 0));
  if (parts.length === 0) return { data: new Float32Array(0), shape: [0] };
  const ref = parts[0]!.shape;
  const rank = ref.length;
  if (rank === 0) throw new Error('concat: zero-dimensional tensors cannot be concatenated');
  const d = normalizeDim(dim, rank, 'concat', ref);
  let total = 0;
  for (const t of parts) {
    const ok = t.shape.length === rank && t.shape.every((s, i) => i === d || s === ref[i]);
    if (!ok) throw new Error(`concat: shapes ${parts.map((p) => shapeStr(p.shape)).join(', ')} differ outside dim ${d}`);
    total += t.shape[d]!;
  }
  const outShape = [...ref];
  outShape[d] = total;
  const outer = numel(ref.slice(0, d));
  const inner = numel(ref.slice(d + 1));
  const out = new Float32Array(numel(outShape));
  const rowOut = total * inner;
  let col = 0;
  for (const t of parts) {
    const block = t.shape[d]! * inner;
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * block, (o + 1) * block), o * rowOut + col);
    col += block;
  }
  return { data: out, shape: outShape };
}

/** Elements start … start+length−1 along `dim` (torch.narrow(x, dim, start, length)), as a copy. */
export function narrow(x: CpuTensor, dim: number, start: number, length: number): CpuTensor {
  checkTensor(x, 'narrow');
  const d = normalizeDim(dim, x.shape.length, 'narrow', x.shape);
  const size = x.shape[d]!;
  const s = start < 0 ? start + size : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > size) {
    throw new Error(`narrow: start ${start} length ${length} out of range for dim ${d} of shape ${shapeStr(x.shape)}`);
  }
  const st = strides(x.shape);
  const shape = [...x.shape];
  shape[d] = length;
  return asStrided(x, shape, st, s * st[d]!);
}

/** Splits into `chunks` pieces of ceil(size/chunks) along `dim`, the last possibly smaller (torch.chunk). */
export function chunk(x: CpuTensor, chunks: number, dim = 0): CpuTensor[] {
  checkTensor(x, 'chunk');
  if (!Number.isInteger(chunks) || chunks <= 0) throw new Error(`chunk: chunks must be a positive integer, got ${chunks}`);
  const d = normalizeDim(dim, x.shape.length, 'chunk', x.shape);
  const size = x.shape[d]!;
  const step = Math.ceil(size / chunks);
  const out: CpuTensor[] = [];
  if (step === 0) {
    for (let i = 0; i < chunks; i++) out.push(narrow(x, d, 0, 0));
    return out;
  }
  for (let s = 0; s < size; s += step) out.push(narrow(x, d, s, Math.min(step, size - s)));
  return out;
}
