/**
 * Publishes the demo's weights next to the page: the dev server answers weights/… from the project's
 * weights/ folder, and the static build copies the same files into dist/demo/weights/, so the site works from
 * any static host. The UpscalerJS conversions (`npm run weights`, not committed) are made first when missing.
 * weights/manifest.json lists what was published, with sizes and content hashes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Plugin } from 'vite';
// `.js`: this module is loaded with vite.config.ts, whose imports carry extensions.
import { CATALOGUE, MANIFEST_PATH, SAMPLE_IMAGE, type PublishedFile, type WeightsManifest } from './catalogue.js';

/** A published path and the project file behind it. */
interface Source {
  path: string;
  file: string;
}

const CONTENT_TYPES: Record<string, string> = { '.json': 'application/json', '.png': 'image/png' };

export function demoWeights(projectRoot: string): Plugin {
  const sources: Source[] = [
    ...CATALOGUE.flatMap((entry) => entry.files.map((path) => ({ path: `weights/${path}`, file: join(projectRoot, 'weights', path) }))),
    { path: SAMPLE_IMAGE.path, file: join(projectRoot, SAMPLE_IMAGE.source) },
  ];
  let converted: Promise<void> | undefined;
  const versions = new Map<string, { key: string; version: string }>();
  let log = (line: string) => console.log(line);

  /** Converts the UpscalerJS models whose safetensors are missing (a few seconds; nothing when all exist). */
  const convert = () =>
    (converted ??= (async () => {
      const missing = [];
      for (const s of sources) if (s.path.startsWith('weights/upscalerjs/') && !(await statOrNull(s.file))) missing.push(s.path);
      if (missing.length === 0) return;
      log(`demo weights: converting ${missing.length} UpscalerJS model(s) (npm run weights)`);
      try {
        await promisify(execFile)(process.execPath, ['weights/run.mjs', 'weights/convert-upscalerjs.ts'], { cwd: projectRoot });
      } catch (error) {
        // The demo still runs with the models that exist; the manifest simply leaves the others out.
        log(`demo weights: conversion failed, upscalers will be missing: ${(error as Error).message}`);
      }
    })());

  const published = async (): Promise<PublishedFile[]> => {
    await convert();
    const files: PublishedFile[] = [];
    for (const s of sources) {
      const info = await statOrNull(s.file);
      if (!info) continue;
      const key = `${info.size}:${info.mtimeMs}`;
      let cached = versions.get(s.file);
      if (cached?.key !== key) {
        cached = { key, version: createHash('sha256').update(await readFile(s.file)).digest('hex').slice(0, 16) };
        versions.set(s.file, cached);
      }
      files.push({ path: s.path, bytes: info.size, version: cached.version });
    }
    return files;
  };
  const manifest = async (): Promise<WeightsManifest> => ({ files: await published() });

  return {
    name: 'synthe-demo-weights',
    configResolved(config) {
      log = (line) => config.logger.info(line);
    },
    configureServer(server) {
      void convert();
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\//, '');
        const isManifest = path === MANIFEST_PATH;
        const source = sources.find((s) => s.path === path);
        if (!isManifest && !source) return next();
        void (async () => {
          if (isManifest) {
            const body = JSON.stringify(await manifest());
            res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
            return void res.end(body);
          }
          await convert();
          const info = await statOrNull(source!.file);
          if (!info) {
            res.writeHead(404, { 'Content-Type': 'text/plain' });
            return void res.end(`${path} does not exist in this checkout`);
          }
          res.writeHead(200, { 'Content-Type': contentType(path), 'Content-Length': String(info.size) });
          if (req.method === 'HEAD') return void res.end();
          createReadStream(source!.file).pipe(res);
        })().catch(next);
      });
    },
    async writeBundle(options) {
      const outDir = options.dir;
      if (!outDir) return;
      const files = await published();
      for (const file of files) {
        const target = join(outDir, file.path);
        await mkdir(dirname(target), { recursive: true });
        await copyFile(sources.find((s) => s.path === file.path)!.file, target);
      }
      await writeFile(join(outDir, MANIFEST_PATH), JSON.stringify({ files } satisfies WeightsManifest));
      const megabytes = files.reduce((sum, f) => sum + f.bytes, 0) / 1e6;
      log(`demo weights: ${files.length} file(s), ${megabytes.toFixed(1)} MB, copied to ${join(outDir, 'weights')}`);
    },
  };
}

async function statOrNull(file: string) {
  return stat(file).catch(() => null);
}

function contentType(path: string): string {
  return CONTENT_TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream';
}
