/**
 * Converts UpscalerJS's ESRGAN models (MIT, installed as npm devDependencies) to safetensors in
 * weights/upscalerjs/<name>.safetensors with the converter in src/models/keras-convert.ts.
 *
 *   npm run weights                 # converts what is missing
 *   npm run weights -- --force      # converts everything again
 *   npm run weights -- rrdn-gans-x4 # only the named models
 *
 * Sources and their pixel ranges:
 * - @upscalerjs/esrgan-slim, -medium, -thick (x2, x3, x4, x8): the range, scale and model path are read from
 *   each package's own model definition (`require('@upscalerjs/esrgan-slim/2x')` → inputRange/outputRange
 *   [0, 255] for the RDN packages, [0, 1] for the RRDN one); none defines pre- or post-processing, so
 *   UpscalerJS's core only clips the output to the range before making 8-bit pixels.
 * - @upscalerjs/models 0.9.0 models/idealo/gans: idealo's GAN-trained RRDN x4 with uint8-quantized weights.
 *   The package ships no code; UpscalerJS 0.x defined this model with `preprocess: x / 255` and
 *   `postprocess: clip(y, 0, 1) * 255`, i.e. a 0–1 range, as idealo's image-super-resolution trains it.
 */
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PixelRange } from '../src/io/image';
import { readTfjsModel } from '../src/io/tfjs';
import { tfjsToSafetensors } from '../src/models/keras-convert';

/** One model to convert. */
export interface UpscalerjsModel {
  /** Output file stem, e.g. "esrgan-slim-x2". */
  name: string;
  scale: number;
  pixelRange: PixelRange;
  /** Absolute path of model.json. */
  modelJson: string;
  /** "<package>@<version> <path in package>". */
  source: string;
}

const require = createRequire(import.meta.url);
const ESRGAN_PACKAGES = ['esrgan-slim', 'esrgan-medium', 'esrgan-thick'] as const;
const SCALES = [2, 3, 4, 8] as const;

/**
 * Where the converted files go by default: weights/upscalerjs of the project, found from this module, which
 * runs either in place (vitest) or bundled under node_modules/.cache (weights/run.mjs).
 */
export async function upscalerjsDir(): Promise<string> {
  return join(await packageRoot(fileURLToPath(import.meta.url), 'synthe'), 'weights', 'upscalerjs');
}

/** Every model this script converts, described by the installed packages themselves. */
export async function upscalerjsModels(): Promise<UpscalerjsModel[]> {
  const models: UpscalerjsModel[] = [];
  for (const pkg of ESRGAN_PACKAGES) {
    for (const scale of SCALES) {
      const entry = require.resolve(`@upscalerjs/${pkg}/${scale}x`);
      const definition = require(entry) as ModelDefinition;
      const root = await packageRoot(entry, `@upscalerjs/${pkg}`);
      const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
      if (definition.scale !== scale) throw new Error(`@upscalerjs/${pkg}/${scale}x declares scale ${definition.scale}`);
      const path = definition._internals.path;
      models.push({
        name: `${pkg}-x${scale}`,
        scale,
        pixelRange: pixelRange(definition, `@upscalerjs/${pkg}/${scale}x`),
        modelJson: join(root, path),
        source: `@upscalerjs/${pkg}@${version} ${path}`,
      });
    }
  }
  const modelsPackage = dirname(require.resolve('@upscalerjs/models/package.json'));
  const { version } = JSON.parse(await readFile(join(modelsPackage, 'package.json'), 'utf8')) as { version: string };
  models.push({
    name: 'rrdn-gans-x4',
    scale: 4,
    pixelRange: '0-1',
    modelJson: join(modelsPackage, 'models/idealo/gans/model.json'),
    source: `@upscalerjs/models@${version} models/idealo/gans/model.json`,
  });
  return models;
}

/** The fields of an UpscalerJS model definition this script reads. */
interface ModelDefinition {
  scale: number;
  inputRange?: [number, number];
  outputRange?: [number, number];
  preprocess?: unknown;
  postprocess?: unknown;
  _internals: { path: string };
}

function pixelRange(definition: ModelDefinition, what: string): PixelRange {
  const [lo, hi] = definition.inputRange ?? [];
  const [outLo, outHi] = definition.outputRange ?? [];
  if (definition.preprocess || definition.postprocess) throw new Error(`${what} has its own pre/post-processing, which this script does not reproduce`);
  if (lo !== 0 || outLo !== 0 || hi !== outHi || (hi !== 1 && hi !== 255)) {
    throw new Error(`${what}: input range ${JSON.stringify(definition.inputRange)} / output range ${JSON.stringify(definition.outputRange)} are not [0, 1] or [0, 255]`);
  }
  return hi === 1 ? '0-1' : '0-255';
}

/** The package directory above a file inside it (its package.json is not exported, so it cannot be resolved). */
async function packageRoot(file: string, name: string): Promise<string> {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (await exists(manifest) && (JSON.parse(await readFile(manifest, 'utf8')) as { name?: string }).name === name) return dir;
  }
  throw new Error(`no package.json of ${name} above ${file}`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Options for {@link convertUpscalerjs}. */
export interface ConvertOptions {
  outDir?: string;
  /** Only these model names (default: all). */
  only?: readonly string[];
  /** Convert again even when the output file exists. */
  force?: boolean;
  log?: (line: string) => void;
}

/** Converts the models whose safetensors file is missing (or all, with `force`); returns the paths written. */
export async function convertUpscalerjs(options: ConvertOptions = {}): Promise<string[]> {
  const outDir = options.outDir ?? (await upscalerjsDir());
  const all = await upscalerjsModels();
  const unknown = (options.only ?? []).filter((n) => !all.some((m) => m.name === n));
  if (unknown.length > 0) throw new Error(`unknown model(s) ${unknown.join(', ')}; known: ${all.map((m) => m.name).join(', ')}`);
  const chosen = options.only?.length ? all.filter((m) => options.only!.includes(m.name)) : all;
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const model of chosen) {
    const out = join(outDir, `${model.name}.safetensors`);
    if (!options.force && (await exists(out))) continue;
    const start = performance.now();
    const tfjs = await readTfjsModel(model.modelJson);
    const bytes = tfjsToSafetensors(tfjs, { pixelRange: model.pixelRange, source: model.source, scale: model.scale });
    // Written under a temporary name first so an interrupted run never leaves a truncated file behind.
    await writeFile(`${out}.tmp`, bytes);
    await rename(`${out}.tmp`, out);
    written.push(out);
    options.log?.(`${model.name}: ${(bytes.byteLength / 1e6).toFixed(1)} MB from ${model.source} (${(performance.now() - start).toFixed(0)} ms)`);
  }
  return written;
}

/** Entry point for `npm run weights` (through weights/run.mjs). */
export async function main(args: string[]): Promise<void> {
  const force = args.includes('--force');
  const only = args.filter((a) => !a.startsWith('--'));
  const outDir = await upscalerjsDir();
  const written = await convertUpscalerjs({ outDir, force, only, log: (line) => console.log(line) });
  console.log(written.length === 0 ? `up to date: ${outDir}` : `wrote ${written.length} file(s) to ${outDir}`);
}
