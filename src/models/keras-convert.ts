/**
 * TF.js layers model → safetensors that synthe runs: Conv2D kernels go from TensorFlow's [kh, kw, in, out] to
 * PyTorch's OIHW under `<layer>.weight` / `<layer>.bias`, and the Keras topology is reduced to a
 * {@link KerasGraph} stored as JSON under `synthe.graph`, next to `synthe.arch`, `synthe.scale`,
 * `synthe.pixel_range` and `synthe.source`.
 *
 * ```ts
 * const model = await readTfjsModel('node_modules/@upscalerjs/esrgan-slim/models/x2/model.json');
 * const bytes = tfjsToSafetensors(model, { pixelRange: '0-255', source: '@upscalerjs/esrgan-slim@1.0.0 models/x2' });
 * ```
 */
import type { PixelRange } from '../io/image';
import { type TensorData, writeSafetensors } from '../io/safetensors';
import type { TfjsLayersModel, TfjsWeight } from '../io/tfjs';
import { type KerasGraph, KerasGraphError, inferGraph, parseKerasGraph } from './keras-graph-spec';

/** What the converter cannot learn from model.json. */
export interface KerasConvertOptions {
  /** The value range of the model's input and output pixels (from the code that shipped the model). */
  pixelRange: PixelRange;
  /** Where the model came from, e.g. "@upscalerjs/esrgan-slim@1.0.0 models/x2/model.json". */
  source: string;
  /** The expected upscaling factor; conversion fails if the graph's own factor differs. */
  scale?: number;
}

/** A converted model, ready for {@link writeSafetensors}. */
export interface KerasConversion {
  graph: KerasGraph;
  tensors: Map<string, TensorData>;
  metadata: Record<string, string>;
}

/** Model families recognised by layer names (idealo's image-super-resolution naming), else 'keras'. */
export type KerasArchitecture = 'rdn' | 'rrdn' | 'keras';

/** Converts a layers model to the bytes of a safetensors file. */
export function tfjsToSafetensors(model: TfjsLayersModel, options: KerasConvertOptions): Uint8Array<ArrayBuffer> {
  const { tensors, metadata } = convertTfjsModel(model, options);
  return writeSafetensors(tensors, metadata);
}

/** Converts a layers model: reduced graph, PyTorch-layout tensors and metadata. */
export function convertTfjsModel(model: TfjsLayersModel, options: KerasConvertOptions): KerasConversion {
  const label = options.source;
  const graph = parseKerasGraph(kerasGraphFromTopology(model.topology, label), label);
  const tensors = new Map<string, TensorData>();
  const used = new Set<string>();
  const inChannels = new Map<string, number>();
  for (const layer of graph.layers) {
    if (layer.class !== 'Conv2D') continue;
    const kernel = takeWeight(model, layer.name, 'kernel', used, label);
    const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
    if (kernel.shape.length !== 4 || kh !== layer.kernel_size[0] || kw !== layer.kernel_size[1] || cout !== layer.filters) {
      const want = `[${layer.kernel_size.join(', ')}, in, ${layer.filters}]`;
      throw new KerasGraphError(`${label}: Conv2D "${layer.name}": kernel has shape ${JSON.stringify(kernel.shape)}, expected ${want}`);
    }
    inChannels.set(layer.name, cin);
    tensors.set(`${layer.name}.weight`, { dtype: 'F32', shape: [cout, cin, kh, kw], data: hwioToOihw(kernel) });
    if (layer.use_bias) {
      const bias = takeWeight(model, layer.name, 'bias', used, label);
      if (bias.shape.length !== 1 || bias.shape[0] !== cout) {
        throw new KerasGraphError(`${label}: Conv2D "${layer.name}": bias has shape ${JSON.stringify(bias.shape)}, expected [${cout}]`);
      }
      tensors.set(`${layer.name}.bias`, { dtype: 'F32', shape: [cout], data: bias.data });
    }
  }
  const unused = [...model.weights.keys()].filter((n) => !used.has(n));
  if (unused.length > 0) {
    throw new KerasGraphError(`${label}: weights that no supported layer uses: ${unused.slice(0, 6).join(', ')}${unused.length > 6 ? ', …' : ''}`);
  }
  const shapes = inferGraph(graph, label, (name) => inChannels.get(name));
  if (graph.inputs.length !== 1 || graph.outputs.length !== 1) {
    throw new KerasGraphError(`${label}: an image model has one input and one output; this one has ${graph.inputs.length} and ${graph.outputs.length}`);
  }
  const scale = shapes.scale.get(graph.outputs[0]!)!;
  if (options.scale !== undefined && options.scale !== scale) {
    throw new KerasGraphError(`${label}: the graph upscales by ${scale}, not by the expected ${options.scale}`);
  }
  const metadata: Record<string, string> = {
    'synthe.graph': JSON.stringify(graph),
    'synthe.arch': kerasArchitecture(graph),
    'synthe.scale': String(scale),
    'synthe.pixel_range': options.pixelRange,
    'synthe.source': options.source,
  };
  const producer = [model.generatedBy, model.convertedBy].filter(Boolean).join('; ');
  if (producer) metadata['synthe.producer'] = producer;
  return { graph, tensors, metadata };
}

/** RDN and RRDN as idealo's image-super-resolution names their layers; anything else is a plain Keras graph. */
export function kerasArchitecture(graph: KerasGraph): KerasArchitecture {
  const names = new Set(graph.layers.map((l) => l.name));
  const any = (re: RegExp) => graph.layers.some((l) => re.test(l.name));
  if (names.has('Pre_blocks_conv') && names.has('PreShuffle') && any(/^RRDB_\d+_out$/)) return 'rrdn';
  if (names.has('F_m1') && names.has('GFF_1') && any(/^LRL_\d+$/)) return 'rdn';
  return 'keras';
}

/** `<layer>/<kind>`, also under an outer scope (`model/<layer>/<kind>`) and with a `:0` suffix. */
function takeWeight(model: TfjsLayersModel, layer: string, kind: string, used: Set<string>, label: string): TfjsWeight {
  const exact = `${layer}/${kind}`;
  const candidates = model.weights.has(exact)
    ? [exact]
    : [...model.weights.keys()].filter((n) => n.replace(/:0$/, '').endsWith(`/${exact}`) || n === `${exact}:0`);
  if (candidates.length !== 1) {
    const problem = candidates.length === 0 ? 'is missing' : `is ambiguous (${candidates.join(', ')})`;
    throw new KerasGraphError(`${label}: weight "${exact}" of layer "${layer}" ${problem}`);
  }
  used.add(candidates[0]!);
  return model.weights.get(candidates[0]!)!;
}

/** [kh, kw, in, out] → [out, in, kh, kw]. */
function hwioToOihw({ shape, data }: TfjsWeight): Float32Array {
  const [kh, kw, cin, cout] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        const src = ((y * kw + x) * cin + i) * cout;
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = data[src + o]!;
      }
    }
  }
  return out;
}

// ---- Keras topology → KerasGraph -------------------------------------------------------------------------

type Json = Record<string, unknown>;

/**
 * Reduces a Keras model config (Functional/Model or Sequential, as TF.js stores it in `modelTopology`) to a
 * graph value, which the caller checks with {@link parseKerasGraph}.
 */
export function kerasGraphFromTopology(topology: unknown, label: string): unknown {
  const root = record(topology, `${label}: modelTopology`);
  const modelConfig = root.model_config === undefined ? root : record(root.model_config, `${label}: model_config`);
  const cls = modelConfig.class_name;
  const config = modelConfig.config;
  if (cls === 'Sequential') return sequentialGraph(config, label);
  if (cls !== 'Functional' && cls !== 'Model') {
    throw new KerasGraphError(`${label}: model class ${JSON.stringify(cls)} is not supported (Functional, Model, Sequential)`);
  }
  const c = record(config, `${label}: model_config.config`);
  const layers = list(c.layers, `${label}: model layers`).map((l, i) => {
    const layer = record(l, `${label}: layers[${i}]`);
    return reduceLayer(layer, inboundNames(layer, label), label);
  });
  return { version: 1, inputs: endpoints(c.input_layers, label), outputs: endpoints(c.output_layers, label), layers };
}

function sequentialGraph(config: unknown, label: string): unknown {
  // Keras 2 stores {name, layers}; Keras 1 stored the layer list itself.
  const raw = Array.isArray(config) ? config : list(record(config, `${label}: Sequential config`).layers, `${label}: Sequential layers`);
  const layers: unknown[] = [];
  let previous: string | undefined;
  raw.forEach((l, i) => {
    const layer = record(l, `${label}: layers[${i}]`);
    if (previous === undefined && layer.class_name !== 'InputLayer') {
      const first = record(layer.config, `${label}: layers[0].config`);
      previous = `${String(first.name)}_input`;
      layers.push(reduceLayer({ class_name: 'InputLayer', config: { name: previous, batch_input_shape: first.batch_input_shape } }, [], label));
    }
    layers.push(reduceLayer(layer, previous === undefined ? [] : [previous], label));
    previous = String(record(layer.config, `${label}: layers[${i}].config`).name);
  });
  const first = layers[0] as { name: string } | undefined;
  return { version: 1, inputs: first ? [first.name] : [], outputs: previous ? [previous] : [], layers };
}

/** One Keras layer entry → one graph layer (fields checked later by parseKerasGraph). */
function reduceLayer(layer: Json, inbound: string[], label: string): unknown {
  const cls = layer.class_name;
  const config = record(layer.config, `${label}: layer ${JSON.stringify(layer.name)} config`);
  const name = config.name ?? layer.name;
  const at = `${label}: ${String(cls)} "${String(name)}"`;
  const base = { name, inbound };
  const channelsLast = () => {
    if (config.data_format !== undefined && config.data_format !== 'channels_last') {
      throw new KerasGraphError(`${at}: data_format ${JSON.stringify(config.data_format)} is not supported (channels_last)`);
    }
  };
  switch (cls) {
    case 'InputLayer': {
      const shape = config.batch_input_shape ?? config.batch_shape;
      const channels = Array.isArray(shape) ? shape[shape.length - 1] : undefined;
      if (!Array.isArray(shape) || shape.length !== 4 || typeof channels !== 'number') {
        throw new KerasGraphError(`${at}: needs a 4-D input shape [batch, height, width, channels] with known channels, got ${JSON.stringify(shape)}`);
      }
      return { class: 'InputLayer', ...base, channels };
    }
    case 'Conv2D':
      channelsLast();
      return {
        class: 'Conv2D',
        ...base,
        filters: config.filters,
        kernel_size: pair(config.kernel_size),
        strides: pair(config.strides ?? 1),
        padding: config.padding ?? 'valid',
        dilation_rate: pair(config.dilation_rate ?? 1),
        groups: config.groups ?? 1,
        use_bias: config.use_bias ?? true,
        activation: activation(config.activation ?? 'linear', at),
      };
    case 'Activation':
      return { class: 'Activation', ...base, activation: activation(config.activation, at) };
    case 'Concatenate': {
      const axis = config.axis ?? -1;
      return { class: 'Concatenate', ...base, axis: typeof axis === 'number' && axis < 0 ? axis + 4 : axis };
    }
    case 'Add':
      return { class: 'Add', ...base };
    case 'UpSampling2D':
      channelsLast();
      if ((config.interpolation ?? 'nearest') !== 'nearest') {
        throw new KerasGraphError(`${at}: interpolation ${JSON.stringify(config.interpolation)} is not supported (nearest)`);
      }
      return { class: 'UpSampling2D', ...base, size: pair(config.size ?? 2) };
    case 'MultiplyBeta':
      // UpscalerJS's layer multiplies by a fixed 0.2 and ignores its config; idealo's configs say 0.2 too.
      return { class: 'MultiplyBeta', ...base, beta: config.beta ?? 0.2 };
    default: {
      const shuffle = typeof cls === 'string' ? /^PixelShuffle(?:(\d+)x)?$/.exec(cls) : null;
      if (shuffle) {
        const fromName = shuffle[1] === undefined ? undefined : Number(shuffle[1]);
        const scale = config.scale ?? fromName;
        if (fromName !== undefined && scale !== fromName) throw new KerasGraphError(`${at}: config scale ${JSON.stringify(scale)} contradicts the class name`);
        return { class: 'PixelShuffle', ...base, scale };
      }
      const supported = 'InputLayer, Conv2D, Activation, Concatenate, Add, UpSampling2D, MultiplyBeta, PixelShuffle[N]x';
      throw new KerasGraphError(`${at}: layer class ${JSON.stringify(cls)} is not supported (${supported})`);
    }
  }
}

/** The layers feeding a Functional-model layer, from Keras 2 (`[[name, node, tensor, kwargs], …]`) or Keras 3 node records. */
function inboundNames(layer: Json, label: string): string[] {
  const nodes = layer.inbound_nodes ?? [];
  const at = `${label}: layer ${JSON.stringify(layer.name)}`;
  if (!Array.isArray(nodes)) throw new KerasGraphError(`${at}: inbound_nodes must be an array`);
  if (nodes.length > 1) throw new KerasGraphError(`${at} is called ${nodes.length} times; shared layers are not supported`);
  if (nodes.length === 0) return [];
  const node = nodes[0];
  const refs: unknown[] = Array.isArray(node) ? node : kerasHistories(record(node, `${at}: inbound node`).args);
  return refs.map((ref) => {
    if (!Array.isArray(ref) || typeof ref[0] !== 'string') throw new KerasGraphError(`${at}: malformed inbound node ${JSON.stringify(ref)}`);
    if ((ref[1] ?? 0) !== 0 || (ref[2] ?? 0) !== 0) {
      throw new KerasGraphError(`${at}: takes output ${JSON.stringify(ref.slice(1, 3))} of "${ref[0]}"; only single-use, single-output layers are supported`);
    }
    return ref[0];
  });
}

/** Keras 3 records tensors as `{class_name: '__keras_tensor__', config: {keras_history: [name, node, tensor]}}`. */
function kerasHistories(args: unknown): unknown[] {
  if (Array.isArray(args)) return args.flatMap(kerasHistories);
  if (typeof args !== 'object' || args === null) return [];
  const history = ((args as Json).config as Json | undefined)?.keras_history;
  return history === undefined ? [] : [history];
}

function endpoints(value: unknown, label: string): string[] {
  // [[name, node, tensor], …], or a single [name, node, tensor] in some Keras 3 files.
  const items = list(value, `${label}: input_layers/output_layers`);
  const refs = typeof items[0] === 'string' ? [items] : items;
  return refs.map((ref) => (Array.isArray(ref) ? ref[0] : ref) as string);
}

function activation(name: unknown, at: string): string {
  if (name === 'linear' || name === 'relu' || name === 'sigmoid' || name === 'tanh' || name === 'swish') return name;
  if (name === 'silu') return 'swish';
  throw new KerasGraphError(`${at}: activation ${JSON.stringify(name)} is not supported (linear, relu, sigmoid, tanh, swish)`);
}

function pair(v: unknown): unknown {
  return typeof v === 'number' ? [v, v] : v;
}

function record(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new KerasGraphError(`${what} must be an object`);
  return value as Json;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new KerasGraphError(`${what} must be an array`);
  return value;
}
