/**
 * ONNX Runtime Web with its WebGPU execution provider (the default bundle's JSEP one), running a one-node
 * model per workload (a short chain of nodes where ONNX has no fused op). Inputs live in GPU buffers on ORT's
 * device and outputs stay on the GPU, so a step times the same thing as synthe's and TF.js's: the op, not
 * uploads or read-backs.
 */
import type * as Ort from 'onnxruntime-web';
import { elapsed } from '../measure';
import { boundBytes } from '../gpu_memory';
import { checkedGpu, errorMessage, type RunnerOrReason } from '../runner';
import type { HostInputs, Workload } from '../workloads/types';
import { onnxModel } from './onnx';

export type OrtModule = typeof Ort;

/** Configures ORT once: one wasm thread (the CPU side is light and the GPU emulation wants the cores). */
export function configureOrt(ort: OrtModule): void {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
}

/** The adapter ORT picked, once a session has created its device. */
export async function ortAdapter(ort: OrtModule): Promise<string> {
  const device = (await ort.env.webgpu.device) as GPUDevice | undefined;
  const info = device?.adapterInfo;
  return [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ');
}

export async function ortRunner(ort: OrtModule, w: Workload, host: HostInputs): Promise<RunnerOrReason> {
  const spec = w.onnx(host);
  return ortSession(ort, onnxModel(spec), spec.inputs.map((i) => ({ ...i, data: host[i.name]!.data })), spec.output.name);
}

/** A session of an ONNX model (bytes) on ORT's WebGPU device, its inputs uploaded once, its output left on the GPU. */
export async function ortSession(
  ort: OrtModule,
  model: Uint8Array,
  inputs: readonly { name: string; shape: readonly number[]; data: Float32Array }[],
  outputName: string,
): Promise<RunnerOrReason> {
  const buffers: GPUBuffer[] = [];
  let session: Ort.InferenceSession | undefined;
  try {
    const feeds: Record<string, Ort.Tensor> = {};
    const setupMs = await elapsed(async () => {
      session = await ort.InferenceSession.create(model, {
        executionProviders: ['webgpu'],
        preferredOutputLocation: 'gpu-buffer',
      });
      const device = await ort.env.webgpu.device;
      for (const input of inputs) {
        const data = input.data;
        const buffer = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
        device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
        buffers.push(buffer);
        feeds[input.name] = ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: input.shape });
      }
      await device.queue.onSubmittedWorkDone();
    });
    const s = session!;
    const device = await ort.env.webgpu.device;
    const name = outputName;
    let bound = 0;
    return {
      setupMs,
      step: () =>
        checkedGpu(device, async () => {
          // ORT submits a run's work by the time run() resolves; the queue wait covers its execution.
          const out = await s.run(feeds);
          await device.queue.onSubmittedWorkDone();
          out[name]!.dispose();
        }),
      result: () =>
        checkedGpu(device, async () => {
          const run = await boundBytes(async () => {
            const out = await s.run(feeds);
            return (await out[name]!.getData(true)) as Float32Array;
          });
          bound = run.bytes;
          return run.value;
        }),
      peakBytes: () => bound,
      dispose() {
        void s.release();
        for (const b of buffers) b.destroy();
      },
    };
  } catch (error) {
    void session?.release();
    for (const b of buffers) b.destroy();
    return { failed: errorMessage(error) };
  }
}
