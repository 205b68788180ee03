/**
 * IEEE half (f16) and bfloat16 <-> f32 conversions, bit-exact and table-free.
 *
 * Half and bfloat16 values travel as their raw bits in a Uint16Array because Float16Array is not available
 * everywhere yet. Every loop works on the integer bits of the f32 side through a Uint32Array view of the same
 * memory, which keeps the per-element work to a few integer ops and branches (no Math calls, no tables).
 */

/** Converts IEEE binary16 bit patterns to f32 values. Exact: every f16 value, NaN payloads included, fits in f32. */
export function f16ToF32(bits: Uint16Array): Float32Array<ArrayBuffer> {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = (h & 0x8000) << 16;
    const exponent = h & 0x7c00;
    const mantissa = h & 0x03ff;
    if (exponent === 0x7c00) {
      outBits[i] = sign | 0x7f800000 | (mantissa << 13);
    } else if (exponent !== 0) {
      // Normal: widen the fields in place and move the exponent bias from 15 to 127 (112 << 23).
      outBits[i] = (((h & 0x7fff) << 13) + 0x38000000) | sign;
    } else {
      // Zero or subnormal: mantissa × 2^-24 is exact in f32 and normalizes itself.
      const magnitude = mantissa * 5.960464477539063e-8;
      out[i] = sign === 0 ? magnitude : -magnitude;
    }
  }
  return out;
}

/**
 * Converts f32 values to IEEE binary16 bit patterns, rounding to nearest with ties to even. Values too large
 * for f16 become ±Infinity, values too small become (signed) subnormals or zero, and NaN stays a quiet NaN
 * that keeps the top bits of its payload.
 */
export function f32ToF16(values: Float32Array): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(values.length);
  const inBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const x = inBits[i]!;
    out[i] = ((x >>> 16) & 0x8000) | f16Magnitude(x & 0x7fffffff);
  }
  return out;
}

/** The f16 bits of |x| for the f32 bits `abs` (sign cleared). */
function f16Magnitude(abs: number): number {
  // NaN: setting the quiet bit keeps a payload that lived only in the low 13 bits from turning into infinity.
  if (abs > 0x7f800000) return 0x7e00 | ((abs >>> 13) & 0x03ff);
  // 65520 (0x477ff000) is the midpoint between the largest f16 (65504, odd mantissa) and 2^16, so it and
  // everything above it rounds to infinity.
  if (abs >= 0x477ff000) return 0x7c00;
  if (abs >= 0x38800000) {
    // Normal f16: rebias, then add just under half an ulp plus the ulp's parity bit so that truncating by 13
    // bits rounds to nearest even; a carry out of the mantissa correctly bumps the exponent.
    return (abs - 0x38000000 + 0x0fff + ((abs >>> 13) & 1)) >>> 13;
  }
  // 2^-25 is the midpoint between zero and the smallest subnormal and ties to zero (even).
  if (abs <= 0x33000000) return 0;
  return roundedSubnormal(abs);
}

/** f16 subnormal bits for an f32 magnitude in (2^-25, 2^-14): the value in units of 2^-24, rounded half even. */
function roundedSubnormal(abs: number): number {
  const significand = (abs & 0x007fffff) | 0x00800000;
  const shift = 126 - (abs >>> 23); // 14..24 for this range
  const quotient = significand >>> shift;
  const remainder = significand & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  const roundUp = remainder > half || (remainder === half && (quotient & 1) === 1);
  // A round-up to 0x400 lands exactly on the smallest normal's encoding, which is the right answer.
  return roundUp ? quotient + 1 : quotient;
}

/** Converts bfloat16 bit patterns to f32 values. Exact: bfloat16 is the top half of an f32. */
export function bf16ToF32(bits: Uint16Array): Float32Array<ArrayBuffer> {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

/**
 * Converts f32 values to bfloat16 bit patterns, rounding to nearest with ties to even (overflow rounds to
 * ±Infinity like any other IEEE rounding). NaN stays a quiet NaN.
 */
export function f32ToBf16(values: Float32Array): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(values.length);
  const inBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const x = inBits[i]!;
    const sign = (x >>> 16) & 0x8000;
    const abs = x & 0x7fffffff;
    // Plain truncation could turn a NaN whose payload sits in the low 16 bits into infinity.
    out[i] = abs > 0x7f800000 ? sign | 0x7fc0 | (abs >>> 16) : sign | ((abs + 0x7fff + ((abs >>> 16) & 1)) >>> 16);
  }
  return out;
}
