/** The shape of bench/results/*.json: one file per adapter and run. */
import type { Stats } from './measure';
import type { Roofline } from './roofline';

export type PeerName = 'tfjs' | 'ort';
export const PEERS: readonly PeerName[] = ['tfjs', 'ort'];
export const PEER_LABELS: Record<PeerName, string> = { tfjs: 'TF.js WebGPU', ort: 'ORT WebGPU' };

/** Timings common to every engine, in milliseconds. */
export interface Timed {
  /** Uploads and session creation, before any run. */
  setupMs?: number;
  /** The first run: shader compilation (and, for ORT, graph preparation) included. */
  firstMs?: number;
  /** Steady state: runs after the warm-up, each ending when the GPU is done. */
  ms?: Stats;
  /**
   * Peak GPU bytes held for the workload: synthe's tensor pool (inputs, output, temporaries); for a peer, the
   * storage buffers its device created during the workload and held at once (gpu_memory.ts: a lower bound).
   */
  peakBytes?: number;
}

export interface PeerResult extends Timed {
  /** 'skipped': not started, a run was estimated to take too long (see SuiteOptions.maxRunMs). */
  status: 'ok' | 'mismatch' | 'unsupported' | 'skipped' | 'failed';
  message?: string;
  /** Normalized error against `checkedAgainst`'s output. */
  error?: number;
  checkedAgainst?: 'synthe' | PeerName;
}

export interface KernelTime {
  label: string;
  /** Best GPU time over the profiled runs, from timestamp queries. */
  ms: number;
}

export interface VariantResult {
  name: string;
  status: 'ok' | 'not eligible' | 'mismatch' | 'failed';
  /** Best GPU time of the profiled runs (timestamps), or best wall-clock time without them. */
  ms?: number;
  /** Normalized error against the default call's output. */
  error?: number;
  message?: string;
}

export interface SyntheResult extends Timed {
  status: 'ok' | 'failed';
  message?: string;
  /** Best GPU time of the default call over the profiled runs, all its dispatches (timestamps). */
  gpuMs?: number;
  kernels?: KernelTime[];
  /** The dispatch labels of the default call: the variant the op picked. */
  defaultVariant?: string;
  variants: VariantResult[];
  /** Fastest eligible variant by GPU time. */
  winner?: string;
}

export interface WorkloadResult {
  name: string;
  tags: readonly string[];
  flops: number;
  bytes: number;
  outputShape: readonly number[];
  /** 'not available' when the synthe op is not registered yet. */
  status: 'ok' | 'not available' | 'failed';
  synthe?: SyntheResult;
  peers: Partial<Record<PeerName, PeerResult>>;
  /** Normalized error between the two peers, when both produced output. */
  peerError?: number;
}

/** A whole-model workload (bench/workloads/diffusion.ts): a sampling run or one forward of a model. */
export interface ModelResult {
  name: string;
  tags: readonly string[];
  /** 'not available' when a file it needs is missing. */
  status: 'ok' | 'not available' | 'failed';
  message?: string;
  /** FLOPs of one run, when counted. */
  flops?: number;
  /** Loading or building the model and uploading its weights. */
  setupMs?: number;
  /** The first run: shader compilation included. */
  firstMs?: number;
  /** Steady-state runs, each ending when the GPU is done. */
  ms?: Stats;
  /** Sampling runs: every denoising step of the timed runs. */
  stepMs?: Stats;
  submitsPerStep?: number;
  /** Submits of one run (forward workloads). */
  submits?: number;
  /** Highest bytes of the tensor pool during the timed runs, plus the recorded plan's own buffers. */
  peakBytes?: number;
  planBytes?: number;
  /** Best GPU time of one run (timestamps) and its costliest dispatch labels. */
  gpuMs?: number;
  kernels?: KernelTime[];
  /** The same model in a peer (ORT through an ONNX export), checked against synthe's output. */
  peers?: Partial<Record<PeerName, PeerResult>>;
}

export interface AdapterResult {
  version: 1;
  /** ISO time the run started. */
  date: string;
  environment: 'node' | 'chromium';
  /** 'lavapipe' or 'swiftshader'. */
  adapter: string;
  /** synthe's adapter as the device reports it. */
  adapterInfo: string;
  /** What each peer's device reports, to show they ran on the same adapter. */
  peerAdapters: Partial<Record<PeerName, string>>;
  host: string;
  settings: { repeat: number; warmup: number; profileRuns: number; budgetMs: number; notes: string[] };
  roofline: Roofline | null;
  workloads: WorkloadResult[];
  /** Whole-model workloads (Node runs only; absent in older files). */
  models?: ModelResult[];
  elapsedS: number;
}
