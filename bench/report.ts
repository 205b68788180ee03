/**
 * Markdown for bench/results/latest.md and the README: one row per workload and adapter with the napkin
 * math (GFLOP/s, % of the adapter's FMA peak, GB/s), the peers' times and synthe's speed-up over the faster
 * peer whose output matched; then peak memory, compile times, per-kernel GPU times and every failure or
 * mismatch.
 */
import type { AdapterResult, PeerName, PeerResult, SyntheResult, WorkloadResult } from './results';
import { PEER_LABELS, PEERS } from './results';
import { latestModels, modelSection } from './report-models';
import { WORKLOADS } from './workloads/index';

const fmt = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(v >= 100 ? 0 : digits) : '—');
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const where = (a: AdapterResult): string => `${a.adapter} (${a.environment})`;

/** The fastest peer whose output matched synthe's, as [name, ms]. */
export function fastestPeer(w: WorkloadResult): [PeerName, number] | null {
  let best: [PeerName, number] | null = null;
  for (const name of PEERS) {
    const p = w.peers[name];
    if (p?.status === 'ok' && p.checkedAgainst === 'synthe' && p.ms && (!best || p.ms.median < best[1])) best = [name, p.ms.median];
  }
  return best;
}

/** synthe's speed-up over the faster matching peer (> 1: synthe is faster). */
export function speedup(w: WorkloadResult): number | null {
  const peer = fastestPeer(w);
  const ms = w.synthe?.ms?.median;
  return peer && ms ? peer[1] / ms : null;
}

/** A median time; `¹` marks a time from one run (a run longer than the budget, see suite.ts). */
function msCell(ms: { median: number; runs: number } | undefined): string {
  return ms ? `${fmt(ms.median)}${ms.runs === 1 ? '¹' : ''}` : '—';
}

function peerCell(p: PeerResult | undefined): string {
  if (!p) return '—';
  switch (p.status) {
    case 'ok':
      return msCell(p.ms);
    case 'mismatch':
      return `${msCell(p.ms)} ✗`;
    case 'unsupported':
      return 'n/a';
    case 'skipped':
      return 'skipped';
    case 'failed':
      return 'failed';
    default:
      return p.status satisfies never;
  }
}

/**
 * The winner, with the default call's pick when its dispatch labels name a different variant
 * (`conv2d:subgroup`). Labels that name none (`matmul`) leave the default unknown: the details list its time.
 */
function variantCell(s: SyntheResult): string {
  if (!s.winner) return s.defaultVariant ?? '—';
  const tokens = new Set((s.defaultVariant ?? '').split(/[\s+:]+/));
  const picked = s.variants.find((v) => tokens.has(v.name));
  return picked && picked.name !== s.winner ? `${s.winner} (default ${picked.name})` : s.winner;
}

function syntheCells(w: WorkloadResult, a: AdapterResult): string[] {
  if (w.status === 'not available') return ['not available', '', '', '', ''];
  const s = w.synthe;
  if (!s || s.status === 'failed' || !s.ms) return ['failed', '', '', '', ''];
  const ms = s.ms.median;
  const gflops = w.flops / (ms * 1e6);
  const peak = a.roofline ? `${fmt((100 * gflops) / a.roofline.fmaGflops)} %` : '—';
  return [msCell(s.ms), fmt(gflops, 2), peak, fmt(w.bytes / (ms * 1e6), 2), variantCell(s)];
}

function mainTable(results: readonly AdapterResult[]): string[] {
  const lines = [
    '| Workload | Adapter | synthe ms | GFLOP/s | % FMA peak | GB/s | Winning variant | TF.js ms | ORT ms | vs faster peer |',
    '|---|---|--:|--:|--:|--:|---|--:|--:|--:|',
  ];
  for (const a of results) {
    for (const w of a.workloads) {
      const ratio = speedup(w);
      const peer = fastestPeer(w);
      lines.push(
        `| ${w.name} | ${where(a)} | ${syntheCells(w, a).join(' | ')} | ${peerCell(w.peers.tfjs)} | ${peerCell(w.peers.ort)} | ` +
          `${ratio && peer ? `${ratio.toFixed(2)}× vs ${peer[0] === 'tfjs' ? 'TF.js' : 'ORT'}` : '—'} |`,
      );
    }
  }
  return lines;
}

/** A peer's peak bytes, or why there is none (the details list failures). */
function memoryCell(t: { status: string; peakBytes?: number } | undefined): string {
  if (!t) return '—';
  if (t.status === 'unsupported') return 'n/a';
  if (t.status === 'failed' || t.status === 'skipped') return t.status;
  return t.peakBytes ? mib(t.peakBytes) : '—';
}

function memoryTable(results: readonly AdapterResult[]): string[] {
  const lines = [
    '| Workload | Adapter | synthe peak | TF.js peak | ORT peak | smaller matching peer / synthe |',
    '|---|---|--:|--:|--:|--:|',
  ];
  for (const a of results) {
    for (const w of a.workloads) {
      const own = w.synthe?.status === 'ok' ? w.synthe.peakBytes : undefined;
      const peers = PEERS.map((name) => w.peers[name]).filter((p) => p?.status === 'ok' && p.checkedAgainst === 'synthe' && p.peakBytes);
      const smaller = Math.min(...peers.map((p) => p!.peakBytes!));
      const ratio = own && peers.length ? `${(smaller / own).toFixed(1)}×` : '—';
      lines.push(`| ${w.name} | ${where(a)} | ${memoryCell(w.synthe)} | ${memoryCell(w.peers.tfjs)} | ${memoryCell(w.peers.ort)} | ${ratio} |`);
    }
  }
  return lines;
}

function compileTable(results: readonly AdapterResult[]): string[] {
  const cell = (t: { setupMs?: number; firstMs?: number } | undefined, withSetup = false): string =>
    t?.firstMs === undefined ? '—' : withSetup ? `${fmt(t.setupMs ?? 0, 0)} + ${fmt(t.firstMs, 0)}` : fmt(t.firstMs, 0);
  const lines = [
    '| Workload | Adapter | synthe first run ms | TF.js first run ms | ORT session + first run ms |',
    '|---|---|--:|--:|--:|',
  ];
  for (const a of results) {
    for (const w of a.workloads) lines.push(`| ${w.name} | ${where(a)} | ${cell(w.synthe)} | ${cell(w.peers.tfjs)} | ${cell(w.peers.ort, true)} |`);
  }
  return lines;
}

function details(results: readonly AdapterResult[]): string[] {
  const lines: string[] = [];
  for (const a of results) {
    for (const w of a.workloads) {
      const s = w.synthe;
      const notes: string[] = [];
      if (s?.kernels?.length) notes.push(`GPU ${s.kernels.map((k) => `${k.label} ${fmt(k.ms, 2)}`).join(' + ')} ms`);
      const variants = s?.variants.filter((v) => v.status !== 'not eligible') ?? [];
      if (variants.length) {
        notes.push(`variants ${variants.map((v) => `${v.name} ${v.status === 'ok' ? `${fmt(v.ms ?? NaN, 2)} ms` : `${v.status}${v.error !== undefined ? ` (error ${v.error.toExponential(1)})` : ''}`}`).join(', ')}`);
      }
      if (s?.message) notes.push(`synthe: ${s.message}`);
      for (const name of PEERS) {
        const p = w.peers[name];
        if (p?.status === 'mismatch') notes.push(`${PEER_LABELS[name]} output differs from ${p.checkedAgainst}'s: normalized error ${p.error?.toExponential(2)}`);
        if (p?.status === 'failed' || p?.status === 'skipped') notes.push(`${PEER_LABELS[name]} ${p.status}: ${p.message}`);
        if (p?.status === 'ok' && p.checkedAgainst !== 'synthe' && p.checkedAgainst) notes.push(`${PEER_LABELS[name]} checked against ${p.checkedAgainst} only`);
      }
      const tfjs = w.peers.tfjs;
      const ort = w.peers.ort;
      if (w.peerError !== undefined && tfjs?.status === 'mismatch' && ort?.status === 'mismatch' && w.peerError <= 1e-3) {
        notes.push(`⚠ both peers agree with each other (error ${w.peerError.toExponential(1)}) but not with synthe`);
      }
      if (notes.length) lines.push(`- **${w.name}**, ${where(a)}: ${notes.join('; ')}`);
    }
  }
  return lines;
}

/** The whole report for a set of adapter results (one per adapter and environment). */
export function renderMarkdown(results: readonly AdapterResult[]): string {
  const out: string[] = [];
  const dates = [...new Set(results.map((a) => a.date.slice(0, 10)))].join(', ');
  out.push(
    `Measured ${dates} with \`npm run bench\` / \`npm run bench:browser\`. Times are medians of steady-state runs ` +
      '(inputs resident on the GPU, each run ending when the GPU is done); peers run on the same adapter in the same ' +
      'process. "vs faster peer" is the faster peer\'s time over synthe\'s (above 1× synthe wins), counting only ' +
      'peers whose output matched synthe\'s (✗: mismatch, excluded). "Winning variant" is the fastest variant by GPU ' +
      'time (best of a few timestamp-profiled runs), with the default call\'s pick when it differs. ¹: one run, ' +
      'for an engine whose run takes longer than the time budget of a workload.',
    '',
  );
  for (const a of results) {
    const roof = a.roofline ? `FMA peak ${fmt(a.roofline.fmaGflops, 2)} GFLOP/s, copy ${fmt(a.roofline.copyGBps, 2)} GB/s` : 'no roofline';
    out.push(`- ${where(a)}: ${a.adapterInfo}; ${roof}; ${a.settings.repeat} timed rounds max, ${a.host}${a.settings.notes.length ? `; ${a.settings.notes.join('; ')}` : ''}`);
  }
  out.push(
    '', ...mainTable(results),
    '', 'Peak GPU memory: synthe\'s tensor pool; for the peers, the storage buffers one run binds (see bench/README.md):',
    '', ...memoryTable(results),
    '', 'First runs (shader compilation included; ORT also creates its session):', '', ...compileTable(results),
  );
  out.push(...modelSection(results));
  const notes = details(results);
  if (notes.length) out.push('', ...notes);
  return `${out.join('\n')}\n`;
}

/** One line per workload for the progress log. */
export function summaryLine(w: WorkloadResult): string {
  const s = w.status === 'ok' && w.synthe?.ms ? `synthe ${fmt(w.synthe.ms.median)} ms` : `synthe ${w.status === 'ok' ? w.synthe?.status : w.status}`;
  const peers = PEERS.map((name) => `${name} ${peerCell(w.peers[name])}`).join(', ');
  const ratio = speedup(w);
  return `${w.name}: ${s}, ${peers}${ratio ? ` → ${ratio.toFixed(2)}×` : ''}`;
}

/**
 * The newest result per environment, adapter and workload across result files, so a filtered run
 * (`--only conv`) updates its rows without dropping the others. Rows keep the registry's order; workloads
 * no longer in the registry are dropped. The run-wide fields (date, roofline) are the newest file's.
 */
export function mergeLatest(files: readonly AdapterResult[]): AdapterResult[] {
  const order = new Map(WORKLOADS.map((w, i) => [w.name, i]));
  const byAdapter = new Map<string, { file: AdapterResult; workloads: Map<string, WorkloadResult> }>();
  for (const f of [...files].sort((a, b) => a.date.localeCompare(b.date))) {
    const key = `${f.environment}/${f.adapter}`;
    const workloads = byAdapter.get(key)?.workloads ?? new Map<string, WorkloadResult>();
    for (const w of f.workloads) if (order.has(w.name)) workloads.set(w.name, w);
    byAdapter.set(key, { file: f, workloads });
  }
  return [...byAdapter.values()].map(({ file, workloads }) => ({
    ...file,
    workloads: [...workloads.values()].sort((a, b) => order.get(a.name)! - order.get(b.name)!),
    models: latestModels(files, file),
  }));
}
