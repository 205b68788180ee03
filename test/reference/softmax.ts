/** Softmax references along one dim, max-subtracted, f64 math. */
import { type CpuTensor, checkTensor, normalizeDim, numel } from './tensor';

function softmaxImpl(x: CpuTensor, dim: number, log: boolean, what: string): CpuTensor {
  checkTensor(x, what);
  const rank = x.shape.length;
  const d = normalizeDim(dim, rank, what, x.shape);
  const size = rank === 0 ? 1 : x.shape[d]!;
  const outer = rank === 0 ? 1 : numel(x.shape.slice(0, d));
  const inner = rank === 0 ? 1 : numel(x.shape.slice(d + 1));
  const src = x.data;
  const out = new Float32Array(src.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * size * inner + i; // element k of this row is at base + k·inner
      let m = -Infinity;
      for (let k = 0; k < size; k++) {
        const v = src[base + k * inner]!;
        if (v > m || v !== v) m = v; // NaN propagates like torch's max
      }
      let sum = 0;
      for (let k = 0; k < size; k++) sum += Math.exp(src[base + k * inner]! - m);
      if (log) {
        const lse = Math.log(sum);
        for (let k = 0; k < size; k++) out[base + k * inner] = src[base + k * inner]! - m - lse;
      } else {
        for (let k = 0; k < size; k++) out[base + k * inner] = Math.exp(src[base + k * inner]! - m) / sum;
      }
    }
  }
  return { data: out, shape: [...x.shape] };
}

/**
 * exp(x − max) / Σ exp(x − max) along `dim` (torch.softmax(x, dim)); negative dims count from the end.
 * Like torch, a row that is entirely −inf yields NaN (−inf − (−inf) = NaN), and any NaN or +inf in a row
 * makes that whole row NaN.
 */
export function softmax(x: CpuTensor, dim: number): CpuTensor {
  return softmaxImpl(x, dim, false, 'softmax');
}

/** x − max − log Σ exp(x − max) along `dim` (torch.log_softmax(x, dim)); all −inf rows give NaN as in torch. */
export function logSoftmax(x: CpuTensor, dim: number): CpuTensor {
  return softmaxImpl(x, dim, true, 'logSoftmax');
}
