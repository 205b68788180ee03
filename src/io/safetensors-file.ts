/** One open safetensors file: its validated header plus lazy, converted reads of its tensors. */
import { int32Converter, toFloat32 } from './safetensors-convert';
import { type Header, SafetensorsError, type TensorEntry, type TensorInfo, readHeader } from './safetensors-header';
import { type ByteSource, type ProgressCallback, fileSource, urlSource } from './safetensors-source';

/** An open safetensors file (or sharded checkpoint): its header in memory, tensor bytes read on demand. */
export interface SafetensorsFile {
  /** The `__metadata__` strings (for sharded checkpoints: every shard's, then the index's `metadata`). */
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * Tensor names in header order (for sharded checkpoints: shard by shard, in weight_map order of shards).
   * Integer-like names such as "0" come first, as JSON.parse orders them.
   */
  names(): string[];
  /** Whether the file has a tensor called `name`. */
  has(name: string): boolean;
  /**
   * Name, dtype, shape and byte size of a tensor.
   * @throws SafetensorsError if there is no such tensor; the message lists the closest names.
   */
  info(name: string): TensorInfo;
  /** The tensor's raw little-endian bytes, in a fresh buffer the caller owns. */
  bytes(name: string): Promise<Uint8Array>;
  /** The tensor's elements as f32, converted from any dtype (BOOL as 0 and 1). */
  float32(name: string): Promise<Float32Array>;
  /**
   * The tensor's elements as i32, for integer and BOOL dtypes.
   * @throws SafetensorsError for float dtypes, or naming the element when an I64 value does not fit in i32.
   */
  int32(name: string): Promise<Int32Array>;
  /** Releases open file handles. The header stays readable; reading tensor data afterwards fails. */
  close(): Promise<void>;
}

/** Options with their defaults filled in, shared with the shard loader. */
export interface OpenSettings {
  maxHeaderBytes: number;
  onProgress: ProgressCallback | undefined;
  fetch: typeof fetch;
}

/** A local path (a string, or a file: URL) or a URL to fetch. */
export type Location = string | URL;

/** Opens a path or URL as one safetensors file. */
export async function openSingleLocation(location: Location, settings: OpenSettings): Promise<SafetensorsFile> {
  const isPath = typeof location === 'string' || location.protocol === 'file:';
  return openSource(isPath ? await fileSource(location) : await urlSource(location, settings), settings);
}

/** Reads and validates the header of `source`, closing it if that fails. */
export async function openSource(source: ByteSource, settings: OpenSettings): Promise<SafetensorsFile> {
  try {
    return new SingleFile(source, await readHeader(source, settings.maxHeaderBytes));
  } catch (error) {
    await source.close();
    throw error;
  }
}

class SingleFile implements SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>>;
  private closed = false;

  constructor(
    private readonly source: ByteSource,
    private readonly header: Header,
  ) {
    // fromEntries defines own properties, so a "__proto__" key stays data instead of becoming a prototype.
    this.metadata = Object.freeze(Object.fromEntries(header.metadata));
  }

  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  info(name: string): TensorInfo {
    return this.entry(name).info;
  }

  async bytes(name: string): Promise<Uint8Array<ArrayBuffer>> {
    const { info, begin } = this.entry(name);
    if (this.closed) throw new SafetensorsError('file is closed', { source: this.source.label, tensor: name });
    return this.source.read(this.header.dataStart + begin, info.byteLength);
  }

  async float32(name: string): Promise<Float32Array> {
    return toFloat32(this.entry(name).info.dtype, await this.bytes(name));
  }

  async int32(name: string): Promise<Int32Array> {
    const at = { source: this.source.label, tensor: name };
    const { dtype } = this.entry(name).info;
    const convert = int32Converter(dtype, (index, value) => {
      throw new SafetensorsError(`I64 element ${index} is ${value}, which does not fit in int32`, at);
    });
    if (convert === undefined) {
      throw new SafetensorsError(`int32() needs an integer dtype, not ${dtype}; use float32()`, at);
    }
    return convert(await this.bytes(name));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.source.close();
  }

  private entry(name: string): TensorEntry {
    const entry = this.header.tensors.get(name);
    if (entry === undefined) throw unknownTensor(name, this.names(), this.source.label);
    return entry;
  }
}

/** The error for a missing tensor, suggesting the few names closest to the one asked for. */
export function unknownTensor(name: string, names: readonly string[], label: string): SafetensorsError {
  const at = { source: label, tensor: name };
  if (names.length === 0) return new SafetensorsError('not found; the file has no tensors', at);
  const closest = names
    .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, 3)
    .map(({ candidate }) => JSON.stringify(candidate));
  return new SafetensorsError(`not found among ${names.length} tensors; closest: ${closest.join(', ')}`, at);
}

/** Levenshtein distance, two rows at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
