/** Matrix-product references: torch.matmul and torch.nn.functional.linear, accumulating in f64. */
import { broadcastOffsets, broadcastShapes, broadcastStrides } from './elementwise';
import { type CpuTensor, checkTensor, numel, shapeStr } from './tensor';

/**
 * torch.matmul(a, b): 1-D·1-D is a dot product (0-d result); a 1-D first operand gets a 1 prepended and a
 * 1-D second operand a 1 appended (both removed from the result); batch dims (all but the last two)
 * broadcast. Shapes: (…a, M, K) @ (…b, K, N) -> (broadcast(…a, …b), M, N).
 */
export function matmul(a: CpuTensor, b: CpuTensor): CpuTensor {
  checkTensor(a, 'matmul (first operand)');
  checkTensor(b, 'matmul (second operand)');
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra === 0 || rb === 0) {
    throw new Error(`matmul: both arguments need at least 1 dim, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  }
  // View a as (…, M, K) and b as (…, K, N).
  const aShape = ra === 1 ? [1, a.shape[0]!] : a.shape;
  const bShape = rb === 1 ? [b.shape[0]!, 1] : b.shape;
  const M = aShape[aShape.length - 2]!;
  const K = aShape[aShape.length - 1]!;
  const K2 = bShape[bShape.length - 2]!;
  const N = bShape[bShape.length - 1]!;
  if (K !== K2) {
    throw new Error(`matmul: inner dims differ, ${shapeStr(a.shape)} @ ${shapeStr(b.shape)} (${K} vs ${K2})`);
  }
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  let batch: number[];
  try {
    batch = broadcastShapes(aBatch, bBatch);
  } catch {
    throw new Error(`matmul: batch dims of ${shapeStr(a.shape)} and ${shapeStr(b.shape)} are not broadcastable`);
  }
  // Per-batch element offsets of each (M, K) / (K, N) matrix.
  const aOff = broadcastOffsets(batch, broadcastStrides(aBatch, batch).map((s) => s * M * K));
  const bOff = broadcastOffsets(batch, broadcastStrides(bBatch, batch).map((s) => s * K * N));

  const outShape = [...batch];
  if (ra > 1) outShape.push(M);
  if (rb > 1) outShape.push(N);
  const nb = numel(batch);
  const out = new Float32Array(nb * M * N);
  const ad = a.data;
  const bd = b.data;
  const acc = new Float64Array(N);
  for (let bi = 0; bi < nb; bi++) {
    const ao = aOff[bi]!;
    const bo = bOff[bi]!;
    const oo = bi * M * N;
    for (let i = 0; i < M; i++) {
      acc.fill(0);
      const aRow = ao + i * K;
      for (let k = 0; k < K; k++) {
        const aik = ad[aRow + k]!;
        const bRow = bo + k * N;
        for (let j = 0; j < N; j++) acc[j]! += aik * bd[bRow + j]!;
      }
      const oRow = oo + i * N;
      for (let j = 0; j < N; j++) out[oRow + j] = acc[j]!;
    }
  }
  return { data: out, shape: outShape };
}

/**
 * x @ weightᵀ + bias (torch.nn.functional.linear). x: (…, in), weight: (out, in), bias: (out) -> (…, out).
 */
export function linear(x: CpuTensor, weight: CpuTensor, bias?: CpuTensor | null): CpuTensor {
  checkTensor(x, 'linear input');
  checkTensor(weight, 'linear weight');
  if (weight.shape.length !== 2) throw new Error(`linear: weight must be 2-D (out, in), got shape ${shapeStr(weight.shape)}`);
  const [outF, inF] = weight.shape as [number, number];
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== inF) {
    throw new Error(`linear: input shape ${shapeStr(x.shape)} does not end in in_features=${inF} (weight ${shapeStr(weight.shape)})`);
  }
  if (bias) {
    checkTensor(bias, 'linear bias');
    if (bias.shape.length !== 1 || bias.shape[0] !== outF) {
      throw new Error(`linear: bias shape ${shapeStr(bias.shape)} must be [${outF}] for weight ${shapeStr(weight.shape)}`);
    }
  }
  const nRows = numel(x.shape.slice(0, -1));
  const out = new Float32Array(nRows * outF);
  const xd = x.data;
  const wd = weight.data;
  const bd = bias ? bias.data : null;
  for (let r = 0; r < nRows; r++) {
    const xo = r * inF;
    for (let o = 0; o < outF; o++) {
      const wo = o * inF;
      let s = 0;
      for (let k = 0; k < inF; k++) s += xd[xo + k]! * wd[wo + k]!;
      out[r * outF + o] = bd ? s + bd[o]! : s;
    }
  }
  return { data: out, shape: [...x.shape.slice(0, -1), outF] };
}
