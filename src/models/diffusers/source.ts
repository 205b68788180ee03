/**
 * Diffusers model folders, as `save_pretrained` writes them and the Hub serves them: `config.json` next to
 * `diffusion_pytorch_model.safetensors` (or its sharded `.safetensors.index.json`). A folder is a directory
 * path in Node, or a URL (or string URL) ending in '/'. The config's `_class_name` names the architecture.
 */
import { SyntheError } from '../../errors';
import { SafetensorsError, type SafetensorsSource } from '../../io/safetensors';
import { readText } from '../../io/safetensors-source';
import type { Architecture } from '../recognize';

const WEIGHTS = 'diffusion_pytorch_model.safetensors';
const SHARDED = 'diffusion_pytorch_model.safetensors.index.json';
const CONFIG = 'config.json';

/** diffusers classes synthe runs, by the `_class_name` config.json records. */
const CLASSES: Readonly<Record<string, Architecture>> = {
  UNet2DModel: 'unet2d',
  UNet2DConditionModel: 'unet2d-condition',
  AutoencoderKL: 'autoencoder-kl',
};

export interface DiffusersFolder {
  /** The weights file (a path or URL) inside the folder. */
  weights: string | URL;
  /** config.json, parsed. */
  config: Record<string, unknown>;
}

/** The folder `source` names, with its config read, or null when `source` is not a folder. */
export async function openDiffusersFolder(source: SafetensorsSource): Promise<DiffusersFolder | null> {
  const folder = await folderOf(source);
  if (folder === null) return null;
  const inFolder = (name: string): string | URL => (folder instanceof URL ? new URL(name, folder) : `${folder.replace(/\/*$/, '')}/${name}`);
  const label = folder instanceof URL ? folder.href : folder;
  let text: string;
  try {
    text = await readText(inFolder(CONFIG), (input, init) => fetch(input, init));
  } catch (cause) {
    throw new SyntheError(`${label} has no readable ${CONFIG} (${(cause as Error).message}); a diffusers model folder holds ${CONFIG} and ${WEIGHTS}`, { cause });
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (cause) {
    throw new SyntheError(`${label}: ${CONFIG} is not JSON (${(cause as Error).message})`, { cause });
  }
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw new SyntheError(`${label}: ${CONFIG} must hold a JSON object`);
  return { weights: await weightsIn(folder, inFolder, label), config: config as Record<string, unknown> };
}

/**
 * The architecture config.json's `_class_name` names (undefined when it names none); `arch`, when the caller
 * gave one, must agree.
 */
export function diffusersArchitecture(config: Readonly<Record<string, unknown>>, arch: Architecture | undefined, label: string): Architecture | undefined {
  const name = config._class_name;
  if (name === undefined) return arch;
  const named = typeof name === 'string' ? CLASSES[name] : undefined;
  if (!named) throw new SyntheError(`${label}: diffusers class ${JSON.stringify(name)} is not supported (synthe runs ${Object.keys(CLASSES).join(', ')})`);
  if (arch && arch !== named) throw new SyntheError(`${label}: arch '${arch}' was asked for, but config.json's _class_name is ${name} ('${named}')`);
  return named;
}

async function folderOf(source: SafetensorsSource): Promise<string | URL | null> {
  if (source instanceof URL) return source.href.endsWith('/') ? source : null;
  if (typeof source !== 'string') return null;
  if (/^https?:\/\//i.test(source)) return source.endsWith('/') ? new URL(source) : null;
  if (source.endsWith('/')) return source;
  return (await isDirectory(source)) ? source : null;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    const fs = await import('node:fs/promises');
    return (await fs.stat(path)).isDirectory();
  } catch {
    // No Node (a browser), or no such path: not a folder; opening it as a file reports what is wrong.
    return false;
  }
}

/** The single weights file, else (in a local folder) the sharded index. */
async function weightsIn(folder: string | URL, inFolder: (name: string) => string | URL, label: string): Promise<string | URL> {
  const single = inFolder(WEIGHTS);
  if (folder instanceof URL && folder.protocol !== 'file:') return single;
  const fs = await import('node:fs/promises');
  for (const candidate of [single, inFolder(SHARDED)]) {
    if (await fs.stat(candidate).then((s) => s.isFile(), () => false)) return candidate;
  }
  throw new SafetensorsError(`${label} has no ${WEIGHTS} (nor ${SHARDED}); weights saved as .bin must be converted to safetensors first`);
}
