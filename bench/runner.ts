/** What the harness times: one engine running one workload on inputs already on its device. */

export interface Runner {
  /** Milliseconds spent getting ready (uploads, ONNX session creation); not part of any timing. */
  setupMs: number;
  /** Runs the op once and waits until the GPU has finished it; the output is freed. */
  step(): Promise<void>;
  /** Runs the op once and reads the output back, in PyTorch layout. */
  result(): Promise<Float32Array>;
  /**
   * Peak GPU bytes: synthe's tensor pool peak; for a peer, the storage buffers its last `result()` run bound
   * (gpu_memory.ts), 0 before one.
   */
  peakBytes(): number;
  dispose(): void;
}

/** A runner, or the reason the engine cannot run the workload (`unsupported`) or failed to set it up. */
export type RunnerOrReason = Runner | { unsupported: string } | { failed: string };

export function isRunner(r: RunnerOrReason): r is Runner {
  return 'step' in r;
}

/**
 * Runs `fn` inside validation and out-of-memory error scopes of a peer's device and throws the first error
 * they caught. Peers report such errors only to the console and go on with garbage (TF.js binding a buffer
 * over the adapter's limit), which must fail the peer, not be timed.
 */
export async function checkedGpu<T>(device: GPUDevice, fn: () => Promise<T>): Promise<T> {
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  const settled = await fn().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const oom = await device.popErrorScope();
  const invalid = await device.popErrorScope();
  // A GPU error comes first: whatever fn threw after it is a consequence.
  if (oom || invalid) throw new Error(`WebGPU ${oom ? 'out-of-memory' : 'validation'} error: ${(oom ?? invalid)!.message}`);
  if ('error' in settled) throw settled.error;
  return settled.value;
}

export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 300);
}
