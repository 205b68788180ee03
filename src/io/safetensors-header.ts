/**
 * The safetensors header: the 8-byte length prefix and the JSON table of tensors, validated field by field so
 * that nothing read from a file is trusted before it has been checked against the real file size.
 */
import { SyntheError } from '../errors';
import type { ByteSource } from './safetensors-source';

/** Where a {@link SafetensorsError} happened, when known. */
export interface SafetensorsErrorContext {
  /** The file, URL or buffer being read. */
  source?: string;
  /** The tensor the problem is about. */
  tensor?: string;
}

/** A malformed, truncated or unreadable safetensors file, or a request the file cannot satisfy. */
export class SafetensorsError extends SyntheError {
  override name = 'SafetensorsError';
  /** The file, URL or buffer being read, when known. */
  readonly source: string | undefined;
  /** The tensor the problem is about, when there is one. */
  readonly tensor: string | undefined;

  constructor(problem: string, context: SafetensorsErrorContext = {}, options?: ErrorOptions) {
    const where = context.source === undefined ? '' : `${context.source}: `;
    // JSON quoting keeps names with newlines or quotes from breaking the one-line message.
    const what = context.tensor === undefined ? '' : `tensor ${JSON.stringify(context.tensor)}: `;
    super(`${where}${what}${problem}`, options);
    this.source = context.source;
    this.tensor = context.tensor;
  }
}

/** Bytes per element of every supported dtype. */
const DTYPE_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 } as const;

/** A tensor element type, spelled as in the safetensors header. */
export type Dtype = keyof typeof DTYPE_BYTES;

/** Every supported dtype, widest floats first. */
export const DTYPES = Object.keys(DTYPE_BYTES) as readonly Dtype[];

/** Whether `value` names a supported dtype (own keys only, so "toString" or "__proto__" are not dtypes). */
export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BYTES, value);
}

/** Bytes per element of `dtype`. */
export function dtypeBytes(dtype: Dtype): number {
  return DTYPE_BYTES[dtype];
}

/** The "unknown dtype" problem text, shared by the reader and the writer. */
export function unknownDtypeProblem(value: unknown): string {
  return `unknown dtype ${describe(value)} (supported: ${DTYPES.join(', ')})`;
}

/** What the header says about one tensor. */
export interface TensorInfo {
  /** The tensor's name in the file. */
  readonly name: string;
  /** Element type. */
  readonly dtype: Dtype;
  /** Dimensions, outermost first; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** Size of the raw data in bytes: product of the shape × bytes per element. */
  readonly byteLength: number;
}

/** A validated header entry: its info plus where its bytes are, relative to the start of the data area. */
export interface TensorEntry {
  readonly info: TensorInfo;
  readonly begin: number;
  readonly end: number;
}

/** A validated header. Maps, because keys come from the file and must never land on a plain object. */
export interface Header {
  readonly metadata: ReadonlyMap<string, string>;
  /** In header order. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  /** File offset of the data area: 8 + the header length. */
  readonly dataStart: number;
}

/** Default cap on the JSON header size: far above any real model's header, far below a harmful allocation. */
export const DEFAULT_MAX_HEADER_BYTES = 100 * 1024 * 1024;

/**
 * Reads and validates the header of `source`. The claimed header length is checked against the file size and
 * `maxHeaderBytes` before a single header byte is read, so a corrupt or hostile length never allocates.
 */
export async function readHeader(source: ByteSource, maxHeaderBytes: number): Promise<Header> {
  const at = { source: source.label };
  if (source.size < 8) {
    throw new SafetensorsError(`file is ${source.size} bytes, shorter than the 8-byte header length`, at);
  }
  const prefix = await source.read(0, 8);
  const claimed = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  const available = source.size - 8;
  if (claimed > BigInt(available)) {
    throw new SafetensorsError(`header length ${claimed} exceeds the ${available} bytes after the length prefix`, at);
  }
  if (claimed > BigInt(maxHeaderBytes)) {
    throw new SafetensorsError(`header length ${claimed} exceeds maxHeaderBytes (${maxHeaderBytes})`, at);
  }
  const length = Number(claimed);
  const json = parseJsonObject(await source.read(8, length), source.label);
  return { ...parseEntries(json, available - length, source.label), dataStart: 8 + length };
}

function parseJsonObject(bytes: Uint8Array, label: string): object {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new SafetensorsError('header is not valid UTF-8', { source: label }, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SafetensorsError(`header is not valid JSON (${errorText(cause)})`, { source: label }, { cause });
  }
  if (!isRecord(json)) throw new SafetensorsError(`header is ${kind(json)}, not a JSON object`, { source: label });
  return json;
}

function parseEntries(json: object, dataSize: number, label: string): Omit<Header, 'dataStart'> {
  let metadata: ReadonlyMap<string, string> = new Map();
  const tensors = new Map<string, TensorEntry>();
  for (const [key, value] of Object.entries(json)) {
    if (key === '__metadata__') metadata = parseStringMap(value, '__metadata__', label);
    else tensors.set(key, parseEntry(key, value, dataSize, label));
  }
  checkOverlaps([...tensors.values()], label);
  return { metadata, tensors };
}

/** Validates a JSON object of string values, e.g. `__metadata__`. */
export function parseStringMap(value: unknown, what: string, label: string): Map<string, string> {
  if (!isRecord(value)) {
    throw new SafetensorsError(`${what} must be an object of strings, got ${kind(value)}`, { source: label });
  }
  const map = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      throw new SafetensorsError(`${what} must map strings to strings, but ${JSON.stringify(key)} is ${kind(item)}`, {
        source: label,
      });
    }
    map.set(key, item);
  }
  return map;
}

function parseEntry(name: string, value: unknown, dataSize: number, label: string): TensorEntry {
  const at = { source: label, tensor: name };
  if (!isRecord(value)) throw new SafetensorsError(`header entry is ${kind(value)}, not an object`, at);
  const fields = new Map(Object.entries(value));
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!fields.has(field)) throw new SafetensorsError(`header entry has no "${field}"`, at);
  }
  const dtype = fields.get('dtype');
  if (!isDtype(dtype)) throw new SafetensorsError(unknownDtypeProblem(dtype), at);
  const shape = fields.get('shape');
  if (!isShape(shape)) {
    throw new SafetensorsError(`shape must be an array of non-negative safe integers, got ${describe(shape)}`, at);
  }
  const offsets = fields.get('data_offsets');
  if (!isOffsets(offsets)) {
    throw new SafetensorsError(
      `data_offsets must be [begin, end] with safe integers 0 <= begin <= end, got ${describe(offsets)}`,
      at,
    );
  }
  const [begin, end] = offsets;
  const needed = shapeBytes(dtype, shape);
  if (needed !== BigInt(end - begin)) {
    const span = `data_offsets [${begin}, ${end}] hold ${end - begin}`;
    throw new SafetensorsError(`shape ${describe(shape)} of ${dtype} needs ${needed} bytes but ${span}`, at);
  }
  if (end > dataSize) {
    throw new SafetensorsError(`data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data area`, at);
  }
  const info = Object.freeze({ name, dtype, shape: Object.freeze([...shape]), byteLength: end - begin });
  return { info, begin, end };
}

/** Product of the shape × element size, in BigInt so that absurd shapes cannot overflow into a match. */
export function shapeBytes(dtype: Dtype, shape: readonly number[]): bigint {
  return shape.reduce((bytes, dim) => bytes * BigInt(dim), BigInt(dtypeBytes(dtype)));
}

/** Whether `value` is a valid shape: an array of non-negative safe integers. */
export function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(isSize);
}

function isOffsets(value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && value.every(isSize) && value[0] <= value[1];
}

function isSize(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function checkOverlaps(entries: TensorEntry[], label: string): void {
  // Empty tensors own no bytes, so they cannot overlap anything wherever their offsets point.
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  // Sorted by begin, a tensor that overlaps any later one also overlaps the next one (which starts no later),
  // so checking neighbours finds every overlapping file.
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const current = sorted[i]!;
    if (current.begin < previous.end) {
      throw new SafetensorsError(
        `data_offsets [${current.begin}, ${current.end}] overlap tensor ${JSON.stringify(previous.info.name)} ` +
          `[${previous.begin}, ${previous.end}]`,
        { source: label, tensor: current.info.name },
      );
    }
  }
}

/** Whether `value` is a JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short name for a JSON value's kind, for messages. */
export function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A value as short JSON for messages; long values are cut so messages stay one readable line. */
export function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The first line of an error's message, to quote inside a one-line message. */
export function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
