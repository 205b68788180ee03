/**
 * The benchmark page: the same suite as in Node, on the browser's WebGPU adapter (SwiftShader in headless
 * Chromium). browser.ts drives it through `window.runBench` and collects the result.
 */
import { createEngine } from '../../src/index';
import { trackBindings } from '../gpu_memory';
import { configureOrt, ortAdapter, type OrtModule } from '../peers/ort';
import { loadTfjs, type TfjsModule } from '../peers/tfjs';
import type { AdapterResult, PeerName, WorkloadResult } from '../results';
import { probeRoofline } from '../roofline';
import { errorMessage } from '../runner';
import { runWorkloads, type SuiteOptions } from '../suite';
import { WORKLOADS } from '../workloads/index';

export interface PageOptions extends SuiteOptions {
  workloads: string[];
  peers: PeerName[];
  roofline: boolean;
}

declare global {
  interface Window {
    runBench(options: PageOptions): Promise<AdapterResult>;
  }
}

const logElement = document.getElementById('log')!;
function log(line: string): void {
  logElement.textContent += `\n${line}`;
  console.log(`[bench] ${line}`);
}

window.runBench = async (options) => {
  const started = performance.now();
  const date = new Date().toISOString();
  trackBindings();
  const engine = await createEngine();
  try {
    const { info } = engine.gpu;
    const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
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
        ort = await import('onnxruntime-web');
        configureOrt(ort);
      } catch (error) {
        ort = { failed: errorMessage(error) };
      }
    }
    const roofline = options.roofline ? await probeRoofline(engine) : null;
    if (roofline) log(`roofline: FMA ${roofline.fmaGflops.toFixed(2)} GFLOP/s, copy ${roofline.copyGBps.toFixed(2)} GB/s`);
    const workloads = WORKLOADS.filter((w) => options.workloads.includes(w.name));
    const done: WorkloadResult[] = await runWorkloads({ engine, tfjs, ort, options, log }, workloads, () => {});
    if (ort && !('failed' in ort)) peerAdapters.ort = await ortAdapter(ort);
    return {
      version: 1,
      date,
      environment: 'chromium',
      adapter: /swiftshader/i.test(description) || info.isFallbackAdapter ? 'swiftshader' : (info.description || info.vendor || 'unknown').toLowerCase(),
      adapterInfo: description,
      peerAdapters,
      host: navigator.userAgent.match(/Chrom(e|ium)\/[\d.]+/)?.[0] ?? navigator.userAgent,
      settings: { repeat: options.repeat, warmup: options.warmup, profileRuns: options.profileRuns, budgetMs: options.budgetMs, notes: [] },
      roofline,
      workloads: done,
      elapsedS: (performance.now() - started) / 1000,
    };
  } finally {
    engine.dispose();
  }
};
logElement.textContent = 'ready';
