/** Attention reference: torch.nn.functional.scaled_dot_product_attention (no dropout), f64 math. */
import { broadcastOffsets, broadcastStrides } from './elementwise';
import { type BoolTensorLike, type CpuTensor, checkTensor, numel, shapeStr } from './tensor';

/** A boolean mask: nonzero / true means "may attend" (torch bool attn_mask semantics). */
export interface BoolMask {
  bool: BoolTensorLike;
}

/** Options of {@link scaledDotProductAttention}. */
export interface SdpaOptions {
  /**
   * Additive float mask (added to the scaled scores; −Infinity blocks a key), or `{ bool }` where true/nonzero
   * = attend. Either must broadcast to (…batch, Lq, Lk).
   */
  attnMask?: CpuTensor | BoolMask | null;
  /** Score scale; default 1/√D with D = q.shape[-1]. */
  scale?: number;
  /** Causal mask aligned at the top-left: query i may attend key j iff j <= i (torch's tril(ones(Lq, Lk))). */
  isCausal?: boolean;
  /**
   * What a query row with every key masked produces. 'nan' (default) is what torch's math definition
   * (softmax of an all −inf row) gives; 'zero' outputs zeros for such rows, as fused kernels often do.
   */
  fullyMaskedRows?: 'nan' | 'zero';
}

function isBoolMask(m: CpuTensor | BoolMask): m is BoolMask {
  return 'bool' in m;
}

/**
 * softmax(q·kᵀ·scale + mask) · v, exactly torch.nn.functional.scaled_dot_product_attention(q, k, v,
 * attn_mask, dropout_p=0, is_causal, scale). q (…, Lq, D), k (…, Lk, D), v (…, Lk, Dv) with identical
 * leading dims (typically (B, H)) -> (…, Lq, Dv).
 * A query row whose keys are all masked (−inf / false) yields NaN, as in torch's reference math
 * (softmax of an all −inf row is NaN); pass fullyMaskedRows: 'zero' to get zeros instead.
 */
export function scaledDotProductAttention(q: CpuTensor, k: CpuTensor, v: CpuTensor, options: SdpaOptions = {}): CpuTensor {
  checkTensor(q, 'scaledDotProductAttention query');
  checkTensor(k, 'scaledDotProductAttention key');
  checkTensor(v, 'scaledDotProductAttention value');
  const rank = q.shape.length;
  if (rank < 2 || k.shape.length !== rank || v.shape.length !== rank) {
    throw new Error(`scaledDotProductAttention: q, k, v must share a rank >= 2, got q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)}`);
  }
  const batchShape = q.shape.slice(0, -2);
  const sameBatch = (s: number[]) => s.slice(0, -2).every((d, i) => d === batchShape[i]);
  if (!sameBatch(k.shape) || !sameBatch(v.shape)) {
    throw new Error(`scaledDotProductAttention: batch dims differ: q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)}`);
  }
  const Lq = q.shape[rank - 2]!;
  const D = q.shape[rank - 1]!;
  const Lk = k.shape[rank - 2]!;
  const Dv = v.shape[rank - 1]!;
  if (k.shape[rank - 1] !== D) throw new Error(`scaledDotProductAttention: key shape ${shapeStr(k.shape)} must end in D=${D} like query ${shapeStr(q.shape)}`);
  if (v.shape[rank - 2] !== Lk) throw new Error(`scaledDotProductAttention: value shape ${shapeStr(v.shape)} must have Lk=${Lk} rows like key ${shapeStr(k.shape)}`);

  const isCausal = options.isCausal ?? false;
  const mask = options.attnMask ?? null;
  if (isCausal && mask) throw new Error('scaledDotProductAttention: attnMask must not be set when isCausal is true');
  const fullyMasked = options.fullyMaskedRows ?? 'nan';
  const sc = options.scale ?? 1 / Math.sqrt(D);

  const nb = numel(batchShape);
  const scoreShape = [...batchShape, Lq, Lk];
  // Mask: per-batch base offset plus strides along (Lq, Lk) after broadcasting to scoreShape.
  let maskData: ArrayLike<number | boolean> | null = null;
  let maskIsBool = false;
  let maskBatchOff: Float64Array | null = null;
  let msq = 0;
  let msk = 0;
  if (mask) {
    const mt = isBoolMask(mask) ? mask.bool : mask;
    maskIsBool = isBoolMask(mask);
    if (!maskIsBool) checkTensor(mt as CpuTensor, 'scaledDotProductAttention attnMask');
    if (mt.data.length !== numel(mt.shape)) throw new Error(`scaledDotProductAttention: mask data length ${mt.data.length} does not match its shape ${shapeStr(mt.shape)}`);
    let st: number[];
    try {
      st = broadcastStrides(mt.shape, scoreShape);
    } catch {
      throw new Error(`scaledDotProductAttention: attnMask shape ${shapeStr(mt.shape)} does not broadcast to ${shapeStr(scoreShape)}`);
    }
    maskData = mt.data;
    msq = st[rank - 2]!;
    msk = st[rank - 1]!;
    maskBatchOff = broadcastOffsets(batchShape, st.slice(0, -2));
  }

  const qd = q.data;
  const kd = k.data;
  const vd = v.data;
  const out = new Float32Array(nb * Lq * Dv);
  const scores = new Float64Array(Lk);
  const acc = new Float64Array(Dv);
  for (let b = 0; b < nb; b++) {
    const qb = b * Lq * D;
    const kb = b * Lk * D;
    const vb = b * Lk * Dv;
    for (let i = 0; i < Lq; i++) {
      const qo = qb + i * D;
      let m = -Infinity;
      for (let j = 0; j < Lk; j++) {
        let s = 0;
        const ko = kb + j * D;
        for (let e = 0; e < D; e++) s += qd[qo + e]! * kd[ko + e]!;
        s *= sc;
        if (isCausal && j > i) s = -Infinity;
        if (maskData) {
          const mv = maskData[maskBatchOff![b]! + i * msq + j * msk]!;
          if (maskIsBool) {
            if (!mv) s = -Infinity;
          } else s += mv as number;
        }
        scores[j] = s;
        if (s > m || s !== s) m = s;
      }
      const o = (b * Lq + i) * Dv;
      if (m === -Infinity && fullyMasked === 'zero') {
        out.fill(0, o, o + Dv);
        continue;
      }
      // softmax (max-subtracted); an all −inf row gives exp(NaN) = NaN, like torch.
      let sum = 0;
      for (let j = 0; j < Lk; j++) {
        const p = Math.exp(scores[j]! - m);
        scores[j] = p;
        sum += p;
      }
      acc.fill(0);
      for (let j = 0; j < Lk; j++) {
        const p = scores[j]! / sum;
        const vo = vb + j * Dv;
        for (let e = 0; e < Dv; e++) acc[e]! += p * vd[vo + e]!;
      }
      for (let e = 0; e < Dv; e++) out[o + e] = acc[e]!;
    }
  }
  return { data: out, shape: [...batchShape, Lq, Dv] };
}
