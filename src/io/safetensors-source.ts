/**
 * Random access to the bytes of a safetensors file, wherever they live: memory, a Blob, a Node file handle,
 * or an HTTP server (by Range requests, or one full download when the server does not do ranges).
 */
import { SafetensorsError, errorText } from './safetensors-header';

/** Random access to one file's bytes. */
export interface ByteSource {
  /** Names the file in error messages. */
  readonly label: string;
  /** Total size in bytes as the buffer, blob, file system or server reports it. */
  readonly size: number;
  /** Exactly `length` bytes at `offset`, in a fresh buffer the caller owns (byteOffset 0, so views align). */
  read(offset: number, length: number): Promise<Uint8Array<ArrayBuffer>>;
  /** Releases what the source holds open. */
  close(): Promise<void>;
}

/** Reports download progress; `totalBytes` is undefined when the server does not say. */
export type ProgressCallback = (loadedBytes: number, totalBytes: number | undefined) => void;

/** Bytes already in memory. Reads copy, so callers may keep or mutate what they get. */
export function bufferSource(bytes: Uint8Array, label: string): ByteSource {
  return {
    label,
    size: bytes.byteLength,
    read: async (offset, length) => checkLength(bytes.slice(offset, offset + length), offset, length, label),
    close: async () => {},
  };
}

/** A Blob or File, read slice by slice so that only the requested bytes are loaded. */
export function blobSource(blob: Blob): ByteSource {
  const label = typeof (blob as Partial<File>).name === 'string' ? (blob as File).name : '<blob>';
  return {
    label,
    size: blob.size,
    read: async (offset, length) => {
      const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      return checkLength(bytes, offset, length, label);
    },
    close: async () => {},
  };
}

/** A local file in Node, read with positioned reads on one open handle. */
export async function fileSource(path: string | URL): Promise<ByteSource> {
  const label = locationLabel(path);
  const fs = await nodeFs(label);
  let handle: import('node:fs/promises').FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (cause) {
    throw new SafetensorsError(`cannot open file (${errorText(cause)})`, { source: label }, { cause });
  }
  const { size } = await handle.stat().catch(async (cause: unknown) => {
    await handle.close();
    throw new SafetensorsError(`cannot stat file (${errorText(cause)})`, { source: label }, { cause });
  });
  return {
    label,
    size,
    read: async (offset, length) => {
      const bytes = new Uint8Array(length);
      let done = 0;
      // A positioned read may return fewer bytes than asked for; only 0 means the file ended.
      while (done < length) {
        const { bytesRead } = await handle.read(bytes, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return checkLength(bytes.subarray(0, done), offset, length, label);
    },
    close: () => handle.close(),
  };
}

/** The whole text of a small local or remote file, such as a sharded checkpoint's index. */
export async function readText(location: string | URL, fetchFn: typeof fetch): Promise<string> {
  const label = locationLabel(location);
  if (typeof location === 'string' || location.protocol === 'file:') {
    const fs = await nodeFs(label);
    return fs.readFile(location, 'utf8').catch((cause: unknown) => {
      throw new SafetensorsError(`cannot read file (${errorText(cause)})`, { source: label }, { cause });
    });
  }
  return (await request(fetchFn, location, label)).text();
}

/** How a path or URL is named in messages. */
export function locationLabel(location: string | URL): string {
  return typeof location === 'string' ? location : location.href;
}

/** node:fs/promises, imported lazily so that bundles for browsers never load it unless given a path. */
async function nodeFs(label: string): Promise<typeof import('node:fs/promises')> {
  try {
    return await import('node:fs/promises');
  } catch (cause) {
    throw new SafetensorsError('file paths need Node; in browsers pass a URL, Blob or ArrayBuffer', { source: label }, {
      cause,
    });
  }
}

/** How URL sources reach the network. */
export interface FetchOptions {
  fetch: typeof fetch;
  onProgress: ProgressCallback | undefined;
}

/**
 * A file on an HTTP server. Asks for the first 8 bytes with a Range request: a 206 answer with a known total
 * size means every later read can be a Range request too; any other success means the server sent the whole
 * file, which is then streamed into memory with progress reports.
 */
export async function urlSource(url: URL, options: FetchOptions): Promise<ByteSource> {
  const label = url.href;
  const response = await request(options.fetch, url, label, 'bytes=0-7');
  if (response.status === 416) {
    // Only an empty file cannot serve bytes 0-7; let the header reader report it as too short.
    await response.body?.cancel();
    return bufferSource(new Uint8Array(0), label);
  }
  const range = parseContentRange(response.headers.get('content-range'));
  if (response.status === 206 && range?.total !== undefined) {
    const prefix = checkLength(await responseBytes(response, label), 0, Math.min(8, range.total), label);
    return rangeSource(url, range.total, prefix, options.fetch);
  }
  if (response.status === 206) {
    // Ranges work but the total size is unknown ("*" or no Content-Range), and data_offsets need it.
    await response.body?.cancel();
    return bufferSource(await download(await request(options.fetch, url, label), label, options.onProgress), label);
  }
  return bufferSource(await download(response, label, options.onProgress), label);
}

function rangeSource(url: URL, size: number, prefix: Uint8Array, fetchFn: typeof fetch): ByteSource {
  const label = url.href;
  return {
    label,
    size,
    read: async (offset, length) => {
      if (offset + length <= prefix.length) return prefix.slice(offset, offset + length);
      // "bytes=a-b" cannot express an empty range.
      if (length === 0) return new Uint8Array(0);
      const last = offset + length - 1;
      const response = await request(fetchFn, url, label, `bytes=${offset}-${last}`);
      if (response.status !== 206 || parseContentRange(response.headers.get('content-range'))?.start !== offset) {
        await response.body?.cancel();
        throw new SafetensorsError(
          `server did not honour the Range request for bytes ${offset}-${last} (HTTP ${response.status})`,
          { source: label },
        );
      }
      return checkLength(await responseBytes(response, label), offset, length, label);
    },
    close: async () => {},
  };
}

/** Fetches `url`, turning network failures and error statuses into SafetensorsErrors (416 is the caller's). */
async function request(fetchFn: typeof fetch, url: URL, label: string, range?: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetchFn(url, range === undefined ? {} : { headers: { Range: range } });
  } catch (cause) {
    throw new SafetensorsError(`fetch failed (${errorText(cause)})`, { source: label }, { cause });
  }
  if (!response.ok && response.status !== 416) {
    await response.body?.cancel();
    throw new SafetensorsError(`HTTP ${response.status} ${response.statusText}`.trimEnd(), { source: label });
  }
  return response;
}

/** Streams a whole response body into one buffer, reporting progress after every chunk. */
async function download(response: Response, label: string, onProgress: ProgressCallback | undefined) {
  if (response.body === null) throw new SafetensorsError('response has no body', { source: label });
  const total = declaredLength(response);
  const reader = response.body.getReader();
  let buffer = allocate(total ?? 1 << 20, label);
  let loaded = 0;
  const next = () =>
    reader.read().catch((cause: unknown) => {
      throw new SafetensorsError(`download failed after ${loaded} bytes (${errorText(cause)})`, { source: label }, {
        cause,
      });
    });
  for (let chunk = await next(); !chunk.done; chunk = await next()) {
    const needed = loaded + chunk.value.byteLength;
    if (needed > buffer.length) {
      if (total !== undefined) {
        await reader.cancel();
        throw new SafetensorsError(`server sent more than its Content-Length of ${total} bytes`, { source: label });
      }
      buffer = grow(buffer, needed, label);
    }
    buffer.set(chunk.value, loaded);
    loaded = needed;
    onProgress?.(loaded, total);
  }
  if (total !== undefined && loaded !== total) {
    throw new SafetensorsError(`download ended after ${loaded} of ${total} bytes`, { source: label });
  }
  return buffer.subarray(0, loaded);
}

/** A whole (small) response body; a connection dropped mid-body becomes a SafetensorsError. */
async function responseBytes(response: Response, label: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    throw new SafetensorsError(`reading the response failed (${errorText(cause)})`, { source: label }, { cause });
  }
}

/** The body size the server promised, unless a content encoding makes Content-Length the compressed size. */
function declaredLength(response: Response): number | undefined {
  const encoding = response.headers.get('content-encoding');
  if (encoding !== null && encoding.toLowerCase() !== 'identity') return undefined;
  const length = Number(response.headers.get('content-length') ?? NaN);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

function grow(buffer: Uint8Array<ArrayBuffer>, needed: number, label: string): Uint8Array<ArrayBuffer> {
  const bigger = allocate(Math.max(needed, buffer.length * 2), label);
  bigger.set(buffer);
  return bigger;
}

function allocate(bytes: number, label: string): Uint8Array<ArrayBuffer> {
  try {
    return new Uint8Array(bytes);
  } catch (cause) {
    throw new SafetensorsError(`cannot allocate ${bytes} bytes for the download`, { source: label }, { cause });
  }
}

/** A 206 answer's Content-Range: "bytes start-end/total". */
interface ContentRange {
  /** First byte sent. */
  start: number;
  /** Full size of the file; undefined when the server answers "*". */
  total: number | undefined;
}

function parseContentRange(header: string | null): ContentRange | undefined {
  const match = /^\s*bytes\s+(\d+)-\d+\/(\d+|\*)\s*$/i.exec(header ?? '');
  if (match === null) return undefined;
  return { start: Number(match[1]), total: match[2] === '*' ? undefined : Number(match[2]) };
}

function checkLength(bytes: Uint8Array<ArrayBuffer>, offset: number, length: number, label: string) {
  if (bytes.byteLength !== length) {
    const problem = `read ${bytes.byteLength} of ${length} bytes at offset ${offset}; is the file truncated?`;
    throw new SafetensorsError(problem, { source: label });
  }
  return bytes;
}
