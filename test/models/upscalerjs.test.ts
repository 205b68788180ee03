/**
 * UpscalerJS's ESRGAN models, converted by weights/convert-upscalerjs.ts, against TF.js's own outputs.
 *
 * Golden images: each @upscalerjs/esrgan-* package ships assets/fixture.png (128×128) and
 * assets/samples/<N>x/result.png, TF.js's upscaling of it. Our output is turned into 8-bit pixels the way
 * UpscalerJS does (clip to the model's range, ×255 in f32 for 0–1 models, then ImageData's Uint8ClampedArray
 * rounding: to nearest, ties to even) and every channel must be within ±1 of the golden image.
 * Where a package ships no sample (esrgan-slim and -medium x8; idealo's GAN-trained RRDN in @upscalerjs/models),
 * TF.js itself (wasm backend) is run here on the same input as the reference.
 *
 * Cost per 128×128 fixture: esrgan-slim 7–9 GFLOP, esrgan-medium 21–26, esrgan-thick ~240, rrdn-gans ~137.
 * Lavapipe runs at ~5 GFLOP/s here (about 50 s per thick model), SwiftShader's convs at ~0.3–1 GFLOP/s. By
 * default lavapipe runs everything but esrgan-thick x3 and x4 (x2 and x8 cover the same layers), and
 * SwiftShader only esrgan-slim; the rest need SYNTHE_SLOW_TESTS=1 and are reported as skipped, with that hint
 * in their names, otherwise.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { decodeImage, imageToNchw, type PixelRange, type RgbaImage } from '../../src/io/image';
import { loadKerasGraphModel } from '../../src/models/keras-graph';
import { convertUpscalerjs, upscalerjsDir } from '../../weights/convert-upscalerjs';
import { describeEachDevice } from '../devices';
import { tfjsPredict } from './tfjs_reference';

const PACKAGES = 'node_modules/@upscalerjs';
const FIXTURE = `${PACKAGES}/esrgan-slim/assets/fixture.png`;
const SLOW = process.env.SYNTHE_SLOW_TESTS === '1';

interface Case {
  name: string;
  /** The reference: a sample directory holding result.png, or a model.json directory for TF.js to run. */
  golden: { sample: string } | { tfjs: string };
  /** Adapters on which it runs only with SYNTHE_SLOW_TESTS=1. */
  slowOn: readonly string[];
}

const SWIFTSHADER = ['swiftshader'];
const EVERYWHERE = ['lavapipe', 'swiftshader'];
const esrgan = (pkg: string, s: number, slowOn: readonly string[]): Case => ({
  name: `${pkg}-x${s}`,
  golden: s === 8 && pkg !== 'esrgan-thick' ? { tfjs: `${pkg}/models/x8` } : { sample: `${pkg}/assets/samples/${s}x` },
  slowOn,
});
const CASES: Case[] = [
  ...[2, 3, 4, 8].map((s) => esrgan('esrgan-slim', s, s === 8 ? SWIFTSHADER : [])),
  ...[2, 3, 4, 8].map((s) => esrgan('esrgan-medium', s, SWIFTSHADER)),
  ...[2, 3, 4, 8].map((s) => esrgan('esrgan-thick', s, s === 3 || s === 4 ? EVERYWHERE : SWIFTSHADER)),
  { name: 'rrdn-gans-x4', golden: { tfjs: 'models/models/idealo/gans' }, slowOn: SWIFTSHADER },
];

let dir = '';
let fixture: RgbaImage;
const tfjsOutputs = new Map<string, Promise<Uint8Array>>();

/** TF.js's 8-bit output on the fixture for the model.json in `modelDir`, computed once per file. */
function tfjsOutput(modelDir: string, range: PixelRange): Promise<Uint8Array> {
  if (!tfjsOutputs.has(modelDir)) {
    tfjsOutputs.set(modelDir, (async () => {
      const root = join(PACKAGES, modelDir);
      const json = JSON.parse(await readFile(join(root, 'model.json'), 'utf8'));
      const paths = (json.weightsManifest as { paths: string[] }[]).flatMap((g) => g.paths);
      const shards = await Promise.all(paths.map(async (p) => new Uint8Array(await readFile(join(root, p)))));
      const ref = await tfjsPredict(json, shards, imageToNchw(fixture, range), [1, 3, fixture.height, fixture.width], 'wasm');
      return toBytes(ref.data, range);
    })());
  }
  return tfjsOutputs.get(modelDir)!;
}

beforeAll(async () => {
  // A clean clone has no converted weights yet: convert what is missing (a few seconds).
  dir = await upscalerjsDir();
  await convertUpscalerjs({ outDir: dir });
  fixture = decodeImage(new Uint8Array(await readFile(FIXTURE)), 'fixture.png');
}, 120_000);

/** UpscalerJS's output → 8-bit: clip to the range, scale 0–1 to 0–255 in f32, round half to even. */
function toBytes(data: Float32Array, range: PixelRange): Uint8Array {
  const hi = range === '0-1' ? 1 : 255;
  return Uint8Array.from(data, (v) => {
    const clipped = Math.min(Math.max(v, 0), hi);
    const x = hi === 1 ? Math.fround(clipped * 255) : clipped;
    const r = Math.round(x);
    return r - x === 0.5 && r % 2 === 1 ? r - 1 : r;
  });
}

/** Max |ours − golden| over every channel, and how many channels differ by exactly 1. */
function compare(ours: Uint8Array, golden: Uint8Array) {
  let max = 0;
  let offByOne = 0;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(ours[i]! - golden[i]!);
    max = Math.max(max, d);
    if (d === 1) offByOne++;
  }
  return { max, offByOne };
}

/** (3, H, W) planes of an RGBA image's colour channels, as bytes. */
function planes(image: RgbaImage): Uint8Array {
  const n = image.width * image.height;
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = image.data[4 * i + c]!;
  return out;
}

describeEachDevice('UpscalerJS models', (engine, adapter) => {
  for (const c of CASES) {
    const gated = c.slowOn.includes(adapter) && !SLOW;
    it.skipIf(gated)(`${c.name} on the fixture${gated ? ' (slow here: set SYNTHE_SLOW_TESTS=1)' : ''}`, async () => {
      const e = engine();
      const model = await loadKerasGraphModel(e, join(dir, `${c.name}.safetensors`));
      const range = model.pixelRange!;
      const input = e.tensor(imageToNchw(fixture, range), [1, 3, fixture.height, fixture.width]);
      const start = performance.now();
      const output = model.forward(input);
      const data = await output.read();
      const ms = performance.now() - start;
      expect(output.shape).toEqual([1, 3, fixture.height * model.scale, fixture.width * model.scale]);
      input.dispose();
      output.dispose();
      model.dispose();

      const { golden } = c;
      const expected = 'sample' in golden
        ? planes(decodeImage(new Uint8Array(await readFile(join(PACKAGES, golden.sample, 'result.png'))), 'result.png'))
        : await tfjsOutput(golden.tfjs, range);
      const against = 'sample' in golden ? `${golden.sample}/result.png` : `TF.js (wasm) running ${golden.tfjs}`;
      const { max, offByOne } = compare(toBytes(data, range), expected);
      console.log(`${c.name} [${adapter}]: max |diff| ${max}, ${offByOne} of ${expected.length} channels off by 1 vs ${against}; forward + read ${ms.toFixed(0)} ms`);
      expect(max).toBeLessThanOrEqual(1);
    }, 600_000);
  }
});
