/**
 * TensorFlow.js with its WebGPU backend. The backend registers itself only if `navigator.gpu` exists when it
 * is imported, so in Node the caller defines `navigator` first (see node.ts) and this module imports it late.
 */
import type * as Tf from '@tensorflow/tfjs-core';
import { elapsed } from '../measure';
import { boundBytes } from '../gpu_memory';
import { checkedGpu, errorMessage, type RunnerOrReason } from '../runner';
import type { HostInputs, Workload } from '../workloads/types';

export type TfjsModule = typeof Tf;

/** The internals of tfjs-backend-webgpu's backend that ending a step needs (4.x). */
interface WebGPUBackendInternals {
  device: GPUDevice;
  adapterInfo?: { vendor?: string; architecture?: string; description?: string };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** Imports TF.js and switches it to the WebGPU backend; returns the module and the adapter it got. */
export async function loadTfjs(): Promise<{ tf: TfjsModule; adapter: string }> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not initialise its webgpu backend');
  await tf.ready();
  const info = (tf.backend() as unknown as WebGPUBackendInternals).adapterInfo;
  return { tf, adapter: [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') };
}

/**
 * TF.js batches dispatches into a command encoder it submits later; a step ends its compute pass, submits
 * and waits for the queue, as TF.js itself does before a read.
 */
async function finish(tf: TfjsModule): Promise<void> {
  const backend = tf.backend() as unknown as WebGPUBackendInternals;
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  await backend.device.queue.onSubmittedWorkDone();
}

export async function tfjsRunner(tf: TfjsModule, w: Workload, host: HostInputs): Promise<RunnerOrReason> {
  const spec = w.tfjs;
  if ('unsupported' in spec) return spec;
  const tensors: Record<string, Tf.Tensor> = {};
  const { device } = tf.backend() as unknown as WebGPUBackendInternals;
  let bound = 0;
  try {
    const setupMs = await elapsed(async () => {
      for (const [name, t] of Object.entries(spec.inputs(host))) tensors[name] = tf.tensor(t.data, t.shape, 'float32');
    });
    return {
      setupMs,
      step: () =>
        checkedGpu(device, async () => {
          const y = spec.run(tf, tensors);
          await finish(tf);
          y.dispose();
        }),
      result: () =>
        checkedGpu(device, async () => {
          const run = await boundBytes(async () => {
            const y = spec.run(tf, tensors);
            try {
              const data = (await y.data()) as Float32Array;
              return spec.output ? spec.output(data) : data;
            } finally {
              y.dispose();
            }
          });
          bound = run.bytes;
          return run.value;
        }),
      peakBytes: () => bound,
      dispose() {
        for (const t of Object.values(tensors)) t.dispose();
      },
    };
  } catch (error) {
    for (const t of Object.values(tensors)) t.dispose();
    return { failed: errorMessage(error) };
  }
}
