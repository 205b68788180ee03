/**
 * Folds an inference BatchNorm into the convolution before it, on the CPU at load time, so the pair runs as
 * one convolution: y = (conv(x) − mean) · γ/√(var+ε) + β becomes conv'(x) with scaled weights and a new bias.
 */

/** BatchNorm parameters and statistics, per output channel. */
export interface BatchNormParams {
  runningMean: Float32Array;
  runningVar: Float32Array;
  /** γ; ones when the BatchNorm has no affine weight. */
  weight?: Float32Array;
  /** β; zeros when absent. */
  bias?: Float32Array;
  eps: number;
}

/**
 * Returns the folded weight and bias. `layout` says where the output channel sits in the weight:
 * `'oihw'` for conv2d (O, I/g, kh, kw); `'iohw'` for convTranspose2d (I, O/g, kh, kw), where with groups > 1
 * the output channel of group g, column o is g·(O/g) + o.
 */
export function foldBatchNorm(
  weight: Float32Array,
  shape: readonly number[],
  bias: Float32Array | undefined,
  bn: BatchNormParams,
  layout: 'oihw' | 'iohw',
  groups = 1,
): { weight: Float32Array; bias: Float32Array } {
  const outChannels = bn.runningMean.length;
  const scale = new Float32Array(outChannels);
  const folded = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    const s = (bn.weight?.[o] ?? 1) / Math.sqrt(bn.runningVar[o]! + bn.eps);
    scale[o] = s;
    folded[o] = ((bias?.[o] ?? 0) - bn.runningMean[o]!) * s + (bn.bias?.[o] ?? 0);
  }
  const out = new Float32Array(weight.length);
  const [d0, d1, kh, kw] = shape as [number, number, number, number];
  const taps = kh * kw;
  if (layout === 'oihw') {
    if (d0 !== outChannels) throw new Error(`BatchNorm has ${outChannels} channels, the convolution ${d0} outputs`);
    for (let o = 0; o < d0; o++) for (let k = 0; k < d1 * taps; k++) out[o * d1 * taps + k] = weight[o * d1 * taps + k]! * scale[o]!;
  } else {
    const perGroupIn = d0 / groups;
    if (d1 * groups !== outChannels) throw new Error(`BatchNorm has ${outChannels} channels, the transposed convolution ${d1 * groups} outputs`);
    for (let i = 0; i < d0; i++) {
      const g = Math.floor(i / perGroupIn);
      for (let o = 0; o < d1; o++) {
        const s = scale[g * d1 + o]!;
        for (let k = 0; k < taps; k++) out[(i * d1 + o) * taps + k] = weight[(i * d1 + o) * taps + k]! * s;
      }
    }
  }
  return { weight: out, bias: folded };
}
