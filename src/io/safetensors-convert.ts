/**
 * Raw tensor bytes to f32 or i32 elements. Safetensors data is little-endian and typed arrays use the host's
 * byte order; every platform that runs WebGPU, and Node on x64 and arm64, is little-endian.
 *
 * Inputs come from `ByteSource.read`, which always hands out fresh buffers at byteOffset 0, so typed-array
 * views over them are aligned and zero-copy.
 */
import { bf16ToF32, f16ToF32 } from '../tensor/f16';
import type { Dtype } from './safetensors-header';

type ViewConstructor<T> = new (buffer: ArrayBuffer, byteOffset: number, length: number) => T;

function view<T>(Ctor: ViewConstructor<T> & { BYTES_PER_ELEMENT: number }, raw: Uint8Array<ArrayBuffer>): T {
  return new Ctor(raw.buffer, raw.byteOffset, raw.byteLength / Ctor.BYTES_PER_ELEMENT);
}

/** Converts raw `dtype` elements to f32 (integers beyond 2^24 and F64 values round to nearest). */
export function toFloat32(dtype: Dtype, raw: Uint8Array<ArrayBuffer>): Float32Array {
  switch (dtype) {
    case 'F64':
      return new Float32Array(view(Float64Array, raw));
    case 'F32':
      return view(Float32Array, raw);
    case 'F16':
      return f16ToF32(view(Uint16Array, raw));
    case 'BF16':
      return bf16ToF32(view(Uint16Array, raw));
    case 'I64':
      return int64ToFloat32(view(Int32Array, raw));
    case 'I32':
      return new Float32Array(view(Int32Array, raw));
    case 'I16':
      return new Float32Array(view(Int16Array, raw));
    case 'I8':
      return new Float32Array(view(Int8Array, raw));
    case 'U8':
      return new Float32Array(raw);
    case 'BOOL':
      return bools(new Float32Array(raw.length), raw);
    default:
      return dtype satisfies never;
  }
}

/**
 * The i32 converter for an integer `dtype`, or undefined for float dtypes, so callers can refuse before
 * reading any bytes. The I64 converter calls `overflow` with the first element that does not fit.
 */
export function int32Converter(
  dtype: Dtype,
  overflow: (index: number, value: bigint) => never,
): ((raw: Uint8Array<ArrayBuffer>) => Int32Array) | undefined {
  switch (dtype) {
    case 'F64':
    case 'F32':
    case 'F16':
    case 'BF16':
      return undefined;
    case 'I64':
      return (raw) => int64ToInt32(view(Int32Array, raw), overflow);
    case 'I32':
      return (raw) => view(Int32Array, raw);
    case 'I16':
      return (raw) => new Int32Array(view(Int16Array, raw));
    case 'I8':
      return (raw) => new Int32Array(view(Int8Array, raw));
    case 'U8':
      return (raw) => new Int32Array(raw);
    case 'BOOL':
      return (raw) => bools(new Int32Array(raw.length), raw);
    default:
      return dtype satisfies never;
  }
}

/** Little-endian i64 read as (low u32, high i32) word pairs: exact below 2^53, rounded once beyond. */
function int64ToFloat32(words: Int32Array): Float32Array {
  const out = new Float32Array(words.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = words[2 * i + 1]! * 4294967296 + (words[2 * i]! >>> 0);
  return out;
}

function int64ToInt32(words: Int32Array, overflow: (index: number, value: bigint) => never): Int32Array {
  const out = new Int32Array(words.length / 2);
  for (let i = 0; i < out.length; i++) {
    const low = words[2 * i]!;
    const high = words[2 * i + 1]!;
    // An i64 fits in i32 exactly when its high word is the sign extension of its low word.
    if (high !== low >> 31) overflow(i, (BigInt(high) << 32n) | BigInt(low >>> 0));
    out[i] = low;
  }
  return out;
}

/** Any nonzero byte is true, as in NumPy and PyTorch. */
function bools<T extends Float32Array | Int32Array>(out: T, raw: Uint8Array): T {
  for (let i = 0; i < raw.length; i++) out[i] = raw[i] === 0 ? 0 : 1;
  return out;
}
