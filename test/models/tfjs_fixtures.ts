/**
 * Tiny synthetic TF.js layers models for the converter and graph-runner tests: a Keras functional topology
 * written the way the TF.js converter writes it, plus weight shards with float32, uint8, uint16 and float16
 * storage, and the values TF.js itself decodes from them.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f16ToF32, f32ToF16 } from '../../src/tensor/f16';
import { makeRng } from '../reference/random';

export type Storage = 'float32' | 'uint8' | 'uint16' | 'float16';

export interface FixtureLayer {
  class_name: string;
  name: string;
  config?: Record<string, unknown>;
  inbound?: string[];
}

export interface FixtureWeight {
  name: string;
  shape: number[];
  storage?: Storage;
}

export interface LayersModelFixture {
  modelJson: Record<string, unknown>;
  /** Shard bytes in manifest order. */
  shards: Uint8Array[];
  /** What TF.js decodes for each weight (after dequantization), TensorFlow layout. */
  values: Map<string, Float32Array>;
}

/** A Conv2D layer entry as Keras serialises it. */
export function conv(name: string, inbound: string, filters: number, options: Record<string, unknown> = {}): FixtureLayer {
  const config = {
    filters,
    kernel_size: [3, 3],
    strides: [1, 1],
    padding: 'same',
    data_format: 'channels_last',
    dilation_rate: [1, 1],
    groups: 1,
    activation: 'linear',
    use_bias: true,
    ...options,
  };
  return { class_name: 'Conv2D', name, config, inbound: [inbound] };
}

/** Builds model.json and shards; weights are random, stored as asked, and split into `shardCount` shards. */
export function layersModel(layers: FixtureLayer[], weights: FixtureWeight[], options: { seed?: number; shardCount?: number; output?: string } = {}): LayersModelFixture {
  const rng = makeRng(options.seed ?? 1);
  const values = new Map<string, Float32Array>();
  const chunks: Uint8Array[] = [];
  const specs = weights.map(({ name, shape, storage = 'float32' }) => {
    const n = shape.reduce((p, d) => p * d, 1);
    const raw = Float32Array.from({ length: n }, () => rng.uniform(-0.3, 0.3));
    const { bytes, decoded, quantization } = store(raw, storage);
    values.set(name, decoded);
    chunks.push(bytes);
    return { name, shape, dtype: 'float32', ...(quantization ? { quantization } : {}) };
  });
  const all = concat(chunks);
  const shardCount = options.shardCount ?? 1;
  const shardSize = Math.ceil(all.length / shardCount);
  const shards = Array.from({ length: shardCount }, (_, i) => all.slice(i * shardSize, (i + 1) * shardSize));
  const last = options.output ?? layers[layers.length - 1]!.name;
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'keras v2.10.0',
    convertedBy: 'synthe test fixture',
    modelTopology: {
      keras_version: '2.10.0',
      backend: 'tensorflow',
      model_config: {
        class_name: 'Functional',
        config: {
          name: 'fixture',
          layers: layers.map((l) => ({
            class_name: l.class_name,
            name: l.name,
            config: { name: l.name, trainable: true, dtype: 'float32', ...l.config },
            inbound_nodes: l.inbound ? [l.inbound.map((n) => [n, 0, 0, {}])] : [],
          })),
          input_layers: [[layers[0]!.name, 0, 0]],
          output_layers: [[last, 0, 0]],
        },
      },
    },
    weightsManifest: [{ paths: shards.map((_, i) => `group1-shard${i + 1}of${shardCount}.bin`), weights: specs }],
  };
  return { modelJson, shards, values };
}

/** Writes a fixture to a new temporary directory and returns the path of its model.json. */
export async function writeLayersModel(fixture: LayersModelFixture): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'synthe-tfjs-'));
  const manifest = fixture.modelJson.weightsManifest as { paths: string[] }[];
  await writeFile(join(dir, 'model.json'), JSON.stringify(fixture.modelJson));
  await Promise.all(manifest[0]!.paths.map((p, i) => writeFile(join(dir, p), fixture.shards[i]!)));
  return join(dir, 'model.json');
}

function store(raw: Float32Array, storage: Storage) {
  switch (storage) {
    case 'float32':
      return { bytes: new Uint8Array(raw.slice().buffer), decoded: raw, quantization: undefined };
    case 'float16': {
      const bits = f32ToF16(raw);
      return { bytes: new Uint8Array(bits.buffer), decoded: f16ToF32(bits), quantization: { dtype: 'float16' } };
    }
    case 'uint8':
    case 'uint16': {
      const levels = storage === 'uint8' ? 255 : 65535;
      const min = Math.min(...raw);
      const scale = (Math.max(...raw) - min) / levels;
      const codes = storage === 'uint8' ? new Uint8Array(raw.length) : new Uint16Array(raw.length);
      raw.forEach((v, i) => (codes[i] = Math.round((v - min) / scale)));
      const decoded = Float32Array.from(codes, (q) => q * scale + min);
      const quantization = { dtype: storage, min, scale, original_dtype: 'float32' };
      return { bytes: new Uint8Array(codes.buffer), decoded, quantization };
    }
    default:
      return storage satisfies never;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * A small upscaler using every supported layer and storage: fused and separate activations, channel concat,
 * MultiplyBeta + Add, a stride-2 SAME conv (TensorFlow pads it asymmetrically), a dilated conv, PixelShuffle,
 * nearest UpSampling2D and a final VALID conv, or with `tail: 'same'` a SAME one (which the runner folds with
 * the upsampling into one low-resolution conv). Input 3 channels, output 3 channels at twice the scale.
 */
export function syntheticUpscaler(seed = 1, tail: 'same' | 'valid' = 'valid'): LayersModelFixture {
  const layers: FixtureLayer[] = [
    { class_name: 'InputLayer', name: 'in', config: { batch_input_shape: [null, null, null, 3], sparse: false } },
    conv('c1', 'in', 8, { activation: 'relu' }),
    conv('c2', 'c1', 8),
    { class_name: 'Activation', name: 'a2', config: { activation: 'relu' }, inbound: ['c2'] },
    { class_name: 'Concatenate', name: 'cat', config: { axis: -1 }, inbound: ['c1', 'a2'] },
    conv('c3', 'cat', 8, { kernel_size: [1, 1], padding: 'valid', use_bias: false }),
    { class_name: 'MultiplyBeta', name: 'mb', config: { beta: 0.2 }, inbound: ['c3'] },
    { class_name: 'Add', name: 'add', inbound: ['c1', 'mb'] },
    conv('down', 'add', 8, { strides: [2, 2] }),
    conv('c4', 'down', 12, { dilation_rate: [2, 2], activation: 'sigmoid' }),
    { class_name: 'PixelShuffle2x', name: 'ps', config: { scale: 2 }, inbound: ['c4'] },
    { class_name: 'UpSampling2D', name: 'up', config: { size: [2, 2], interpolation: 'nearest', data_format: 'channels_last' }, inbound: ['ps'] },
    conv('out', 'up', 3, { padding: tail, activation: 'tanh' }),
  ];
  // Listed by name, not in layer order, as the TF.js converter does.
  const weights: FixtureWeight[] = [
    { name: 'c1/bias', shape: [8] },
    { name: 'c1/kernel', shape: [3, 3, 3, 8] },
    { name: 'c2/bias', shape: [8], storage: 'uint8' },
    { name: 'c2/kernel', shape: [3, 3, 8, 8], storage: 'uint8' },
    { name: 'c3/kernel', shape: [1, 1, 16, 8], storage: 'float16' },
    { name: 'c4/bias', shape: [12], storage: 'float16' },
    { name: 'c4/kernel', shape: [3, 3, 8, 12] },
    { name: 'down/bias', shape: [8], storage: 'uint16' },
    { name: 'down/kernel', shape: [3, 3, 8, 8], storage: 'uint16' },
    { name: 'out/bias', shape: [3] },
    { name: 'out/kernel', shape: [3, 3, 3, 3] },
  ];
  return layersModel(layers, weights, { seed, shardCount: 3 });
}
