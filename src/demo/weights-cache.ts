/**
 * Downloads weight files with byte-level progress and keeps them in the Cache API, so a reload (or a switch
 * back to a model) reads them from disk instead of the network. URLs carry the file's content hash, so an
 * updated file is a new cache entry; older versions of the same path are dropped when it is stored.
 */
import { MANIFEST_PATH, type PublishedFile, type WeightsManifest } from './catalogue';

const CACHE_NAME = 'synthe-weights';

export interface FetchProgress {
  loaded: number;
  total: number;
  fromCache: boolean;
}

export class WeightsError extends Error {
  override name = 'WeightsError';
}

/** The published files of this site, by path (e.g. 'weights/dcgan-mnist.safetensors'). */
export async function fetchManifest(): Promise<Map<string, PublishedFile>> {
  let response: Response;
  try {
    response = await fetch(MANIFEST_PATH, { cache: 'no-cache' });
  } catch (error) {
    throw new WeightsError(`cannot reach ${MANIFEST_PATH}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new WeightsError(`${MANIFEST_PATH}: HTTP ${response.status}; was the site built with its weights?`);
  const manifest = (await response.json()) as WeightsManifest;
  return new Map(manifest.files.map((f) => [f.path, f]));
}

/** The bytes of a published file, from the cache or the network, reporting progress as they arrive. */
export async function fetchWeights(file: PublishedFile, onProgress: (p: FetchProgress) => void): Promise<Uint8Array> {
  const url = new URL(`${file.path}?v=${file.version}`, document.baseURI);
  const cache = await openCache();
  const cached = await cache?.match(url);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    // An entry cut short (quota, a crash while writing) is fetched again rather than trusted.
    if (bytes.byteLength === file.bytes) {
      onProgress({ loaded: bytes.byteLength, total: file.bytes, fromCache: true });
      return bytes;
    }
    await cache!.delete(url);
  }
  const bytes = await download(url, file, onProgress);
  if (cache) await store(cache, url, bytes);
  return bytes;
}

async function download(url: URL, file: PublishedFile, onProgress: (p: FetchProgress) => void): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new WeightsError(`downloading ${file.path} failed: ${(error as Error).message}`);
  }
  if (!response.ok || !response.body) throw new WeightsError(`downloading ${file.path} failed: HTTP ${response.status}`);
  const bytes = new Uint8Array(file.bytes);
  const reader = response.body.getReader();
  let loaded = 0;
  onProgress({ loaded, total: file.bytes, fromCache: false });
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      if (loaded + chunk.value.byteLength > bytes.byteLength) throw new WeightsError(`${file.path} is larger than the ${file.bytes} bytes the manifest lists`);
      bytes.set(chunk.value, loaded);
      loaded += chunk.value.byteLength;
      onProgress({ loaded, total: file.bytes, fromCache: false });
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    if (error instanceof WeightsError) throw error;
    throw new WeightsError(`downloading ${file.path} stopped after ${loaded} bytes: ${(error as Error).message}`);
  }
  if (loaded !== file.bytes) throw new WeightsError(`${file.path}: got ${loaded} of ${file.bytes} bytes`);
  return bytes;
}

async function openCache(): Promise<Cache | null> {
  // Caches exist only in secure contexts, and may be refused (private windows, storage disabled).
  if (typeof caches === 'undefined') return null;
  return caches.open(CACHE_NAME).catch(() => null);
}

async function store(cache: Cache, url: URL, bytes: Uint8Array): Promise<void> {
  for (const request of await cache.keys()) {
    const old = new URL(request.url);
    if (old.pathname === url.pathname && old.search !== url.search) await cache.delete(request);
  }
  // A full quota only costs the next reload a download.
  await cache.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'Content-Length': String(bytes.byteLength) } })).catch(() => {});
}
