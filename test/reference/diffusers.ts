/** References for diffusers building blocks: GEGLU and get_timestep_embedding. */
import { geluScalar } from './elementwise';
import { type CpuTensor, checkTensor, shapeStr } from './tensor';

const f32 = Math.fround;

/**
 * diffusers GEGLU after its projection: hidden, gate = x.chunk(2, dim=-1); hidden · gelu(gate).
 * x (…, 2H) -> (…, H); gelu is exact erf GELU unless approximate = 'tanh'.
 */
export function geglu(x: CpuTensor, approximate: 'none' | 'tanh' = 'none'): CpuTensor {
  checkTensor(x, 'geglu');
  const r = x.shape.length;
  const last = r > 0 ? x.shape[r - 1]! : 0;
  if (r === 0 || last % 2 !== 0) throw new Error(`geglu: last dim must be even (hidden, gate halves), got shape ${shapeStr(x.shape)}`);
  const H = last / 2;
  const rows = last === 0 ? 0 : x.data.length / last;
  const src = x.data;
  const out = new Float32Array(rows * H);
  for (let i = 0; i < rows; i++) {
    const base = i * last;
    for (let j = 0; j < H; j++) out[i * H + j] = src[base + j]! * geluScalar(src[base + H + j]!, approximate);
  }
  return { data: out, shape: [...x.shape.slice(0, -1), H] };
}

/** Options of {@link timestepEmbedding}, named after diffusers' get_timestep_embedding arguments. */
export interface TimestepEmbeddingOptions {
  flipSinToCos?: boolean;
  downscaleFreqShift?: number;
  scale?: number;
  maxPeriod?: number;
}

/**
 * diffusers.models.embeddings.get_timestep_embedding(timesteps, embedding_dim, flip_sin_to_cos,
 * downscale_freq_shift, scale, max_period) -> (T, dim):
 *   half = dim // 2; freq_i = exp(−ln(max_period) · i / (half − downscale_freq_shift));
 *   emb = scale · t · freq; out = [sin(emb), cos(emb)] (or [cos, sin] when flipped), zero-padded by one
 *   column when dim is odd.
 * Every intermediate is rounded to float32 as in diffusers' float32 torch code, so the (large) sin/cos
 * arguments match torch's; values then agree to float32 rounding of exp/sin/cos (about 1e-4 absolute for
 * t ≈ 1000, since an ulp of t·freq is ~6e-5 there).
 */
export function timestepEmbedding(timesteps: readonly number[] | Float32Array, dim: number, options: TimestepEmbeddingOptions = {}): CpuTensor {
  if (!Number.isInteger(dim) || dim < 0) throw new Error(`timestepEmbedding: dim must be a non-negative integer, got ${dim}`);
  const flip = options.flipSinToCos ?? false;
  const shift = options.downscaleFreqShift ?? 1;
  const sc = options.scale ?? 1;
  const maxPeriod = options.maxPeriod ?? 10000;
  const T = timesteps.length;
  const half = Math.floor(dim / 2);
  // exponent = -log(max_period) * arange(half, float32) / (half - shift), in float32.
  const negLog = f32(-Math.log(maxPeriod));
  const denom = f32(half - shift);
  const freqs = new Float64Array(half);
  for (let i = 0; i < half; i++) freqs[i] = f32(Math.exp(f32(f32(negLog * i) / denom)));
  const out = new Float32Array(T * dim);
  const scF = f32(sc);
  for (let t = 0; t < T; t++) {
    const tv = f32(timesteps[t]!);
    const row = t * dim;
    for (let i = 0; i < half; i++) {
      let arg = f32(tv * freqs[i]!);
      if (sc !== 1) arg = f32(scF * arg);
      const s = Math.sin(arg);
      const c = Math.cos(arg);
      out[row + i] = flip ? c : s;
      out[row + half + i] = flip ? s : c;
    }
    // odd dim: the last column stays zero (F.pad(emb, (0, 1, 0, 0))).
  }
  return { data: out, shape: [T, dim] };
}
