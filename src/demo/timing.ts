/**
 * The timing panel: how long a run took to show its first pixels, how long each step took (a generator batch,
 * a denoising step, an upscaler tile), and where the GPU time went, kernel by kernel, from timestamp queries.
 */
import type { KernelTiming } from '../gpu/timing';
import { byId, formatMs } from './ui';

const KERNEL_ROWS = 12;

/** Collects the times of one run. */
export class RunTimer {
  readonly start = performance.now();
  private lastStep = this.start;
  firstResult: number | null = null;
  readonly steps: number[] = [];

  /** Marks the end of a step. */
  step(): void {
    const now = performance.now();
    this.steps.push(now - this.lastStep);
    this.lastStep = now;
  }

  /** Marks the first pixels of this run on screen (later calls are ignored). */
  resultShown(): void {
    this.firstResult ??= performance.now() - this.start;
  }
}

export interface RunReport {
  title: string;
  /** Absent for a job that only loaded a model. */
  timer?: RunTimer;
  /** What a step is in this run: "batch", "denoising step", "tile". */
  stepName: string;
  /** Per-dispatch GPU times, or why there are none. */
  kernels: KernelTiming[] | string;
  /** Extra rows, e.g. the weights' download and load. */
  extra?: [string, string][];
}

export class TimingPanel {
  private readonly summary = byId<HTMLDListElement>('timing-summary');
  private readonly kernels = byId<HTMLTableSectionElement>('kernel-rows');
  private readonly kernelNote = byId<HTMLParagraphElement>('kernel-note');
  private readonly title = byId<HTMLElement>('timing-title');

  /** Rows shown above every run: the adapter, the engine's start-up. */
  private readonly fixed: [string, string][] = [];

  setFixed(label: string, value: string): void {
    const row = this.fixed.find(([l]) => l === label);
    if (row) row[1] = value;
    else this.fixed.push([label, value]);
    this.renderSummary(this.fixed);
  }

  show(report: RunReport): void {
    const { timer } = report;
    const rows: [string, string][] = [...this.fixed, ...(report.extra ?? [])];
    if (timer?.firstResult != null) rows.push(['Time to first result', formatMs(timer.firstResult)]);
    if (timer?.steps.length) rows.push([`Per ${report.stepName}`, stepSummary(timer.steps)]);
    if (timer) rows.push(['Total', formatMs(performance.now() - timer.start)]);
    this.title.textContent = `Timing: ${report.title}`;
    this.renderSummary(rows);
    this.renderKernels(report.kernels);
  }

  private renderSummary(rows: [string, string][]): void {
    this.summary.replaceChildren(
      ...rows.flatMap(([label, value]) => {
        const dt = document.createElement('dt');
        dt.textContent = label;
        const dd = document.createElement('dd');
        dd.textContent = value;
        return [dt, dd];
      }),
    );
  }

  private renderKernels(kernels: KernelTiming[] | string): void {
    if (typeof kernels === 'string') {
      this.kernelNote.textContent = kernels;
      this.kernels.replaceChildren();
      return;
    }
    const byLabel = new Map<string, { calls: number; ns: number }>();
    for (const k of kernels) {
      const entry = byLabel.get(k.label) ?? { calls: 0, ns: 0 };
      entry.calls += 1;
      entry.ns += k.ns;
      byLabel.set(k.label, entry);
    }
    const sorted = [...byLabel].sort((a, b) => b[1].ns - a[1].ns);
    const totalNs = sorted.reduce((sum, [, e]) => sum + e.ns, 0);
    const shown = sorted.slice(0, KERNEL_ROWS);
    const rest = sorted.slice(KERNEL_ROWS);
    if (rest.length > 0) shown.push([`${rest.length} other kernels`, rest.reduce((acc, [, e]) => ({ calls: acc.calls + e.calls, ns: acc.ns + e.ns }), { calls: 0, ns: 0 })]);
    this.kernelNote.textContent = `${kernels.length} dispatches, ${formatMs(totalNs / 1e6)} of GPU time (timestamp queries; each dispatch timed in its own pass).`;
    this.kernels.replaceChildren(
      ...shown.map(([label, e]) => {
        const share = totalNs > 0 ? e.ns / totalNs : 0;
        const row = document.createElement('tr');
        const bar = document.createElement('span');
        bar.className = 'bar';
        bar.style.width = `${(share * 100).toFixed(1)}%`;
        const name = document.createElement('th');
        name.scope = 'row';
        name.append(label, bar);
        row.append(name, cell(String(e.calls)), cell(formatMs(e.ns / 1e6)), cell(`${(share * 100).toFixed(1)}%`));
        return row;
      }),
    );
  }
}

function cell(text: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function stepSummary(steps: number[]): string {
  const mean = steps.reduce((a, b) => a + b, 0) / steps.length;
  if (steps.length === 1) return formatMs(mean);
  return `${formatMs(mean)} mean over ${steps.length} (${formatMs(Math.min(...steps))} – ${formatMs(Math.max(...steps))})`;
}
