/** The whole-model rows of the report: sampling runs and UNet forwards (bench/workloads/diffusion.ts). */
import type { AdapterResult, ModelResult } from './results';
import { MODEL_WORKLOADS } from './workloads/diffusion';

const fmt = (v: number | undefined, digits = 1): string => (v !== undefined && Number.isFinite(v) ? v.toFixed(v >= 100 ? 0 : digits) : '—');
const mib = (bytes: number | undefined): string => (bytes ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : '—');

/** The newest result per model workload for `file`'s environment and adapter, in registry order. */
export function latestModels(files: readonly AdapterResult[], file: AdapterResult): ModelResult[] {
  const order = new Map(MODEL_WORKLOADS.map((w, i) => [w.name, i]));
  const latest = new Map<string, ModelResult>();
  const same = files.filter((f) => f.environment === file.environment && f.adapter === file.adapter);
  for (const f of same.sort((a, b) => a.date.localeCompare(b.date))) {
    for (const m of f.models ?? []) if (order.has(m.name)) latest.set(m.name, m);
  }
  return [...latest.values()].sort((a, b) => order.get(a.name)! - order.get(b.name)!);
}

/** ORT's time, ✗ when its output did not match synthe's, or why it did not run. */
function ortCell(m: ModelResult): string {
  const p = m.peers?.ort;
  if (!p) return '—';
  if (p.status === 'ok' || p.status === 'mismatch') return `${fmt(p.ms?.median)}${p.status === 'mismatch' ? ' ✗' : ''}`;
  return p.status === 'unsupported' ? 'n/a' : 'failed';
}

function row(m: ModelResult, a: AdapterResult): string {
  const where = `${a.adapter} (${a.environment})`;
  if (m.status !== 'ok' || !m.ms) return `| ${m.name} | ${where} | ${m.status}${m.message ? `: ${m.message}` : ''} | | | | | | | | |`;
  const gflops = m.flops ? fmt(m.flops / (m.ms.median * 1e6), 2) : '—';
  const submits = m.submitsPerStep !== undefined ? `${fmt(m.submitsPerStep, 2)}/step` : m.submits !== undefined ? `${m.submits}/run` : '—';
  const ort = m.peers?.ort;
  const versus = ort?.status === 'ok' && ort.ms ? `${(ort.ms.median / m.ms.median).toFixed(2)}×` : '—';
  return `| ${m.name} | ${where} | ${fmt(m.ms.median)} | ${m.stepMs ? fmt(m.stepMs.median) : '—'} | ${gflops} | ${fmt(m.gpuMs)} | ${submits} | ${mib(m.peakBytes)} | ${fmt(m.firstMs, 0)} | ${ortCell(m)} | ${versus} |`;
}

/** The table of every adapter's model results, with the costliest kernels of each below it; empty when none. */
export function modelSection(results: readonly AdapterResult[]): string[] {
  const rows = results.flatMap((a) => (a.models ?? []).map((m) => row(m, a)));
  if (rows.length === 0) return [];
  const notes = results.flatMap((a) =>
    (a.models ?? []).flatMap((m) => {
      const lines: string[] = [];
      if (m.kernels?.length) lines.push(`- **${m.name}**, ${a.adapter}: GPU ${m.kernels.map((k) => `${k.label} ${fmt(k.ms, 2)}`).join(', ')} ms (costliest dispatch labels)`);
      const ort = m.peers?.ort;
      if (ort?.error !== undefined) lines.push(`- **${m.name}**, ${a.adapter}: ORT output vs synthe's, normalized error ${ort.error.toExponential(1)}; ORT session ${fmt(ort.setupMs, 0)} ms + first run ${fmt(ort.firstMs, 0)} ms`);
      else if (ort?.message) lines.push(`- **${m.name}**, ${a.adapter}: ORT ${ort.status}: ${ort.message}`);
      return lines;
    }),
  );
  return [
    '',
    'Whole models (Node): a run is a whole sampling run or one UNet forward, each ending when the GPU is done; peak memory is the tensor pool\'s plus the recorded plan\'s buffers.',
    '',
    '| Model workload | Adapter | ms per run | ms per step | GFLOP/s | GPU ms | Submits | Peak memory | First run ms | ORT ms | ORT / synthe |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
    ...(notes.length ? ['', ...notes] : []),
  ];
}
