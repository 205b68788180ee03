/**
 * Keeps the page's engine alive: creates it, notices when its device is lost (driver reset, GPU process crash,
 * a tab in the background too long), and creates a new one, so the page recovers instead of going dead.
 * It also holds the one loaded model (or pipeline), which belongs to the engine that loaded it.
 */
import { createEngine, type Engine } from '../engine';

export interface Disposable {
  dispose(): void;
}

export interface EngineEvents {
  lost(message: string): void;
  recovered(): void;
  failed(error: Error): void;
}

const RESTART_ATTEMPTS = 3;

export class EngineHost {
  private current: Promise<Engine>;
  /** The engine whose device is alive, once created; null while a lost one is being replaced. */
  private settled: Engine | null = null;
  private loaded: { id: string; engine: Engine; value: Disposable } | null = null;

  constructor(private readonly events: EngineEvents) {
    this.current = this.create();
  }

  /** The live engine (waits while one is being created). */
  engine(): Promise<Engine> {
    return this.current;
  }

  /** The loaded model or pipeline `id` on the live engine, loading it (and freeing the previous one) if needed. */
  async model<T extends Disposable>(id: string, load: (engine: Engine) => Promise<T>): Promise<T> {
    const engine = await this.current;
    if (this.loaded?.id === id && this.loaded.engine === engine) return this.loaded.value as T;
    this.unload();
    const value = await load(engine);
    this.loaded = { id, engine, value };
    return value;
  }

  private unload(): void {
    const loaded = this.loaded;
    this.loaded = null;
    if (loaded?.engine === this.settled) loaded.value.dispose();
  }

  private async create(): Promise<Engine> {
    const engine = await createEngine();
    this.settled = engine;
    void engine.device.lost.then((info) => {
      // The page never destroys its own device, so even a 'destroyed' loss comes from outside.
      if (this.settled === engine) this.recover(info);
    });
    return engine;
  }

  private recover(info: GPUDeviceLostInfo): void {
    this.settled = null;
    this.loaded = null;
    this.events.lost(`The GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''}). Starting a new one…`);
    this.current = (async () => {
      let lastError: Error = new Error('no attempt made');
      for (let attempt = 0; attempt < RESTART_ATTEMPTS; attempt++) {
        try {
          const engine = await this.create();
          this.events.recovered();
          return engine;
        } catch (error) {
          lastError = error as Error;
          await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
        }
      }
      this.events.failed(lastError);
      throw lastError;
    })();
  }
}
