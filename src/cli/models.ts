/**
 * Model names the CLI knows: the project's own checkpoints under weights/, and the UpscalerJS models that
 * `npm run weights` converts into weights/upscalerjs/. Anything else is taken as a path or URL.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors';

/** The package root: the nearest folder above this module that holds weights/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'weights')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

const UPSCALERJS = /^(esrgan-(slim|medium|thick)-x[2348]|rrdn-gans-x4)$/;

/** Resolves a model name to a checkpoint path, or returns the argument as it is. */
export function resolveModel(name: string): string {
  const root = packageRoot();
  if (name === 'dcgan-mnist') return join(root, 'weights', 'dcgan-mnist.safetensors');
  if (name === 'ddpm-mnist') {
    const dir = join(root, 'weights', 'ddpm-mnist');
    if (!existsSync(dir)) throw new UsageError(`model 'ddpm-mnist' is not in ${join(root, 'weights')} (see weights/README.md for how it is trained)`);
    return dir;
  }
  if (UPSCALERJS.test(name)) {
    const path = join(root, 'weights', 'upscalerjs', `${name}.safetensors`);
    if (!existsSync(path)) throw new UsageError(`model '${name}' has not been converted yet: run \`npm run weights\` in ${root}`);
    return path;
  }
  if (/^https?:\/\//.test(name) || existsSync(name)) return name;
  throw new UsageError(`no model file or known model named '${name}' (known: dcgan-mnist, ddpm-mnist, esrgan-slim-x2 … esrgan-thick-x8, rrdn-gans-x4)`);
}
