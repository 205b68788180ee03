/**
 * Compute pipelines, built once per (shader id, entry point, override values) and cached. Shapes travel in
 * uniforms, so one pipeline serves every shape. Layouts are explicit and derived from the WGSL by reflection.
 */
import { ShaderError } from '../errors';
import { reflectShader, type EntryInfo } from './reflect';
import type { Shader } from './shader';

/** Override constants by name; booleans become 0/1 as WebGPU requires. */
export type Overrides = Record<string, number | boolean>;

/** A built pipeline with what dispatching it needs. */
export interface PipelineEntry {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  info: EntryInfo;
  /** `shader id:entry{overrides}`, for labels, timings and errors. */
  key: string;
}

export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly ready = new Map<string, PipelineEntry>();
  private readonly building = new Map<string, Promise<PipelineEntry>>();

  constructor(
    private readonly device: GPUDevice,
    private readonly report: (error: ShaderError) => void,
  ) {}

  /** Synchronous lookup or build: used by eager ops, which cannot wait. Compile errors arrive via `report`. */
  get(shader: Shader, entry: string, overrides: Overrides = {}): PipelineEntry {
    const key = pipelineKey(shader, entry, overrides);
    const hit = this.ready.get(key);
    if (hit) return hit;
    const { info, layout, module, constants } = this.prepare(shader, entry, overrides);
    this.device.pushErrorScope('validation');
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: entry, constants },
    });
    void this.device.popErrorScope().then((error) => {
      if (error) void this.describeFailure(shader, module, key, error.message).then(this.report);
    });
    const built = { pipeline, layout, info, key };
    this.ready.set(key, built);
    return built;
  }

  /** Builds in the background with createComputePipelineAsync; model loading awaits many of these at once. */
  async prepareAsync(shader: Shader, entry: string, overrides: Overrides = {}): Promise<PipelineEntry> {
    const key = pipelineKey(shader, entry, overrides);
    const hit = this.ready.get(key);
    if (hit) return hit;
    let pending = this.building.get(key);
    if (!pending) {
      pending = (async () => {
        const { info, layout, module, constants } = this.prepare(shader, entry, overrides);
        try {
          const pipeline = await this.device.createComputePipelineAsync({
            label: key,
            layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
            compute: { module, entryPoint: entry, constants },
          });
          const built = { pipeline, layout, info, key };
          this.ready.set(key, built);
          return built;
        } catch (error) {
          throw await this.describeFailure(shader, module, key, (error as Error).message);
        } finally {
          this.building.delete(key);
        }
      })();
      this.building.set(key, pending);
    }
    return pending;
  }

  private prepare(shader: Shader, entry: string, overrides: Overrides) {
    const entries = reflectShader(shader);
    const info = entries.get(entry);
    if (!info) {
      throw new ShaderError(`shader '${shader.id}' has no compute entry point '${entry}' (it has: ${[...entries.keys()].join(', ')})`);
    }
    const constants: Record<string, number> = {};
    for (const [name, value] of Object.entries(overrides)) {
      if (!info.overrides.has(name)) throw new ShaderError(`shader '${shader.id}' has no override constant '${name}'`);
      constants[name] = typeof value === 'boolean' ? Number(value) : value;
    }
    return { info, layout: this.layoutFor(shader, info), module: this.moduleFor(shader), constants };
  }

  private moduleFor(shader: Shader): GPUShaderModule {
    let module = this.modules.get(shader.code);
    if (!module) {
      module = this.device.createShaderModule({ code: shader.code, label: shader.id });
      this.modules.set(shader.code, module);
    }
    return module;
  }

  private layoutFor(shader: Shader, info: EntryInfo): GPUBindGroupLayout {
    const key = info.bindings.map((b) => `${b.binding}:${b.kind}${b.kind === 'storage-texture' ? `:${b.format}:${b.access}` : ''}`).join(',');
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `${shader.id}:${info.entry}`,
        entries: info.bindings.map((b) =>
          b.kind === 'storage-texture'
            ? { binding: b.binding, visibility: 4 /* GPUShaderStage.COMPUTE */, storageTexture: { access: b.access, format: b.format, viewDimension: '2d' as const } }
            : { binding: b.binding, visibility: 4 /* GPUShaderStage.COMPUTE */, buffer: { type: b.kind } },
        ),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /** Turns a pipeline failure into an error that quotes the WGSL lines the compiler complained about. */
  private async describeFailure(shader: Shader, module: GPUShaderModule, key: string, message: string): Promise<ShaderError> {
    const lines = shader.code.split('\n');
    let details = '';
    try {
      const info = await module.getCompilationInfo();
      details = info.messages
        .filter((m) => m.type === 'error')
        .map((m) => `\n  ${shader.origin(m.lineNum)}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`)
        .join('');
    } catch {
      // getCompilationInfo is optional on some implementations; the pipeline message still stands.
    }
    return new ShaderError(`pipeline ${key} failed: ${message}${details}`);
  }
}

function pipelineKey(shader: Shader, entry: string, overrides: Overrides): string {
  const names = Object.keys(overrides).sort();
  const parts = names.map((n) => `${n}=${Number(overrides[n])}`);
  return `${shader.id}:${entry}${parts.length ? `{${parts.join(',')}}` : ''}`;
}
