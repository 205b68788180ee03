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
}

export interface PeerResult extends Timed {
  status: 'ok' | 'mismatch' | 'unsupported' | 'failed';
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
  /** Highest bytes the tensor pool held: inputs, output and temporaries. */
  peakBytes?: number;
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
  elapsedS: number;
}
