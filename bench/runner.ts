/** What the harness times: one engine running one workload on inputs already on its device. */

export interface Runner {
  /** Milliseconds spent getting ready (uploads, ONNX session creation); not part of any timing. */
  setupMs: number;
  /** Runs the op once and waits until the GPU has finished it; the output is freed. */
  step(): Promise<void>;
  /** Runs the op once and reads the output back, in PyTorch layout. */
  result(): Promise<Float32Array>;
  dispose(): void;
}

/** A runner, or the reason the engine cannot run the workload (`unsupported`) or failed to set it up. */
export type RunnerOrReason = Runner | { unsupported: string } | { failed: string };

export function isRunner(r: RunnerOrReason): r is Runner {
  return 'step' in r;
}

export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 300);
}
