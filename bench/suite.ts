/**
 * Runs the selected workloads on one adapter for synthe and each peer, the same way in Node and in the
 * browser page: set up every runner, run each once cold (compile time), check the peers' outputs against
 * synthe's, warm up, then time rounds in which every runner runs once, in a rotating order so a change in
 * machine load hits them alike. synthe's default call is also profiled with timestamp queries, and every
 * variant its op family exports is timed and checked on the same inputs.
 */
import type { Engine, KernelTiming, Tensor } from '../src/index';
import { elapsed, outputError, stats, TOLERANCE } from './measure';
import { ortRunner, type OrtModule } from './peers/ort';
import { tfjsRunner, type TfjsModule } from './peers/tfjs';
import { PEERS, type KernelTime, type PeerName, type PeerResult, type SyntheResult, type VariantResult, type WorkloadResult } from './results';
import { summaryLine } from './report';
import { errorMessage, isRunner, type Runner, type RunnerOrReason } from './runner';
import { hasOp, syntheInputs, syntheRunner, type SyntheRunner } from './synthe';
import type { BenchOpName, HostInputs, Workload } from './workloads/types';

export interface SuiteOptions {
  /** Timed rounds per workload (fewer when a round would blow the budget). */
  repeat: number;
  /** Untimed rounds after the cold run and the checked run. */
  warmup: number;
  /** Timestamp-profiled runs of synthe's default call and of each variant; the best counts. */
  profileRuns: number;
  /** Time the timed rounds of one workload may take; slow adapters get fewer rounds (never under 3). */
  budgetMs: number;
  /**
   * Longest run a peer is started for, estimated from its own speed on an earlier workload of the same op
   * (attention composites over 4096 tokens take minutes per run on SwiftShader); longer ones are skipped.
   */
  maxRunMs: number;
  /** Time and check every exported variant. */
  variants: boolean;
}

export interface SuiteEnv {
  engine: Engine;
  /** Loaded peers, or why one is missing. */
  tfjs: TfjsModule | { failed: string } | null;
  ort: OrtModule | { failed: string } | null;
  options: SuiteOptions;
  log(line: string): void;
}

type Contender = { name: 'synthe' | PeerName; runner: Runner; result: SyntheResult | PeerResult; output?: Float32Array };

/** Each peer's best speed so far per op, in FLOPs per millisecond, and the workload it was measured on. */
export type PeerSpeeds = Map<BenchOpName, Partial<Record<PeerName, { flopsPerMs: number; on: string }>>>;

export async function runWorkload(env: SuiteEnv, w: Workload, speeds: PeerSpeeds = new Map()): Promise<WorkloadResult> {
  const { engine, options } = env;
  const host = w.inputs();
  const result: WorkloadResult = {
    name: w.name, tags: w.tags, flops: w.flops, bytes: w.bytes, outputShape: w.outputShape,
    status: hasOp(engine, w) ? 'ok' : 'not available',
    peers: {},
  };
  const contenders: Contender[] = [];
  let inputs: Awaited<ReturnType<typeof syntheInputs>> | null = null;

  // Pending work may still use buffers that are free in the pool (an op that threw after encoding): submit it
  // before trimming, so the peak counts this workload only.
  await engine.sync();
  engine.runtime.trim();
  engine.runtime.pool.resetPeak();
  // Tensors earlier work never freed still hold pool buffers; they are not this workload's memory.
  const leftover = engine.memory().allocatedBytes;
  let synthe: SyntheRunner | null = null;
  if (result.status === 'ok') {
    try {
      inputs = await syntheInputs(engine, host);
      synthe = syntheRunner(engine, w, inputs.tensors);
      result.synthe = { status: 'ok', setupMs: inputs.setupMs, variants: [] };
      contenders.push({ name: 'synthe', runner: synthe, result: result.synthe });
    } catch (error) {
      result.synthe = { status: 'failed', message: errorMessage(error), variants: [] };
    }
  }
  for (const name of ['tfjs', 'ort'] as const) {
    // The best speed seen makes the estimate a lower bound: a peer is skipped only when even that is too long.
    const seen = speeds.get(w.op)?.[name];
    const estimateMs = seen ? w.flops / seen.flopsPerMs : 0;
    if (estimateMs > options.maxRunMs) {
      const message = `estimated ${(estimateMs / 1000).toFixed(0)} s per run at its speed on ${seen!.on}, over the ${options.maxRunMs / 1000} s limit (--max-run)`;
      result.peers[name] = { status: 'skipped', message };
      continue;
    }
    const peer = await peerRunner(env, name, w, host);
    if (isRunner(peer)) {
      const r: PeerResult = { status: 'ok', setupMs: peer.setupMs };
      result.peers[name] = r;
      contenders.push({ name, runner: peer, result: r });
    } else {
      result.peers[name] = 'unsupported' in peer ? { status: 'unsupported', message: peer.unsupported } : { status: 'failed', message: peer.failed };
    }
  }

  try {
    // Cold run, then a second run whose output each engine is checked with (it also warms up). An engine whose
    // checked run alone exceeds the budget (attention composites over 4096 tokens on a CPU adapter) is timed by
    // that run only: it follows the cold run, so it is steady state, plus one read-back.
    let roundMs = 0;
    const timedOnce = new Set<Contender>();
    for (const c of contenders) {
      try {
        c.result.firstMs = await elapsed(() => c.runner.step());
        const checkMs = await elapsed(async () => (c.output = await c.runner.result()));
        if (checkMs > options.budgetMs) {
          c.result.ms = stats([checkMs]);
          timedOnce.add(c);
        } else {
          roundMs += checkMs;
        }
      } catch (error) {
        fail(c, error);
      }
    }
    checkOutputs(result, contenders);

    const live = () => contenders.filter((c) => !timedOnce.has(c) && (c.result.status === 'ok' || c.result.status === 'mismatch'));
    for (let i = 0; i < options.warmup; i++) roundMs = await round(live(), null);
    const rounds = roundMs > 0 ? Math.max(3, Math.min(options.repeat, Math.floor(options.budgetMs / roundMs))) : options.repeat;
    const samples = new Map<Contender, number[]>();
    for (let i = 0; i < rounds; i++) await round(rotate(live(), i), samples);
    for (const [c, s] of samples) c.result.ms = stats(s);
    for (const c of contenders) {
      if (c.result.status !== 'failed') c.result.peakBytes = c.runner.peakBytes() - (c.name === 'synthe' ? leftover : 0);
    }
    if (leftover > 0 && result.synthe) result.synthe.message = `${(leftover / 2 ** 20).toFixed(1)} MiB of tensors from earlier workloads were never freed`;

    if (synthe && result.synthe?.status === 'ok') {
      await profileDefault(env, synthe, result.synthe);
      const defaultMs = result.synthe.ms?.median ?? Infinity;
      if (options.variants && defaultMs > options.budgetMs) {
        result.synthe.message = [result.synthe.message, `variants not run: one run takes longer than the ${options.budgetMs / 1000} s budget`].filter(Boolean).join('; ');
      } else if (options.variants) {
        const reference = contenders.find((c) => c.name === 'synthe')?.output;
        result.synthe.variants = await runVariants(env, w, inputs!.tensors, reference, result.synthe.ms?.median ?? Infinity);
        const ok = result.synthe.variants.filter((v) => v.status === 'ok' && v.ms !== undefined);
        result.synthe.winner = ok.sort((a, b) => a.ms! - b.ms!)[0]?.name;
      }
    }
  } finally {
    for (const c of contenders) c.runner.dispose();
    inputs?.dispose();
  }
  if (result.synthe?.status === 'failed') result.status = 'failed';
  return result;
}

/** One runner per contender; a failing step marks its contender failed and drops it from later rounds. */
async function round(contenders: readonly Contender[], samples: Map<Contender, number[]> | null): Promise<number> {
  let total = 0;
  for (const c of contenders) {
    try {
      const ms = await elapsed(() => c.runner.step());
      total += ms;
      if (samples) samples.set(c, [...(samples.get(c) ?? []), ms]);
    } catch (error) {
      fail(c, error);
    }
  }
  return total;
}

function rotate<T>(list: readonly T[], by: number): T[] {
  const k = list.length ? by % list.length : 0;
  return [...list.slice(k), ...list.slice(0, k)];
}

function fail(c: Contender, error: unknown): void {
  c.result.status = 'failed';
  c.result.message = errorMessage(error);
}

/**
 * Peers are checked against synthe's output; without one (op not available, or synthe failed) the ORT
 * output is checked against TF.js's so their times still mean something.
 */
function checkOutputs(result: WorkloadResult, contenders: readonly Contender[]): void {
  const output = (name: Contender['name']) => contenders.find((c) => c.name === name && c.result.status === 'ok')?.output;
  const reference = output('synthe') ? ('synthe' as const) : output('tfjs') ? ('tfjs' as const) : null;
  for (const c of contenders) {
    if (c.name === 'synthe' || c.result.status !== 'ok' || !reference || reference === c.name) continue;
    const r = c.result as PeerResult;
    r.error = outputError(c.output!, output(reference)!);
    r.checkedAgainst = reference;
    if (!(r.error <= TOLERANCE)) r.status = 'mismatch';
  }
  const tf = output('tfjs');
  const ort = output('ort');
  if (tf && ort) result.peerError = outputError(ort, tf);
}

async function peerRunner(env: SuiteEnv, name: PeerName, w: Workload, host: HostInputs): Promise<RunnerOrReason> {
  const mod = env[name];
  if (!mod) return { unsupported: 'not run (--peers)' };
  if ('failed' in mod) return { failed: `could not load: ${mod.failed}` };
  try {
    return name === 'tfjs' ? await tfjsRunner(mod as TfjsModule, w, host) : await ortRunner(mod as OrtModule, w, host);
  } catch (error) {
    return { failed: errorMessage(error) };
  }
}

/**
 * Best time per dispatch label over the profiled runs, and the best total: other processes on the machine can
 * only slow a GPU run down, so the minimum is the estimate least disturbed by them.
 */
function summarise(runs: readonly KernelTiming[][]): { gpuMs: number; kernels: KernelTime[] } {
  const byLabel = new Map<string, number[]>();
  for (const timings of runs) {
    const perRun = new Map<string, number>();
    for (const t of timings) perRun.set(t.label, (perRun.get(t.label) ?? 0) + t.ns / 1e6);
    for (const [label, ms] of perRun) byLabel.set(label, [...(byLabel.get(label) ?? []), ms]);
  }
  const totals = runs.map((timings) => timings.reduce((sum, t) => sum + t.ns / 1e6, 0));
  return {
    gpuMs: Math.min(...totals),
    kernels: [...byLabel].map(([label, ms]) => ({ label, ms: Math.min(...ms) })),
  };
}

async function profileDefault(env: SuiteEnv, runner: SyntheRunner, result: SyntheResult): Promise<void> {
  if (!env.engine.gpu.features['timestamp-query']) return;
  try {
    const runs: KernelTiming[][] = [];
    const count = (result.ms?.median ?? 0) > env.options.budgetMs ? 1 : env.options.profileRuns;
    for (let i = 0; i < count; i++) runs.push(await runner.profile());
    Object.assign(result, summarise(runs));
    result.defaultVariant = [...new Set(runs[0]!.map((t) => t.label))].join(' + ');
  } catch (error) {
    result.message = `profiling failed: ${errorMessage(error)}`;
  }
}

/** Every exported variant, forced on the same inputs: checked against the default call, then timed. */
async function runVariants(env: SuiteEnv, w: Workload, tensors: Record<string, Tensor>, reference: Float32Array | undefined, defaultMs: number): Promise<VariantResult[]> {
  const out: VariantResult[] = [];
  const timestamps = env.engine.gpu.features['timestamp-query'];
  for (const name of w.variants?.() ?? []) {
    const runner = syntheRunner(env.engine, w, tensors, name);
    const v: VariantResult = { name, status: 'ok' };
    out.push(v);
    let output: Float32Array;
    let firstMs: number;
    try {
      firstMs = await elapsed(async () => (output = await runner.result())); // compiles; throws when the variant does not apply
    } catch (error) {
      Object.assign(v, { status: 'not eligible', message: errorMessage(error) });
      continue;
    }
    try {
      if (reference) {
        v.error = outputError(output!, reference);
        if (!(v.error <= TOLERANCE)) v.status = 'mismatch';
      }
      // A variant far slower than the default (a workgroup-tiled kernel on a CPU adapter), or one slower than
      // the whole budget, is timed once.
      const runs = firstMs > 5 * defaultMs || firstMs > env.options.budgetMs ? 1 : env.options.profileRuns;
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        times.push(timestamps ? summarise([await runner.profile()]).gpuMs : await elapsed(() => runner.step()));
      }
      v.ms = Math.min(...times);
    } catch (error) {
      Object.assign(v, { status: 'failed', message: errorMessage(error) });
    }
  }
  return out;
}

/** Runs the workloads in order, logging one line each and passing the results so far to `progress`. */
export async function runWorkloads(env: SuiteEnv, workloads: readonly Workload[], progress: (done: WorkloadResult[]) => Promise<void> | void): Promise<WorkloadResult[]> {
  const done: WorkloadResult[] = [];
  const speeds: PeerSpeeds = new Map();
  for (const w of workloads) {
    let r: WorkloadResult;
    try {
      r = await runWorkload(env, w, speeds);
    } catch (error) {
      // Something outside any one runner broke (device lost, an error surfacing at a sync): keep going.
      r = {
        name: w.name, tags: w.tags, flops: w.flops, bytes: w.bytes, outputShape: w.outputShape, status: 'failed',
        synthe: { status: 'failed', message: errorMessage(error), variants: [] }, peers: {},
      };
    }
    done.push(r);
    for (const name of PEERS) {
      const ms = r.peers[name]?.ms?.median;
      const best = speeds.get(w.op)?.[name];
      if (ms && (!best || w.flops / ms > best.flopsPerMs)) speeds.set(w.op, { ...speeds.get(w.op), [name]: { flopsPerMs: w.flops / ms, on: w.name } });
    }
    env.log(summaryLine(r));
    await progress(done);
  }
  return done;
}
