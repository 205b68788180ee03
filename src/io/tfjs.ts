/**
 * Reading TensorFlow.js layers models: `model.json` (a Keras topology plus a `weightsManifest`) and its binary
 * weight shards. The shards of every manifest group are concatenated in manifest order and the weights are
 * laid out one after another in that stream, little-endian, each `prod(shape)` elements of its stored dtype.
 * Quantized weights are stored as uint8/uint16 codes (`value = code * scale + min`) or as float16.
 *
 * Values come out as f32 in TensorFlow's own layouts (conv kernels `[kh, kw, in, out]`); turning them into
 * PyTorch layouts is the converter's job (src/models/keras-convert.ts).
 */
import { SyntheError } from '../errors';
import { f16ToF32 } from '../tensor/f16';
import { errorText } from './safetensors-header';

/** A model.json, shard or weight that cannot be read or does not add up. */
export class TfjsError extends SyntheError {
  override name = 'TfjsError';
}

/** How a weight is quantized in the shards. */
export interface TfjsQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  /** uint8/uint16 only. */
  min?: number;
  /** uint8/uint16 only. */
  scale?: number;
}

/** One entry of a manifest group's `weights`. */
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  /** The dtype the weight has once decoded. */
  dtype: 'float32' | 'int32' | 'bool';
  quantization?: TfjsQuantization;
}

/** One `weightsManifest` group: shard file names (relative to model.json) and the weights they hold. */
export interface TfjsWeightGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

/** A decoded weight: TensorFlow layout, values as f32 (int32 and bool converted). */
export interface TfjsWeight {
  shape: number[];
  data: Float32Array;
}

/** A layers model read into memory. */
export interface TfjsLayersModel {
  /** `modelTopology` as stored: `{keras_version, backend, model_config: {class_name, config}}` or the bare model config. */
  topology: unknown;
  /** Every weight by manifest name (e.g. `conv1/kernel`), in manifest order. */
  weights: Map<string, TfjsWeight>;
  /** `generatedBy` / `convertedBy` of model.json, when present (e.g. "keras v2.10.0"). */
  generatedBy?: string;
  convertedBy?: string;
}

/** A model.json already in memory, with its shards' bytes in manifest order (all groups, one after another). */
export interface TfjsInMemory {
  modelJson: unknown;
  shards: readonly Uint8Array[];
  /** Names the model in error messages. */
  label?: string;
}

/** Where a layers model comes from: a path to model.json (Node), an http(s)/file URL, or bytes in memory. */
export type TfjsSource = string | URL | TfjsInMemory;

export interface ReadTfjsOptions {
  /** The fetch used for URLs. Defaults to the global fetch. */
  fetch?: typeof fetch;
}

/** Bytes per stored element of each dtype a shard can hold. */
const STORED_BYTES = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 } as const;

/**
 * Reads model.json and its shards and decodes every weight to f32.
 *
 * @throws TfjsError naming the file or the weight when something is missing, malformed or the wrong size.
 */
export async function readTfjsModel(source: TfjsSource, options: ReadTfjsOptions = {}): Promise<TfjsLayersModel> {
  if (typeof source === 'object' && !(source instanceof URL)) {
    const label = source.label ?? '<model.json>';
    return decodeTfjsModel(source.modelJson, source.shards, label);
  }
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const location = typeof source === 'string' && /^https?:\/\//i.test(source) ? new URL(source) : source;
  const label = typeof location === 'string' ? location : location.href;
  const text = new TextDecoder().decode(await readWhole(location, label, fetchFn));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TfjsError(`${label}: not valid JSON (${errorText(cause)})`, { cause });
  }
  const groups = parseManifest(json, label);
  const shards: Uint8Array[] = [];
  for (const path of groups.flatMap((g) => g.paths)) {
    const shard = await resolveShard(location, path);
    shards.push(await readWhole(shard, typeof shard === 'string' ? shard : shard.href, fetchFn));
  }
  return decodeTfjsModel(json, shards, label);
}

/** Validates model.json and decodes the weights from shard bytes given in manifest order. */
export function decodeTfjsModel(modelJson: unknown, shards: readonly Uint8Array[], label: string): TfjsLayersModel {
  const groups = parseManifest(modelJson, label);
  const json = modelJson as Record<string, unknown>;
  const paths = groups.flatMap((g) => g.paths);
  if (shards.length !== paths.length) {
    throw new TfjsError(`${label}: weightsManifest lists ${paths.length} shard(s) but ${shards.length} were given`);
  }
  const weights = decodeWeights(
    groups.flatMap((g) => g.weights),
    concatenate(shards),
    label,
  );
  const model: TfjsLayersModel = { topology: json.modelTopology, weights };
  if (typeof json.generatedBy === 'string') model.generatedBy = json.generatedBy;
  if (typeof json.convertedBy === 'string') model.convertedBy = json.convertedBy;
  return model;
}

/** Checks the parts of model.json this reader relies on and returns the manifest groups. */
export function parseManifest(modelJson: unknown, label: string): TfjsWeightGroup[] {
  if (!isRecord(modelJson)) throw new TfjsError(`${label}: model.json must be a JSON object, got ${kindOf(modelJson)}`);
  if (modelJson.format !== undefined && modelJson.format !== 'layers-model') {
    const hint = modelJson.format === 'graph-model' ? ' (graph models hold a TensorFlow graph, not Keras layers)' : '';
    throw new TfjsError(`${label}: format is ${JSON.stringify(modelJson.format)}, only "layers-model" is supported${hint}`);
  }
  if (!isRecord(modelJson.modelTopology)) throw new TfjsError(`${label}: modelTopology is missing or not an object`);
  const manifest = modelJson.weightsManifest;
  if (!Array.isArray(manifest)) throw new TfjsError(`${label}: weightsManifest must be an array, got ${kindOf(manifest)}`);
  const seen = new Set<string>();
  return manifest.map((group, g) => {
    const where = `${label}: weightsManifest[${g}]`;
    if (!isRecord(group)) throw new TfjsError(`${where} must be an object, got ${kindOf(group)}`);
    const { paths, weights } = group;
    if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string' || p === '')) {
      throw new TfjsError(`${where}.paths must be an array of shard file names`);
    }
    if (!Array.isArray(weights)) throw new TfjsError(`${where}.weights must be an array, got ${kindOf(weights)}`);
    const specs = weights.map((w, i) => parseSpec(w, `${where}.weights[${i}]`));
    for (const { name } of specs) {
      if (seen.has(name)) throw new TfjsError(`${label}: weight ${JSON.stringify(name)} is listed twice in weightsManifest`);
      seen.add(name);
    }
    return { paths: paths as string[], weights: specs };
  });
}

function parseSpec(spec: unknown, where: string): TfjsWeightSpec {
  if (!isRecord(spec)) throw new TfjsError(`${where} must be an object, got ${kindOf(spec)}`);
  const { name, shape, dtype, quantization } = spec;
  if (typeof name !== 'string' || name === '') throw new TfjsError(`${where}: name must be a non-empty string`);
  const at = `${where} (${JSON.stringify(name)})`;
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new TfjsError(`${at}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
    throw new TfjsError(`${at}: dtype ${JSON.stringify(dtype)} is not supported (float32, int32, bool)`);
  }
  const out: TfjsWeightSpec = { name, shape: shape as number[], dtype };
  if (quantization !== undefined && quantization !== null) out.quantization = parseQuantization(quantization, dtype, at);
  return out;
}

function parseQuantization(q: unknown, dtype: TfjsWeightSpec['dtype'], at: string): TfjsQuantization {
  if (!isRecord(q)) throw new TfjsError(`${at}: quantization must be an object, got ${kindOf(q)}`);
  switch (q.dtype) {
    case 'uint8':
    case 'uint16': {
      if (typeof q.min !== 'number' || typeof q.scale !== 'number' || !Number.isFinite(q.min) || !Number.isFinite(q.scale)) {
        throw new TfjsError(`${at}: ${q.dtype} quantization needs finite numbers min and scale, got min=${JSON.stringify(q.min)} scale=${JSON.stringify(q.scale)}`);
      }
      if (dtype === 'bool') throw new TfjsError(`${at}: a bool weight cannot be quantized`);
      return { dtype: q.dtype, min: q.min, scale: q.scale };
    }
    case 'float16':
      if (dtype !== 'float32') throw new TfjsError(`${at}: float16 quantization needs a float32 weight, not ${dtype}`);
      return { dtype: 'float16' };
    default:
      throw new TfjsError(`${at}: quantization dtype ${JSON.stringify(q.dtype)} is not supported (uint8, uint16, float16)`);
  }
}

/** Decodes weights laid out back to back in `data`, which must hold exactly what the specs describe. */
function decodeWeights(specs: readonly TfjsWeightSpec[], data: Uint8Array, label: string): Map<string, TfjsWeight> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const needed = specs.reduce((sum, s) => sum + storedBytes(s), 0);
  if (needed !== data.byteLength) {
    let offset = 0;
    const short = specs.find((s) => (offset += storedBytes(s)) > data.byteLength);
    const detail = short
      ? `; the data ends inside weight ${JSON.stringify(short.name)} ${JSON.stringify(short.shape)}`
      : `; ${data.byteLength - needed} bytes are left over after the last weight`;
    throw new TfjsError(`${label}: weightsManifest describes ${needed} bytes but the shards hold ${data.byteLength}${detail}`);
  }
  const weights = new Map<string, TfjsWeight>();
  let offset = 0;
  for (const spec of specs) {
    weights.set(spec.name, { shape: [...spec.shape], data: decodeOne(spec, view, offset) });
    offset += storedBytes(spec);
  }
  return weights;
}

function decodeOne(spec: TfjsWeightSpec, view: DataView, offset: number): Float32Array {
  const n = elements(spec);
  const out = new Float32Array(n);
  const q = spec.quantization;
  if (q?.dtype === 'float16') {
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(offset + 2 * i, true);
    return f16ToF32(bits);
  }
  if (q) {
    const { min, scale } = q as Required<TfjsQuantization>;
    // Same arithmetic as tfjs-core's decodeWeights: the code times scale plus min in f64, stored as f32
    // (rounded to an integer first for int32 weights).
    const wide = q.dtype === 'uint16';
    for (let i = 0; i < n; i++) {
      const code = wide ? view.getUint16(offset + 2 * i, true) : view.getUint8(offset + i);
      const value = code * scale + min;
      out[i] = spec.dtype === 'int32' ? Math.round(value) : value;
    }
    return out;
  }
  switch (spec.dtype) {
    case 'float32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(offset + 4 * i, true);
      return out;
    case 'int32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(offset + 4 * i, true);
      return out;
    case 'bool':
      for (let i = 0; i < n; i++) out[i] = view.getUint8(offset + i) === 0 ? 0 : 1;
      return out;
    default:
      return spec.dtype satisfies never;
  }
}

function elements(spec: TfjsWeightSpec): number {
  return spec.shape.reduce((p, d) => p * d, 1);
}

function storedBytes(spec: TfjsWeightSpec): number {
  return elements(spec) * STORED_BYTES[spec.quantization?.dtype ?? spec.dtype];
}

function concatenate(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** A shard's location: next to model.json, whether that is a local path or a URL. */
async function resolveShard(modelJson: string | URL, path: string): Promise<string | URL> {
  if (modelJson instanceof URL) return new URL(path, modelJson);
  const { dirname, join } = await import('node:path');
  return join(dirname(modelJson), path);
}

/** A whole local file (Node) or the whole body of a URL. */
async function readWhole(location: string | URL, label: string, fetchFn: typeof fetch): Promise<Uint8Array> {
  if (typeof location === 'string' || location.protocol === 'file:') {
    let fs: typeof import('node:fs/promises');
    try {
      fs = await import('node:fs/promises');
    } catch (cause) {
      throw new TfjsError(`${label}: file paths need Node; in browsers pass a URL or the bytes`, { cause });
    }
    return fs.readFile(location).then(
      (buffer) => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength),
      (cause: unknown) => {
        throw new TfjsError(`${label}: cannot read file (${errorText(cause)})`, { cause });
      },
    );
  }
  let response: Response;
  try {
    response = await fetchFn(location);
  } catch (cause) {
    throw new TfjsError(`${label}: fetch failed (${errorText(cause)})`, { cause });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new TfjsError(`${label}: HTTP ${response.status} ${response.statusText}`.trimEnd());
  }
  return new Uint8Array(await response.arrayBuffer());
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
