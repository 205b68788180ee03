/** Serializes tensors into the safetensors format. */
import {
  type Dtype,
  SafetensorsError,
  describe,
  dtypeBytes,
  isDtype,
  isShape,
  kind,
  shapeBytes,
  unknownDtypeProblem,
} from './safetensors-header';

/** One tensor to write. */
export interface TensorData {
  /** Element type. */
  readonly dtype: Dtype;
  /** Dimensions, outermost first; `[]` for a scalar. */
  readonly shape: readonly number[];
  /**
   * The elements, either in the dtype's own typed array (Float64Array, Float32Array, Uint16Array holding the
   * bits for F16 and BF16, BigInt64Array, Int32Array, Int16Array, Int8Array, Uint8Array for U8 and BOOL) or
   * as raw little-endian bytes in a Uint8Array, for any dtype.
   */
  readonly data: ArrayBufferView;
}

/** The typed array that holds each dtype's elements, by its Symbol.toStringTag (which also works across realms). */
const ARRAY_TAGS = {
  F64: 'Float64Array',
  F32: 'Float32Array',
  F16: 'Uint16Array',
  BF16: 'Uint16Array',
  I64: 'BigInt64Array',
  I32: 'Int32Array',
  I16: 'Int16Array',
  I8: 'Int8Array',
  U8: 'Uint8Array',
  BOOL: 'Uint8Array',
} as const satisfies Record<Dtype, string>;

interface Prepared {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
  bytes: Uint8Array;
}

/**
 * Writes `tensors` (and optional string metadata) as a safetensors file.
 *
 * The header lists tensors in insertion order and is padded with spaces to a multiple of 8 bytes. The data
 * area is packed without gaps, as the reference implementation requires, with tensors ordered by element
 * size, widest first (stable otherwise), which puts every tensor at a file offset aligned to its element size.
 *
 * @throws SafetensorsError naming the tensor when a dtype, shape or data does not check out.
 */
export function writeSafetensors(
  tensors: Readonly<Record<string, TensorData>> | ReadonlyMap<string, TensorData>,
  metadata: Readonly<Record<string, string>> | ReadonlyMap<string, string> = new Map(),
): Uint8Array<ArrayBuffer> {
  const prepared = entriesOf(tensors).map(([name, tensor]) => prepare(name, tensor));
  const offsets = pack(prepared);
  const header = new TextEncoder().encode(headerJson(prepared, offsets, entriesOf(metadata)));
  const headerLength = Math.ceil(header.length / 8) * 8;
  const dataStart = 8 + headerLength;
  const out = new Uint8Array(dataStart + prepared.reduce((sum, t) => sum + t.bytes.byteLength, 0));
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.length, dataStart);
  prepared.forEach((tensor, i) => out.set(tensor.bytes, dataStart + offsets[i]!));
  return out;
}

function entriesOf<T>(items: Readonly<Record<string, T>> | ReadonlyMap<string, T>): [string, T][] {
  return items instanceof Map ? [...(items as ReadonlyMap<string, T>)] : Object.entries(items);
}

function prepare(name: string, tensor: TensorData): Prepared {
  const at = { tensor: name };
  if (name === '__metadata__') throw new SafetensorsError('"__metadata__" is reserved and cannot name a tensor', at);
  const { dtype, shape, data } = tensor;
  if (!isDtype(dtype)) throw new SafetensorsError(unknownDtypeProblem(dtype), at);
  if (!isShape(shape)) {
    throw new SafetensorsError(`shape must be an array of non-negative safe integers, got ${describe(shape)}`, at);
  }
  const tag = ArrayBuffer.isView(data) ? Object.prototype.toString.call(data).slice(8, -1) : kind(data);
  if (tag !== ARRAY_TAGS[dtype] && tag !== 'Uint8Array') {
    const expected = `a ${ARRAY_TAGS[dtype]} or raw bytes in a Uint8Array`;
    throw new SafetensorsError(`${dtype} data must be ${expected}, got ${tag}`, at);
  }
  const needed = shapeBytes(dtype, shape);
  if (BigInt(data.byteLength) !== needed) {
    const problem = `shape ${describe(shape)} of ${dtype} needs ${needed} bytes but data has ${data.byteLength}`;
    throw new SafetensorsError(problem, at);
  }
  return { name, dtype, shape, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Data-area offset of each tensor. Element sizes are powers of two and every tensor's length is a multiple of
 * its element size, so laying out the widest elements first keeps each later tensor aligned with no padding.
 */
function pack(tensors: readonly Prepared[]): number[] {
  const order = tensors.map((_, i) => i).sort((a, b) => dtypeBytes(tensors[b]!.dtype) - dtypeBytes(tensors[a]!.dtype));
  const offsets: number[] = new Array(tensors.length);
  let offset = 0;
  for (const i of order) {
    offsets[i] = offset;
    offset += tensors[i]!.bytes.byteLength;
  }
  return offsets;
}

/** The header text, built by hand: tensor names come from callers and must not pass through a plain object. */
function headerJson(tensors: readonly Prepared[], offsets: readonly number[], metadata: [string, string][]): string {
  const fields: string[] = [];
  if (metadata.length > 0) fields.push(`"__metadata__":{${metadata.map(metadataField).join(',')}}`);
  tensors.forEach(({ name, dtype, shape, bytes }, i) => {
    const begin = offsets[i]!;
    const entry = { dtype, shape, data_offsets: [begin, begin + bytes.byteLength] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
  });
  return `{${fields.join(',')}}`;
}

function metadataField([key, value]: [string, string]): string {
  if (typeof value !== 'string') {
    throw new SafetensorsError(`__metadata__ values must be strings, but ${JSON.stringify(key)} is ${kind(value)}`);
  }
  return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
}
