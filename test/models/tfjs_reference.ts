/**
 * TensorFlow.js itself as the reference for converted Keras graphs: loads a layers model from model.json and
 * shard bytes (with UpscalerJS's custom layers registered the way its packages do) and predicts on the CPU
 * or wasm backend. Inputs and outputs are NCHW here, like the engine's; TF.js runs NHWC inside.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

type Inputs = tf.Tensor | tf.Tensor[];
const first = (x: Inputs) => (Array.isArray(x) ? x[0]! : x);

/** UpscalerJS's `x * 0.2` layer; reads `beta` from the config so fixtures can use other factors. */
class MultiplyBeta extends tf.layers.Layer {
  static className = 'MultiplyBeta';
  private readonly beta: number;
  constructor(config: { name?: string; beta?: number }) {
    super({ name: config.name });
    this.beta = config.beta ?? 0.2;
  }
  override call(inputs: Inputs): tf.Tensor {
    return tf.mul(first(inputs), this.beta);
  }
}

/** UpscalerJS's PixelShuffle layers: `tf.depthToSpace(x, scale, 'NHWC')`. */
function pixelShuffle(className: string) {
  return class extends tf.layers.Layer {
    static className = className;
    private readonly scale: number;
    constructor(config: { name?: string; scale: number }) {
      super({ name: config.name });
      this.scale = config.scale;
    }
    override computeOutputShape(shape: tf.Shape | tf.Shape[]): tf.Shape {
      const s = shape as number[];
      return [s[0]!, s[1]! * this.scale, s[2]! * this.scale, s[3]! / (this.scale * this.scale)];
    }
    override call(inputs: Inputs): tf.Tensor {
      return tf.depthToSpace(first(inputs) as tf.Tensor4D, this.scale, 'NHWC');
    }
  };
}

let registered = false;
let wasmPathSet = false;

function register(): void {
  if (registered) return;
  registered = true;
  tf.serialization.registerClass(MultiplyBeta);
  for (const name of ['PixelShuffle', 'PixelShuffle2x', 'PixelShuffle3x', 'PixelShuffle4x', 'PixelShuffle8x']) {
    tf.serialization.registerClass(pixelShuffle(name));
  }
}

async function useBackend(backend: 'cpu' | 'wasm'): Promise<void> {
  if (backend === 'wasm' && !wasmPathSet) {
    wasmPathSet = true;
    setWasmPaths(`${dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'))}/`);
  }
  if (tf.getBackend() === backend) return;
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend '${backend}' failed to initialise`);
}

/** TF.js's prediction for an NCHW input, returned NCHW. */
export async function tfjsPredict(
  modelJson: Record<string, unknown>,
  shards: readonly Uint8Array[],
  input: Float32Array,
  shape: readonly [number, number, number, number],
  backend: 'cpu' | 'wasm' = 'cpu',
): Promise<{ data: Float32Array; shape: [number, number, number, number] }> {
  register();
  await useBackend(backend);
  const weightData = new Uint8Array(shards.reduce((s, b) => s + b.length, 0));
  let offset = 0;
  for (const b of shards) {
    weightData.set(b, offset);
    offset += b.length;
  }
  const manifest = modelJson.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[];
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology as object,
      weightSpecs: manifest.flatMap((g) => g.weights),
      weightData: weightData.buffer,
    }),
  );
  try {
    const nchw = tf.tensor4d(input, [...shape]);
    const nhwc = tf.transpose(nchw, [0, 2, 3, 1]);
    const y = model.predict(nhwc) as tf.Tensor4D;
    const out = tf.transpose(y, [0, 3, 1, 2]);
    const data = (await out.data()) as Float32Array;
    const result = { data, shape: out.shape as [number, number, number, number] };
    tf.dispose([nchw, nhwc, y, out]);
    return result;
  } finally {
    model.dispose();
  }
}
