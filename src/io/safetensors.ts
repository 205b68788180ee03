/**
 * Reading safetensors checkpoints from memory, Blobs, local files (Node) and HTTP servers, including sharded
 * checkpoints described by a `*.safetensors.index.json`, plus writing them.
 *
 * Format: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON describing every tensor
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}`), then the data area that the
 * offsets are relative to. Only the header is read up front; tensor bytes are read when asked for.
 */
import {
  type Location,
  type OpenSettings,
  type SafetensorsFile,
  openSingleLocation,
  openSource,
} from './safetensors-file';
import { DEFAULT_MAX_HEADER_BYTES, SafetensorsError } from './safetensors-header';
import { openSharded } from './safetensors-shards';
import { type ProgressCallback, blobSource, bufferSource } from './safetensors-source';

export type { SafetensorsFile } from './safetensors-file';
export {
  type Dtype,
  DTYPES,
  SafetensorsError,
  type SafetensorsErrorContext,
  type TensorInfo,
} from './safetensors-header';
export type { ProgressCallback } from './safetensors-source';
export { type TensorData, writeSafetensors } from './safetensors-write';

/**
 * Where a safetensors file comes from: its bytes in memory, a Blob or File, an http(s) URL (string or URL
 * object), a `file:` URL or any other string as a local path (Node only). A path or URL ending in
 * `.safetensors.index.json` opens a sharded checkpoint.
 */
export type SafetensorsSource = ArrayBuffer | ArrayBufferView | Blob | URL | string;

/** Options for {@link openSafetensors}. */
export interface OpenSafetensorsOptions {
  /** Largest JSON header accepted, in bytes (default 100 MB); longer claims fail before anything is allocated. */
  maxHeaderBytes?: number;
  /**
   * Called after every chunk of a full download, which happens only when a server ignores Range requests
   * (per file, for sharded checkpoints). `totalBytes` is undefined when the server does not send a length.
   */
  onProgress?: ProgressCallback;
  /** The fetch used for URLs, e.g. one that adds an Authorization header. Defaults to the global fetch. */
  fetch?: typeof fetch;
}

/**
 * Opens a safetensors file and validates its whole header: sizes, dtypes, shapes, offsets against the real
 * file size, and overlaps. URLs are read with HTTP Range requests (the header first, then each tensor when
 * asked for), falling back to one streamed download when the server ignores ranges.
 *
 * @throws SafetensorsError for anything malformed, truncated or unreachable, naming the tensor involved.
 */
export async function openSafetensors(
  source: SafetensorsSource,
  options: OpenSafetensorsOptions = {},
): Promise<SafetensorsFile> {
  const settings = settle(options);
  if (typeof source === 'string') {
    return /^https?:\/\//i.test(source) ? openLocation(new URL(source), settings) : openLocation(source, settings);
  }
  if (source instanceof URL) return openLocation(source, settings);
  if (source instanceof Blob) return openSource(blobSource(source), settings);
  if (source instanceof ArrayBuffer) return openSource(bufferSource(new Uint8Array(source), '<buffer>'), settings);
  if (ArrayBuffer.isView(source)) {
    const bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return openSource(bufferSource(bytes, '<buffer>'), settings);
  }
  throw new SafetensorsError(`cannot open ${Object.prototype.toString.call(source)}; see SafetensorsSource`);
}

function settle(options: OpenSafetensorsOptions): OpenSettings {
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!Number.isSafeInteger(maxHeaderBytes) || maxHeaderBytes < 0) {
    throw new SafetensorsError(`maxHeaderBytes must be a non-negative safe integer, got ${maxHeaderBytes}`);
  }
  // Looked up at call time so that a fetch installed or mocked after import is the one used.
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  return { maxHeaderBytes, onProgress: options.onProgress, fetch: fetchFn };
}

/** Opens a path or URL, as a sharded checkpoint when it names an index. */
function openLocation(location: Location, settings: OpenSettings): Promise<SafetensorsFile> {
  const path = typeof location === 'string' ? location : location.pathname;
  if (path.endsWith('.safetensors.index.json')) return openSharded(location, settings);
  return openSingleLocation(location, settings);
}
