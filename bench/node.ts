/**
 * One adapter in Node (run in a child process per adapter by main.ts). synthe gets its device from
 * createEngine; the peers get theirs from a second Dawn instance created for the same adapter and installed
 * as `navigator.gpu`, which is where TF.js and ORT look for WebGPU.
 */
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createEngine } from '../src/index';
import { trackBindings } from './gpu_memory';
import { configureOrt, ortAdapter, type OrtModule } from './peers/ort';
import { loadTfjs, type TfjsModule } from './peers/tfjs';
import type { AdapterResult, ModelResult, PeerName, WorkloadResult } from './results';
import { probeRoofline } from './roofline';
import { errorMessage } from './runner';
import { runModelWorkloads } from './models';
import { runWorkloads, type SuiteOptions } from './suite';
import type { ModelWorkload } from './workloads/diffusion';
import type { Workload } from './workloads/types';

/** Dawn's `adapter=` toggle value for each software driver (its adapter name). */
const DAWN_ADAPTER: Record<string, string> = { lavapipe: 'llvmpipe', swiftshader: 'SwiftShader' };

export interface NodeRunOptions extends SuiteOptions {
  adapter: string;
  peers: readonly PeerName[];
  roofline: boolean;
  notes: string[];
  /** Called with the adapter's results so far, after each workload. */
  save(result: AdapterResult): Promise<void>;
}

export async function runNode(workloads: readonly Workload[], models: readonly ModelWorkload[], options: NodeRunOptions, log: (line: string) => void): Promise<AdapterResult> {
  const started = performance.now();
  const date = new Date().toISOString();
  const engine = await createEngine({ adapter: options.adapter });
  try {
    const { info } = engine.gpu;
    await installPeerGpu(options.adapter);
    const peerAdapters: AdapterResult['peerAdapters'] = {};
    let tfjs: TfjsModule | { failed: string } | null = null;
    let ort: OrtModule | { failed: string } | null = null;
    if (options.peers.includes('tfjs')) {
      try {
        const loaded = await loadTfjs();
        tfjs = loaded.tf;
        peerAdapters.tfjs = loaded.adapter;
      } catch (error) {
        tfjs = { failed: errorMessage(error) };
      }
    }
    if (options.peers.includes('ort')) {
      try {
        ort = await loadOrt();
      } catch (error) {
        ort = { failed: errorMessage(error) };
      }
    }
    const roofline = options.roofline ? await probeRoofline(engine) : null;
    if (roofline) log(`roofline: FMA ${roofline.fmaGflops.toFixed(2)} GFLOP/s, copy ${roofline.copyGBps.toFixed(2)} GB/s`);
    const result = async (workloadResults: WorkloadResult[], modelResults: ModelResult[] = []): Promise<AdapterResult> => {
      if (ort && !('failed' in ort)) peerAdapters.ort ||= await ortAdapter(ort);
      return {
        version: 1,
        date,
        environment: 'node',
        adapter: options.adapter,
        adapterInfo: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' '),
        peerAdapters,
        host: `Node ${process.version}, ${cpus().length}× ${cpus()[0]?.model.trim() ?? 'CPU'}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
        settings: { repeat: options.repeat, warmup: options.warmup, profileRuns: options.profileRuns, budgetMs: options.budgetMs, notes: options.notes },
        roofline,
        workloads: workloadResults,
        models: modelResults,
        elapsedS: (performance.now() - started) / 1000,
      };
    };
    const env = { engine, tfjs, ort, options, log };
    const done = await runWorkloads(env, workloads, async (so) => options.save(await result(so)));
    const modelsDone = await runModelWorkloads({ engine, ort, options }, models, log, async (so) => options.save(await result(done, so)));
    return result(done, modelsDone);
  } finally {
    engine.dispose();
  }
}

/**
 * A Dawn instance for the peers on the named adapter, as `navigator.gpu`, with the buffers their dispatches
 * bind recorded (gpu_memory.ts). ORT writes to the GPU straight from its wasm heap, a SharedArrayBuffer, which
 * Dawn's Node binding rejects: such writes are copied first.
 */
async function installPeerGpu(adapter: string): Promise<void> {
  const dawn = (await import('webgpu')) as unknown as { create(flags: string[]): GPU };
  const name = DAWN_ADAPTER[adapter] ?? adapter;
  const gpu = dawn.create([`adapter=${name}`]);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: `Node.js ${process.version}` }, configurable: true, writable: true });
  trackBindings();
  const queue = (globalThis as unknown as { GPUQueue: { prototype: GPUQueue } }).GPUQueue.prototype;
  const write = queue.writeBuffer as (...args: unknown[]) => undefined;
  queue.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: unknown, dataOffset?: number, size?: number) {
    if (data instanceof SharedArrayBuffer || (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer)) {
      // dataOffset and size count elements of a typed array, bytes otherwise.
      const view = data instanceof SharedArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const unit = ArrayBuffer.isView(data) ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
      const start = (dataOffset ?? 0) * unit;
      const end = size === undefined ? view.byteLength : start + size * unit;
      return write.call(this, buffer, offset, view.slice(start, end));
    }
    // Dawn's binding matches overloads by argument count: pass only what was given.
    const args: unknown[] = [buffer, offset, data];
    if (dataOffset !== undefined) args.push(dataOffset);
    if (size !== undefined) args.push(size);
    return write.apply(this, args);
  } as GPUQueue['writeBuffer'];
}

/**
 * ORT's browser bundle (JSEP WebGPU provider). The package's `node` export is the wasm-only build, so the
 * bundle is imported by path, next to the file the package resolves to.
 */
async function loadOrt(): Promise<OrtModule> {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('onnxruntime-web');
  const ort = (await import(/* @vite-ignore */ pathToFileURL(join(dirname(entry), 'ort.bundle.min.mjs')).href)) as OrtModule;
  configureOrt(ort);
  return ort;
}
