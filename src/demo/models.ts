/**
 * Loading a catalogue entry onto the engine: its files are downloaded (or read from the cache) with one
 * progress bar over all of them, then handed to the library's loaders.
 */
import type { Engine } from '../engine';
import type { Model } from '../models/model';
import type { CatalogueEntry, PublishedFile } from './catalogue';
import { loadDiffusionDigits, type DiffusionDigits } from './diffusion-digits';
import { fetchWeights, WeightsError } from './weights-cache';

export interface DownloadProgress {
  loaded: number;
  total: number;
  /** True when every file so far came from the browser's cache. */
  fromCache: boolean;
}

/** The bytes of every file of an entry, by path relative to weights/. */
export type ModelFiles = Map<string, Uint8Array>;

export async function downloadModel(entry: CatalogueEntry, manifest: Map<string, PublishedFile>, onProgress: (p: DownloadProgress) => void): Promise<ModelFiles> {
  const files = entry.files.map((path) => {
    const file = manifest.get(`weights/${path}`);
    if (!file) throw new WeightsError(`weights/${path} is not published on this site`);
    return file;
  });
  const total = files.reduce((sum, f) => sum + f.bytes, 0);
  const out: ModelFiles = new Map();
  let done = 0;
  let fromCache = true;
  for (const [i, file] of files.entries()) {
    const bytes = await fetchWeights(file, (p) => {
      fromCache &&= p.fromCache;
      onProgress({ loaded: done + p.loaded, total, fromCache });
    });
    out.set(entry.files[i]!, bytes);
    done += file.bytes;
  }
  return out;
}

/** What a loaded entry is, by kind. */
export type Loaded = { kind: 'gan'; model: Model } | { kind: 'upscaler'; model: Model } | { kind: 'diffusion'; pipeline: DiffusionDigits };

export async function loadOnEngine(engine: Engine, entry: CatalogueEntry, files: ModelFiles): Promise<Loaded & { dispose(): void }> {
  switch (entry.kind) {
    case 'gan':
    case 'upscaler': {
      const model = await engine.loadModel(files.get(entry.files[0]!)!);
      const expected = entry.kind === 'gan' ? 'latent' : 'input';
      if (!model.inputNames.includes(expected)) {
        model.dispose();
        throw new WeightsError(`${entry.files[0]} holds a ${model.arch} model, not a ${entry.kind === 'gan' ? 'GAN generator' : 'super-resolution model'}`);
      }
      return { kind: entry.kind, model, dispose: () => model.dispose() };
    }
    case 'diffusion': {
      const pipeline = await loadDiffusionDigits(engine, entry, files);
      return { kind: 'diffusion', pipeline, dispose: () => pipeline.dispose() };
    }
    default:
      return entry.kind satisfies never;
  }
}
