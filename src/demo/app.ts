/**
 * The demo page: a model picker, one panel per kind of model, the viewer, the run progress and the timing
 * panel. Everything that touches the GPU runs as a job, one at a time, with its errors shown in the page.
 */
import type { Engine } from '../engine';
import type { KernelTiming } from '../gpu/timing';
import type { RgbaImage } from '../io/image';
import { CATALOGUE, type CatalogueEntry, type PublishedFile } from './catalogue';
import { downloadPng, type GenerationParameters } from './download';
import { EngineHost } from './engine-host';
import { downloadModel, loadOnEngine, type Loaded } from './models';
import { diffusionPanel } from './panels/diffusion';
import { ganPanel } from './panels/gan';
import { upscalePanel } from './panels/upscale';
import { ErrorList } from './errors';
import { RunTimer, TimingPanel } from './timing';
import { byId, formatBytes, formatMs } from './ui';
import { Viewer } from './viewer';

/** What a job's work sees. */
export interface JobContext<L extends Loaded = Loaded> {
  engine: Engine;
  loaded: L;
  timer: RunTimer;
  /** Aborted when the user presses Cancel; work stops between steps. */
  signal: AbortSignal;
  cancelled(): boolean;
  progress(done: number, total: number, text: string): void;
  /** Shows an image; with parameters it becomes the downloadable result. */
  show(image: RgbaImage, parameters?: GenerationParameters, before?: RgbaImage): void;
}

export interface Job<K extends Loaded['kind']> {
  kind: K;
  title: string;
  /** What one step is called in the timing panel. */
  stepName: string;
  cancellable: boolean;
  /** Absent for a job that only loads the model. */
  work?(ctx: JobContext<Extract<Loaded, { kind: K }>>): Promise<void>;
}

/** A panel: the controls of one kind of model. */
export interface Panel {
  readonly element: HTMLElement;
  /** Enables or disables the panel's run controls. */
  setBusy(busy: boolean): void;
}

export class App {
  readonly viewer = new Viewer();
  readonly errors = new ErrorList(byId('errors'));
  private readonly timing = new TimingPanel();
  private readonly host: EngineHost;
  private readonly picker = byId<HTMLSelectElement>('model');
  private readonly modelAbout = byId<HTMLParagraphElement>('model-about');
  private readonly weightsProgress = byId<HTMLProgressElement>('weights-progress');
  private readonly weightsStatus = byId<HTMLSpanElement>('weights-status');
  private readonly runLabel = byId<HTMLLabelElement>('run-label');
  private readonly runProgress = byId<HTMLProgressElement>('run-progress');
  private readonly cancelButton = byId<HTMLButtonElement>('cancel');
  private readonly downloadButton = byId<HTMLButtonElement>('download');
  private readonly profileToggle = byId<HTMLInputElement>('profile-kernels');
  /** A polite live region: the end of each job, not every step, is read out. */
  private readonly announce = byId<HTMLParagraphElement>('announce');
  private readonly panels: Record<CatalogueEntry['kind'], Panel>;
  private busy = false;
  private cancel: AbortController | null = null;
  private result: { image: RgbaImage; parameters: GenerationParameters } | null = null;

  constructor(
    /** The files this site publishes, by path. */
    readonly manifest: Map<string, PublishedFile>,
    private readonly timestamps: boolean,
  ) {
    this.host = new EngineHost({
      lost: (message) => {
        this.errors.show(message);
        this.weightsStatus.textContent = 'The model will load again on the next run.';
        this.weightsProgress.value = 0;
      },
      recovered: () => this.errors.show('A new GPU device is ready; the page has recovered.', 'info'),
      failed: (error) => this.errors.show(`No new GPU device could be created: ${error.message}. Reload the page.`),
    });
    this.panels = { gan: ganPanel(this), diffusion: diffusionPanel(this), upscaler: upscalePanel(this) };
    if (!timestamps) {
      this.profileToggle.checked = false;
      this.profileToggle.disabled = true;
    }
    this.fillPicker();
    this.picker.addEventListener('change', () => this.selectModel());
    this.cancelButton.addEventListener('click', () => {
      this.cancel?.abort();
      this.cancelButton.disabled = true;
      this.runLabel.textContent = 'Cancelling after this step…';
    });
    this.downloadButton.addEventListener('click', () => this.result && downloadPng(this.result.image, this.result.parameters));
  }

  /** Creates the engine and loads the first model, reporting the start-up time. */
  async start(adapterName: string): Promise<void> {
    const engine = await this.host.engine();
    this.timing.setFixed('Adapter', `${adapterName}${this.timestamps ? '' : ' (no timestamp queries)'}`);
    this.timing.setFixed('Engine ready after page load', formatMs(performance.now()));
    this.timing.setFixed('Features', Object.entries(engine.gpu.features).filter(([, on]) => on).map(([f]) => f).join(', ') || 'none');
    this.selectModel();
  }

  get entry(): CatalogueEntry {
    return CATALOGUE.find((e) => e.id === this.picker.value)!;
  }

  /** Runs a job for the selected model: loads it if needed, then the work, profiled when asked. */
  async run<K extends Loaded['kind']>(job: Job<K>): Promise<void> {
    if (this.busy) return;
    const entry = this.entry;
    const cancel = new AbortController();
    this.cancel = cancel;
    this.setBusy(true, job.cancellable);
    this.errors.clear();
    this.runLabel.textContent = `${job.title}…`;
    this.runProgress.removeAttribute('value');
    try {
      const { loaded, extra } = await this.ensureLoaded(entry);
      if (loaded.kind !== job.kind) throw new Error(`${entry.label} is not a ${job.kind} model`);
      const engine = await this.host.engine();
      const timer = new RunTimer();
      const ctx: JobContext<Extract<Loaded, { kind: K }>> = {
        engine,
        loaded: loaded as Extract<Loaded, { kind: K }>,
        timer,
        signal: cancel.signal,
        cancelled: () => cancel.signal.aborted,
        progress: (done, total, text) => {
          this.runProgress.max = total;
          this.runProgress.value = done;
          this.runLabel.textContent = text;
        },
        show: (image, parameters, before) => {
          this.viewer.show(image, before);
          timer.resultShown();
          if (parameters) this.setResult(image, parameters);
        },
      };
      let kernels: KernelTiming[] | string = '';
      if (job.work && this.timestamps && this.profileToggle.checked) {
        kernels = (await engine.profile(() => job.work!(ctx))).timings;
      } else if (job.work) {
        await job.work(ctx);
        kernels = this.timestamps ? 'Per-kernel timing is off (tick the box above to turn it on).' : 'This adapter has no timestamp-query feature, so per-kernel GPU times are unavailable.';
      }
      const cancelled = cancel.signal.aborted;
      this.runLabel.textContent = cancelled ? `${job.title}: cancelled` : `${job.title}: done`;
      this.announce.textContent = job.work ? this.runLabel.textContent : (this.weightsStatus.textContent ?? '');
      this.timing.show({ title: `${job.title}${cancelled ? ' (cancelled)' : ''}`, ...(job.work ? { timer } : {}), stepName: job.stepName, kernels, extra });
    } catch (error) {
      this.runLabel.textContent = `${job.title}: failed`;
      this.errors.show(errorMessage(error));
    } finally {
      this.runProgress.value = 0;
      this.setBusy(false, false);
    }
  }

  /** The selected model on the live engine, downloading and loading it when needed. */
  private async ensureLoaded(entry: CatalogueEntry): Promise<{ loaded: Loaded; extra: [string, string][] }> {
    const extra: [string, string][] = [];
    const loaded = await this.host.model(entry.id, (engine) =>
      this.load(engine, entry, extra).catch((error: unknown) => {
        this.weightsProgress.value = 0;
        this.weightsStatus.textContent = `${entry.label} could not be loaded; the next run tries again.`;
        throw error;
      }),
    );
    return { loaded, extra };
  }

  /** Downloads (or reads from the cache) and loads an entry, with progress; its timings go into `extra`. */
  private async load(engine: Engine, entry: CatalogueEntry, extra: [string, string][]) {
    const started = performance.now();
    this.weightsProgress.removeAttribute('value');
    let fromCache = false;
    const files = await downloadModel(entry, this.manifest, (p) => {
      fromCache = p.fromCache;
      this.weightsProgress.max = p.total;
      this.weightsProgress.value = p.loaded;
      this.weightsStatus.textContent = `${p.fromCache ? 'Reading from the browser cache' : 'Downloading'}: ${formatBytes(p.loaded)} of ${formatBytes(p.total)}`;
    });
    const downloaded = performance.now();
    this.weightsStatus.textContent = 'Preparing the weights on the GPU…';
    const loaded = await loadOnEngine(engine, entry, files);
    const ready = performance.now();
    const total = formatBytes([...files.values()].reduce((sum, b) => sum + b.byteLength, 0));
    const source = fromCache ? 'from the browser cache' : 'downloaded';
    this.weightsStatus.textContent = `${entry.label}: ${total} ${source} in ${formatMs(downloaded - started)}, on the GPU in ${formatMs(ready - downloaded)}.`;
    extra.push([fromCache ? 'Weights from cache' : 'Weights download', `${total} in ${formatMs(downloaded - started)}`], ['Weights to GPU (pack, upload)', formatMs(ready - downloaded)]);
    return loaded;
  }

  private setBusy(busy: boolean, cancellable: boolean): void {
    this.busy = busy;
    this.cancelButton.disabled = !cancellable;
    this.picker.disabled = busy;
    for (const panel of Object.values(this.panels)) panel.setBusy(busy);
    document.body.toggleAttribute('aria-busy', busy);
  }

  /** Shows an image that is not a result (the upscaler's input): nothing to download until a run. */
  showInput(image: RgbaImage): void {
    this.viewer.show(image);
    this.result = null;
    this.downloadButton.disabled = true;
  }

  private setResult(image: RgbaImage, parameters: GenerationParameters): void {
    this.result = { image, parameters };
    this.downloadButton.disabled = false;
  }

  private fillPicker(): void {
    const groups: Record<CatalogueEntry['kind'], string> = { gan: 'Generators', diffusion: 'Diffusion', upscaler: 'Upscalers' };
    for (const [kind, label] of Object.entries(groups)) {
      const group = document.createElement('optgroup');
      group.label = label;
      for (const entry of CATALOGUE.filter((e) => e.kind === kind)) {
        const option = new Option(entry.label, entry.id);
        const missing = entry.files.filter((f) => !this.manifest.has(`weights/${f}`));
        if (missing.length > 0) {
          option.disabled = true;
          option.text += ' (weights not published)';
        }
        group.append(option);
      }
      this.picker.append(group);
    }
    const first = [...this.picker.options].find((o) => !o.disabled);
    if (first) this.picker.value = first.value;
  }

  /** Shows the selected model's panel and loads its weights in the background. */
  private selectModel(): void {
    const entry = this.entry;
    if (!entry) return;
    const bytes = entry.files.reduce((sum, f) => sum + (this.manifest.get(`weights/${f}`)?.bytes ?? 0), 0);
    this.modelAbout.textContent = `${entry.provenance} ${formatBytes(bytes)} of weights.`;
    for (const [kind, panel] of Object.entries(this.panels)) panel.element.hidden = kind !== entry.kind;
    this.weightsProgress.value = 0;
    this.weightsStatus.textContent = 'Loading…';
    void this.run({ kind: entry.kind, title: `Loading ${entry.label}`, stepName: 'step', cancellable: false });
  }
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`;
  return String(error);
}
