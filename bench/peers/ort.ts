/**
 * ONNX Runtime Web with its WebGPU execution provider (the default bundle's JSEP one), running a one-node
 * model per workload. Inputs live in GPU buffers on ORT's device and outputs stay on the GPU, so a step
 * times the same thing as synthe's and TF.js's: the op, not uploads or read-backs.
 */
import type * as Ort from 'onnxruntime-web';
import { elapsed } from '../measure';
import { errorMessage, type RunnerOrReason } from '../runner';
import type { HostInputs, Workload } from '../workloads/types';
import { onnxNodeModel } from './onnx';

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
  const buffers: GPUBuffer[] = [];
  let session: Ort.InferenceSession | undefined;
  try {
    const feeds: Record<string, Ort.Tensor> = {};
    const setupMs = await elapsed(async () => {
      session = await ort.InferenceSession.create(onnxNodeModel(spec), {
        executionProviders: ['webgpu'],
        preferredOutputLocation: 'gpu-buffer',
      });
      const device = await ort.env.webgpu.device;
      for (const input of spec.inputs) {
        const data = host[input.name]!.data;
        const buffer = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
        device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
        buffers.push(buffer);
        feeds[input.name] = ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: input.shape });
      }
      await device.queue.onSubmittedWorkDone();
    });
    const s = session!;
    const device = await ort.env.webgpu.device;
    const name = spec.output.name;
    return {
      setupMs,
      async step() {
        // ORT submits a run's work by the time run() resolves; the queue wait covers its execution.
        const out = await s.run(feeds);
        await device.queue.onSubmittedWorkDone();
        out[name]!.dispose();
      },
      async result() {
        const out = await s.run(feeds);
        return (await out[name]!.getData(true)) as Float32Array;
      },
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
