/**
 * `engine.loadModel`: opens a checkpoint, recognises its architecture from its key names (or takes the one
 * given), and hands it to that architecture's loader, which infers the hyper-parameters from tensor shapes.
 */
import type { Engine } from '../engine';
import { SyntheError } from '../errors';
import { openSafetensors, type SafetensorsFile, type SafetensorsSource } from '../io/safetensors';
import { Checkpoint } from './checkpoint';
import { loadDcgan } from './dcgan';
import { loadAutoencoderKL } from './diffusers/autoencoder_kl';
import { diffusersArchitecture, openDiffusersFolder } from './diffusers/source';
import { loadUNet2D } from './diffusers/unet2d';
import { loadUNet2DCondition } from './diffusers/unet2d_condition';
import { loadKeras } from './keras-graph';
import type { Model } from './model';
import { recognizeArchitecture, type Architecture } from './recognize';
import { loadEsrgan, loadEsrganBasicsr } from './rrdbnet';
import { loadSrvgg } from './srvgg';

/** Options for `engine.loadModel`. */
export interface LoadModelOptions {
  /** The architecture, when the key names do not say it (or to insist on one). */
  arch?: Architecture;
  /**
   * Hyper-parameters that cannot be inferred from tensor shapes (diffusers' config.json, layer strides, …).
   * With a diffusers folder, these fields override its config.json's.
   */
  config?: Record<string, unknown>;
  /** Called while a remote checkpoint downloads. */
  onProgress?: (loadedBytes: number, totalBytes: number | undefined) => void;
}

type Loader = (checkpoint: Checkpoint, config: Record<string, unknown>) => Promise<Model>;

/** One loader per architecture; an architecture without one is recognised but cannot run yet. */
const LOADERS: Partial<Record<Architecture, Loader>> = {
  dcgan: loadDcgan,
  esrgan: loadEsrgan,
  'esrgan-basicsr': loadEsrganBasicsr,
  srvgg: loadSrvgg,
  rdn: loadKeras,
  rrdn: loadKeras,
  keras: loadKeras,
  unet2d: loadUNet2D,
  'unet2d-condition': loadUNet2DCondition,
  'autoencoder-kl': loadAutoencoderKL,
};

/**
 * Loads a checkpoint, or a diffusers model folder (a directory in Node, or a URL ending in '/'): its
 * config.json (with `options.config` over it) goes to the loader, and its `_class_name` picks the architecture.
 */
export async function loadModel(engine: Engine, source: SafetensorsSource | SafetensorsFile, options: LoadModelOptions = {}): Promise<Model> {
  const label = typeof source === 'string' ? source : source instanceof URL ? source.href : 'checkpoint';
  if (isFile(source)) return loadFromFile(engine, source, label, options);
  const folder = await openDiffusersFolder(source);
  if (folder) options = { ...options, config: { ...folder.config, ...options.config } };
  // Weights are on the GPU once the loader returns, so a file opened here is closed here.
  const file = await openSafetensors(folder?.weights ?? source, options.onProgress ? { onProgress: options.onProgress } : {});
  try {
    return await loadFromFile(engine, file, label, options);
  } finally {
    await file.close();
  }
}

async function loadFromFile(engine: Engine, file: SafetensorsFile, label: string, options: LoadModelOptions): Promise<Model> {
  const arch = diffusersArchitecture(options.config ?? {}, options.arch, label) ?? recognizeArchitecture(file.names(), file.metadata)?.arch;
  if (!arch) {
    const sample = file.names().slice(0, 5).join(', ');
    throw new SyntheError(`${label}: the architecture could not be recognised from its keys (${sample}, …); pass { arch } (one of ${Object.keys(LOADERS).join(', ')})`);
  }
  const loader = LOADERS[arch];
  if (!loader) throw new SyntheError(`${label}: architecture '${arch}' is recognised but not supported yet`);
  const checkpoint = new Checkpoint(engine, file, label);
  return loader(checkpoint, options.config ?? {});
}

function isFile(source: unknown): source is SafetensorsFile {
  return typeof source === 'object' && source !== null && 'names' in source && 'float32' in source;
}
