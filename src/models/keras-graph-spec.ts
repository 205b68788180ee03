/**
 * The Keras graph a converted TF.js layers model carries in its safetensors metadata (`synthe.graph`): the
 * functional graph reduced to the layers synthe runs and the config fields that change their result, with
 * Keras's own class and field names, so the JSON reads like the model.json it came from. Spatial axes are
 * still NHWC here (`Concatenate.axis` 3 is channels); the runner maps them to NCHW.
 *
 * The converter writes it and the runner reads it back from a file that could come from anywhere, so both go
 * through {@link parseKerasGraph}, which checks every field, and {@link inferGraph}, which checks that the
 * layers fit together (channels, inbound counts) before anything runs.
 */
import { SyntheError } from '../errors';

/** A graph that is malformed or whose layers do not fit together. */
export class KerasGraphError extends SyntheError {
  override name = 'KerasGraphError';
}

/** Activations the runner knows (Keras names; 'swish' is SiLU). */
export const KERAS_ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh', 'swish'] as const;
export type KerasActivation = (typeof KERAS_ACTIVATIONS)[number];

type Pair = [number, number];

/** One layer; `inbound` names the layers whose (single) outputs feed it, in order. */
export type KerasLayer =
  | { class: 'InputLayer'; name: string; inbound: string[]; channels: number }
  | {
      class: 'Conv2D';
      name: string;
      inbound: string[];
      filters: number;
      kernel_size: Pair;
      strides: Pair;
      /** TensorFlow's SAME (output ceil(in / stride), extra padding at the bottom/right) or VALID. */
      padding: 'same' | 'valid';
      dilation_rate: Pair;
      groups: number;
      use_bias: boolean;
      activation: KerasActivation;
    }
  | { class: 'Activation'; name: string; inbound: string[]; activation: KerasActivation }
  /** Axis of the NHWC tensor, 0–3. */
  | { class: 'Concatenate'; name: string; inbound: string[]; axis: number }
  | { class: 'Add'; name: string; inbound: string[] }
  /** Nearest-neighbour only: Keras's other modes do not match TF.js's own resize. */
  | { class: 'UpSampling2D'; name: string; inbound: string[]; size: Pair }
  /** UpscalerJS's custom layer: `x * beta`. */
  | { class: 'MultiplyBeta'; name: string; inbound: string[]; beta: number }
  /** UpscalerJS's custom PixelShuffle / PixelShuffleNx layers: `tf.depthToSpace(x, scale, 'NHWC')`. */
  | { class: 'PixelShuffle'; name: string; inbound: string[]; scale: number };

export type KerasLayerClass = KerasLayer['class'];

export interface KerasGraph {
  version: 1;
  /** Names of the InputLayers, in the model's input order. */
  inputs: string[];
  /** Names of the layers whose outputs the model returns. */
  outputs: string[];
  /** In topological order: every layer comes after its inbound layers. */
  layers: KerasLayer[];
}

/** What {@link inferGraph} learns: channels and spatial scale (relative to the input) of every layer. */
export interface GraphShapes {
  channels: Map<string, number>;
  /** Output size / input size along H (and W, which the supported layers keep equal to H's). */
  scale: Map<string, number>;
}

/** The fields each class needs, with their checks. */
const FIELDS: Record<KerasLayerClass, Record<string, (v: unknown) => boolean>> = {
  InputLayer: { channels: positiveInt },
  Conv2D: {
    filters: positiveInt,
    kernel_size: positivePair,
    strides: positivePair,
    padding: (v) => v === 'same' || v === 'valid',
    dilation_rate: positivePair,
    groups: positiveInt,
    use_bias: (v) => typeof v === 'boolean',
    activation: isActivation,
  },
  Activation: { activation: isActivation },
  Concatenate: { axis: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 3 },
  Add: {},
  UpSampling2D: { size: positivePair },
  MultiplyBeta: { beta: (v) => typeof v === 'number' && Number.isFinite(v) },
  PixelShuffle: { scale: positiveInt },
};

/** How many inbound layers each class takes: exactly n, or at least n when negative. */
const ARITY: Record<KerasLayerClass, number> = {
  InputLayer: 0,
  Conv2D: 1,
  Activation: 1,
  Concatenate: -2,
  Add: -2,
  UpSampling2D: 1,
  MultiplyBeta: 1,
  PixelShuffle: 1,
};

/** Parses and checks a graph (a JSON string or an already-parsed value). */
export function parseKerasGraph(value: unknown, label: string): KerasGraph {
  let json = value;
  if (typeof value === 'string') {
    try {
      json = JSON.parse(value);
    } catch (cause) {
      throw new KerasGraphError(`${label}: synthe.graph is not valid JSON (${(cause as Error).message})`, { cause });
    }
  }
  if (!isRecord(json)) throw new KerasGraphError(`${label}: the graph must be an object`);
  if (json.version !== 1) throw new KerasGraphError(`${label}: graph version ${JSON.stringify(json.version)} is not supported (1)`);
  const { inputs, outputs, layers } = json;
  if (!isNameList(inputs) || !isNameList(outputs) || inputs.length === 0 || outputs.length === 0) {
    throw new KerasGraphError(`${label}: the graph needs non-empty name lists "inputs" and "outputs"`);
  }
  if (!Array.isArray(layers)) throw new KerasGraphError(`${label}: the graph's "layers" must be an array`);
  const defined = new Set<string>();
  const parsed = layers.map((layer, i) => {
    const checked = checkLayer(layer, `${label}: layers[${i}]`);
    for (const from of checked.inbound) {
      if (!defined.has(from)) {
        throw new KerasGraphError(`${label}: layer "${checked.name}" takes "${from}", which is not defined before it`);
      }
    }
    if (defined.has(checked.name)) throw new KerasGraphError(`${label}: two layers are named "${checked.name}"`);
    defined.add(checked.name);
    return checked;
  });
  const byName = new Map(parsed.map((l) => [l.name, l]));
  for (const name of inputs) {
    if (byName.get(name)?.class !== 'InputLayer') throw new KerasGraphError(`${label}: input "${name}" is not an InputLayer of the graph`);
  }
  for (const name of outputs) {
    if (!byName.has(name)) throw new KerasGraphError(`${label}: output "${name}" is not a layer of the graph`);
  }
  return { version: 1, inputs: [...inputs], outputs: [...outputs], layers: parsed };
}

function checkLayer(layer: unknown, where: string): KerasLayer {
  if (!isRecord(layer)) throw new KerasGraphError(`${where} must be an object`);
  const cls = layer.class;
  if (typeof cls !== 'string' || !Object.hasOwn(FIELDS, cls)) {
    throw new KerasGraphError(`${where}: layer class ${JSON.stringify(cls)} is not supported (${Object.keys(FIELDS).join(', ')})`);
  }
  const kind = cls as KerasLayerClass;
  if (typeof layer.name !== 'string' || layer.name === '') throw new KerasGraphError(`${where}: a ${kind} needs a non-empty name`);
  const at = `${where} (${kind} "${layer.name}")`;
  if (!isNameList(layer.inbound)) throw new KerasGraphError(`${at}: inbound must be a list of layer names`);
  const arity = ARITY[kind];
  const count = layer.inbound.length;
  if (arity >= 0 ? count !== arity : count < -arity) {
    throw new KerasGraphError(`${at}: takes ${arity >= 0 ? arity : `at least ${-arity}`} inbound layer(s), got ${count}`);
  }
  const out: Record<string, unknown> = { class: kind, name: layer.name, inbound: [...layer.inbound] };
  for (const [field, valid] of Object.entries(FIELDS[kind])) {
    const v = layer[field];
    if (!valid(v)) throw new KerasGraphError(`${at}: invalid ${field} ${JSON.stringify(v)}`);
    out[field] = Array.isArray(v) ? [...v] : v;
  }
  return out as KerasLayer;
}

/**
 * Propagates channel counts and spatial scale through the graph, checking that every layer gets inputs it
 * can take. `convChannels(layer)` gives the input channels a conv's kernel was made for, if known (from the
 * weights), so a kernel that does not fit its inbound layer is reported by name.
 */
export function inferGraph(
  graph: KerasGraph,
  label: string,
  convInputChannels?: (layer: string) => number | undefined,
): GraphShapes {
  const channels = new Map<string, number>();
  const scale = new Map<string, number>();
  for (const layer of graph.layers) {
    const inC = layer.inbound.map((n) => channels.get(n)!);
    const inS = layer.inbound.map((n) => scale.get(n)!);
    const at = `${label}: ${layer.class} "${layer.name}"`;
    if (inS.some((s) => s !== inS[0])) {
      throw new KerasGraphError(`${at} joins inputs of different spatial scales (${layer.inbound.map((n, i) => `${n}: ×${inS[i]}`).join(', ')})`);
    }
    let c: number;
    let s = inS[0] ?? 1;
    switch (layer.class) {
      case 'InputLayer':
        c = layer.channels;
        break;
      case 'Conv2D': {
        const fromWeights = convInputChannels?.(layer.name);
        if (inC[0]! % layer.groups !== 0 || layer.filters % layer.groups !== 0) {
          throw new KerasGraphError(`${at}: groups ${layer.groups} must divide its ${inC[0]} input channels and ${layer.filters} filters`);
        }
        if (fromWeights !== undefined && fromWeights * layer.groups !== inC[0]) {
          throw new KerasGraphError(`${at}: its kernel takes ${fromWeights * layer.groups} input channels but "${layer.inbound[0]}" gives ${inC[0]}`);
        }
        if (layer.strides[0] !== layer.strides[1]) throw new KerasGraphError(`${at}: strides ${JSON.stringify(layer.strides)} differ per axis, which is not supported`);
        c = layer.filters;
        s /= layer.strides[0];
        break;
      }
      case 'Activation':
      case 'MultiplyBeta':
        c = inC[0]!;
        break;
      case 'Add':
        if (inC.some((x) => x !== inC[0])) throw new KerasGraphError(`${at} adds tensors of different channel counts (${inC.join(', ')})`);
        c = inC[0]!;
        break;
      case 'Concatenate':
        if (layer.axis !== 3) throw new KerasGraphError(`${at}: only channel concatenation (axis 3 or -1) is supported, got axis ${layer.axis}`);
        c = inC.reduce((a, b) => a + b, 0);
        break;
      case 'UpSampling2D':
        if (layer.size[0] !== layer.size[1]) throw new KerasGraphError(`${at}: size ${JSON.stringify(layer.size)} differs per axis, which is not supported`);
        c = inC[0]!;
        s *= layer.size[0];
        break;
      case 'PixelShuffle': {
        const block = layer.scale * layer.scale;
        if (inC[0]! % block !== 0) throw new KerasGraphError(`${at}: its ${inC[0]} input channels are not divisible by scale² = ${block}`);
        c = inC[0]! / block;
        s *= layer.scale;
        break;
      }
      default:
        return layer satisfies never;
    }
    channels.set(layer.name, c);
    scale.set(layer.name, s);
  }
  return { channels, scale };
}

function isActivation(v: unknown): v is KerasActivation {
  return (KERAS_ACTIVATIONS as readonly unknown[]).includes(v);
}

function positiveInt(v: unknown): boolean {
  return Number.isSafeInteger(v) && (v as number) > 0;
}

function positivePair(v: unknown): boolean {
  return Array.isArray(v) && v.length === 2 && v.every(positiveInt);
}

function isNameList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((n) => typeof n === 'string' && n !== '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
