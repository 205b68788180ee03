/**
 * Runs the whole-model workloads (bench/workloads/diffusion.ts) on one adapter: prepare, one cold run
 * (compilation), timed rounds within the budget, then one run timed per dispatch with timestamp queries.
 * Memory is the tensor pool's peak over the timed runs plus the recorded plan's own buffers. A workload with
 * an ONNX export also runs in ONNX Runtime, whose output is checked against synthe's before it is timed.
 */
import type { Engine } from '../src/index';
import { elapsed, outputError, stats, TOLERANCE } from './measure';
import { ortSession, type OrtModule } from './peers/ort';
import type { KernelTime, ModelResult, PeerResult } from './results';
import { errorMessage, isRunner } from './runner';
import type { SuiteOptions } from './suite';
import type { ModelRun, ModelWorkload, RunReport } from './workloads/diffusion';

/** Dispatch labels listed per workload, costliest first. */
const TOP_KERNELS = 6;

export interface ModelEnv {
  engine: Engine;
  ort: OrtModule | { failed: string } | null;
  options: SuiteOptions;
}

/** Timed rounds for runs of `ms` each: as many as the budget allows, at least 3. */
function roundsFor(ms: number, options: SuiteOptions): number {
  return Math.max(3, Math.min(options.repeat, Math.floor(options.budgetMs / Math.max(ms, 1))));
}

export async function runModelWorkload(env: ModelEnv, w: ModelWorkload): Promise<ModelResult> {
  const { engine, options } = env;
  const result: ModelResult = { name: w.name, tags: w.tags, status: 'ok' };
  await engine.sync();
  engine.runtime.trim();
  let run: ModelRun | null = null;
  try {
    const started = performance.now();
    const prepared = await w.prepare(engine);
    await engine.sync();
    result.setupMs = performance.now() - started;
    if ('unavailable' in prepared) return { ...result, status: 'not available', message: prepared.unavailable };
    run = prepared;
    result.flops = run.flops;
    const first = await timed(run);
    result.firstMs = first.ms;
    engine.runtime.pool.resetPeak();
    const reports: (RunReport & { ms: number })[] = [];
    for (let i = roundsFor(first.ms, options); i > 0; i--) reports.push(await timed(run));
    result.ms = stats(reports.map((r) => r.ms));
    const steps = reports.flatMap((r) => r.stepMs ?? []);
    if (steps.length) {
      result.stepMs = stats(steps);
      result.submitsPerStep = reports.reduce((s, r) => s + (r.submits ?? 0), 0) / steps.length;
    } else {
      result.submits = reports[0]!.submits;
    }
    result.planBytes = Math.max(...reports.map((r) => r.planBytes ?? 0));
    result.peakBytes = engine.memory().peakBytes + result.planBytes;
    if (engine.gpu.features['timestamp-query']) Object.assign(result, await profile(engine, run));
    if (run.onnx && env.ort) result.peers = { ort: await ortPeer(env, run) };
  } catch (error) {
    return { ...result, status: 'failed', message: errorMessage(error) };
  } finally {
    run?.dispose();
  }
  return result;
}

async function timed(run: ModelRun): Promise<RunReport & { ms: number }> {
  let report: RunReport = {};
  const ms = await elapsed(async () => (report = await run.run()));
  return { ...report, ms };
}

/** GPU time of one run by dispatch label. */
async function profile(engine: Engine, run: ModelRun): Promise<{ gpuMs: number; kernels: KernelTime[] }> {
  const { timings } = await engine.profile(() => run.run());
  const byLabel = new Map<string, number>();
  for (const t of timings) byLabel.set(t.label, (byLabel.get(t.label) ?? 0) + t.ns / 1e6);
  const kernels = [...byLabel].map(([label, ms]) => ({ label, ms })).sort((a, b) => b.ms - a.ms);
  return { gpuMs: kernels.reduce((s, k) => s + k.ms, 0), kernels: kernels.slice(0, TOP_KERNELS) };
}

/** ORT on the workload's ONNX export: session, cold run, output check against synthe's, timed runs. */
async function ortPeer(env: ModelEnv, run: ModelRun): Promise<PeerResult> {
  const ort = env.ort!;
  if ('failed' in ort) return { status: 'failed', message: `could not load: ${ort.failed}` };
  const exported = await run.onnx!();
  if ('unavailable' in exported) return { status: 'unsupported', message: exported.unavailable };
  const session = await ortSession(ort, exported.model, exported.inputs, exported.output);
  if (!isRunner(session)) return 'unsupported' in session ? { status: 'unsupported', message: session.unsupported } : { status: 'failed', message: session.failed };
  const result: PeerResult = { status: 'ok', setupMs: session.setupMs };
  try {
    result.firstMs = await elapsed(() => session.step());
    const theirs = await session.result();
    result.error = outputError(theirs, await run.output!());
    result.checkedAgainst = 'synthe';
    if (!(result.error <= TOLERANCE)) result.status = 'mismatch';
    const samples: number[] = [];
    for (let i = roundsFor(result.firstMs, env.options); i > 0; i--) samples.push(await elapsed(() => session.step()));
    result.ms = stats(samples);
    result.peakBytes = session.peakBytes();
  } catch (error) {
    return { ...result, status: 'failed', message: errorMessage(error) };
  } finally {
    session.dispose();
  }
  return result;
}

/** Runs the model workloads in order, logging one line each. */
export async function runModelWorkloads(env: ModelEnv, workloads: readonly ModelWorkload[], log: (line: string) => void, progress: (done: ModelResult[]) => Promise<void>): Promise<ModelResult[]> {
  const done: ModelResult[] = [];
  for (const w of workloads) {
    const r = await runModelWorkload(env, w);
    done.push(r);
    log(modelSummary(r));
    await progress(done);
  }
  return done;
}

export function modelSummary(r: ModelResult): string {
  if (r.status !== 'ok' || !r.ms) return `${r.name}: ${r.status}${r.message ? ` (${r.message})` : ''}`;
  const step = r.stepMs ? `, ${r.stepMs.median.toFixed(1)} ms/step, ${r.submitsPerStep?.toFixed(2)} submits/step` : '';
  const ort = r.peers?.ort;
  const peer = ort ? `, ORT ${ort.ms ? `${ort.ms.median.toFixed(1)} ms` : ort.status}${ort.error !== undefined ? ` (error ${ort.error.toExponential(1)})` : ''}` : '';
  return `${r.name}: ${r.ms.median.toFixed(1)} ms${step}, peak ${((r.peakBytes ?? 0) / 2 ** 20).toFixed(1)} MiB${peer}`;
}
