/**
 * Whole-model workloads for diffusion: a full sampling run of the project's ddpm-mnist model (per-step time,
 * submits per step, peak memory), and one forward of a Stable-Diffusion-shaped UNet2DConditionModel with
 * random weights at 32×32×4 latents and 77 tokens, eager and replayed from a recorded plan.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDiffusersFolder } from '../../src/cli/diffusers-folder';
import { createScheduler } from '../../src/diffusion/schedulers/index';
import type { Engine, Tensor } from '../../src/index';
import { generate } from '../../src/pipelines/diffusion';
import { makeRng } from '../../test/reference/random';
import { SD_LIKE_CONFIG, unetConditionCheckpoint, unetConditionFlops } from './unet-checkpoint';

/** What one timed run reports besides its wall-clock time. */
export interface RunReport {
  /** Sampling runs: milliseconds of each denoising step, GPU work included. */
  stepMs?: number[];
  /** Submits the run made. */
  submits?: number;
  /** Bytes of recorded plans the run used (their buffers are not in the engine's pool counters). */
  planBytes?: number;
}

/** An ONNX export of the workload's model for ONNX Runtime, with the same inputs synthe gets. */
export interface OnnxExport {
  model: Uint8Array;
  inputs: { name: string; shape: readonly number[]; data: Float32Array }[];
  output: string;
}

/** A loaded model ready to run the workload. */
export interface ModelRun {
  /** FLOPs of one run, when counted. */
  flops?: number;
  /** One run, ending when the GPU is done. */
  run(): Promise<RunReport>;
  /** One run's output, read back, to check a peer's against. */
  output?(): Promise<Float32Array>;
  /** The same computation for ONNX Runtime, or why there is none. */
  onnx?(): Promise<OnnxExport | { unavailable: string }>;
  dispose(): void;
}

export interface ModelWorkload {
  name: string;
  tags: readonly string[];
  /** Loads or builds what the workload runs, or says why it cannot run here (a missing file). */
  prepare(engine: Engine): Promise<ModelRun | { unavailable: string }>;
}

const DDPM_MNIST = join(process.cwd(), 'weights', 'ddpm-mnist');

/** `synthe generate --model ddpm-mnist --steps 20 --count 16 --guidance 2` without the PNGs. */
function ddpmMnistWorkload(steps: number, count: number, scheduler: string): ModelWorkload {
  return {
    name: `ddpm-mnist ${steps} steps ×${count} (${scheduler}, guidance 2)`,
    tags: ['diffusion', 'ddpm-mnist', 'pipeline'],
    async prepare(engine) {
      if (!existsSync(DDPM_MNIST)) return { unavailable: 'weights/ddpm-mnist is not there yet' };
      const folder = await loadDiffusersFolder(engine, DDPM_MNIST);
      const sampler = createScheduler(folder.schedulerConfig ?? {}, scheduler);
      return {
        async run() {
          const stepMs: number[] = [];
          let last = 0;
          let planBytes = 0;
          const before = engine.runtime.submits;
          const images = await generate(engine, { unet: folder.unet, scheduler: sampler }, {
            count, numInferenceSteps: steps, guidanceScale: 2, seed: 3, classLabels: Array.from({ length: count }, (_, i) => i % 10),
            onProgress: (p) => {
              stepMs.push(p.elapsedMs - last);
              last = p.elapsedMs;
              planBytes = Math.max(planBytes, p.planBytes ?? 0);
            },
          });
          const submits = engine.runtime.submits - before;
          images.dispose();
          return { stepMs, submits, planBytes };
        },
        dispose: () => folder.dispose(),
      };
    },
  };
}

/**
 * Where the random SD-like UNet and its ONNX export are kept between runs (they take seconds to make), keyed
 * by its config so an edited config makes new files.
 */
const UNET_CACHE = join(process.cwd(), 'node_modules', '.cache', 'synthe-bench', `unet2d-condition-${hash(JSON.stringify(SD_LIKE_CONFIG))}`);

/** FNV-1a of a string, as 8 hex digits. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
/** The interpreter with PyTorch that exports the ONNX model (Debian's /usr/bin/python3 here). */
const PYTHON = process.env.SYNTHE_PYTHON ?? 'python3';

/** The UNet's diffusers folder (config.json and weights), written once from the TypeScript generator. */
async function sdLikeUnetFolder(): Promise<string> {
  const weights = join(UNET_CACHE, 'diffusion_pytorch_model.safetensors');
  if (!existsSync(weights)) {
    await mkdir(UNET_CACHE, { recursive: true });
    await writeFile(join(UNET_CACHE, 'config.json'), `${JSON.stringify(SD_LIKE_CONFIG, null, 2)}\n`);
    await writeFile(weights, unetConditionCheckpoint(SD_LIKE_CONFIG));
  }
  return UNET_CACHE;
}

/** The folder's ONNX export (peers/export_unet_onnx.py through PyTorch), made once. */
async function sdLikeUnetOnnx(folder: string, batch: number, tokens: number, timestep: number): Promise<Uint8Array | { unavailable: string }> {
  const path = join(folder, `unet-b${batch}-t${tokens}-ts${timestep}.onnx`);
  if (!existsSync(path)) {
    const script = join(process.cwd(), 'bench', 'peers', 'export_unet_onnx.py');
    const args = [script, folder, path, '--batch', String(batch), '--tokens', String(tokens), '--timestep', String(timestep)];
    const done = spawnSync(PYTHON, args, { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    if (done.status !== 0) {
      const why = (done.error?.message ?? done.stderr.trim().split('\n').at(-1)) || `exit ${done.status}`;
      return { unavailable: `no ONNX export (${PYTHON} with PyTorch is needed; set SYNTHE_PYTHON): ${why}` };
    }
  }
  return new Uint8Array(await readFile(path));
}

/** One UNet2DConditionModel forward on a doubled batch (one guided step), eager or replayed from a plan. */
function unetConditionWorkload(recorded: boolean): ModelWorkload {
  const config = SD_LIKE_CONFIG;
  const tokens = 77;
  const batch = 2;
  const timestepValue = 500;
  const size = config.sample_size;
  return {
    name: `UNet2DConditionModel ${size}×${size}×${config.in_channels}, ${tokens} tokens, batch ${batch}${recorded ? ' (plan replay)' : ''}`,
    tags: ['diffusion', 'unet', 'unet2d-condition', recorded ? 'plan' : 'eager'],
    async prepare(engine) {
      const folder = await sdLikeUnetFolder();
      const unet = await engine.loadModel(folder);
      const rng = makeRng(9);
      const sampleData = rng.randn(batch * config.in_channels * size * size);
      const statesData = rng.randn(batch * tokens * config.cross_attention_dim);
      const sampleShape = [batch, config.in_channels, size, size];
      const statesShape = [batch, tokens, config.cross_attention_dim];
      const sample = engine.tensor(sampleData, sampleShape);
      const timestep = engine.tensor([timestepValue], [1]);
      const states = engine.tensor(statesData, statesShape);
      const forward = (x: Tensor, t: Tensor) => unet.forward({ sample: x, timestep: t, encoder_hidden_states: states }).sample!;
      const plan = recorded ? engine.record({ sample: sampleShape, timestep: [1] }, (i) => ({ out: forward(i.sample, i.timestep) })) : null;
      return {
        flops: batch * unetConditionFlops(config, tokens),
        async run() {
          const before = engine.runtime.submits;
          if (plan) plan.run({ sample, timestep });
          else forward(sample, timestep).dispose();
          await engine.sync();
          return { submits: engine.runtime.submits - before, planBytes: plan?.allocatedBytes ?? 0 };
        },
        async output() {
          if (plan) return plan.run({ sample, timestep }).out.read();
          const out = forward(sample, timestep);
          try {
            return await out.read();
          } finally {
            out.dispose();
          }
        },
        // ORT runs once, beside the eager row: the plan row replays the same dispatches.
        onnx: recorded ? undefined : async () => {
          const model = await sdLikeUnetOnnx(folder, batch, tokens, timestepValue);
          if ('unavailable' in model) return model;
          return {
            model,
            inputs: [{ name: 'sample', shape: sampleShape, data: sampleData }, { name: 'encoder_hidden_states', shape: statesShape, data: statesData }],
            output: 'out',
          };
        },
        dispose() {
          plan?.dispose();
          for (const t of [sample, timestep, states]) t.dispose();
          unet.dispose();
        },
      };
    },
  };
}

export const MODEL_WORKLOADS: readonly ModelWorkload[] = [
  ddpmMnistWorkload(20, 16, 'DDIMScheduler'),
  unetConditionWorkload(false),
  unetConditionWorkload(true),
];

/** Model workloads whose name or tag contains one of the filters (all when there are none). */
export function selectModelWorkloads(filters: readonly string[]): ModelWorkload[] {
  if (filters.length === 0) return [...MODEL_WORKLOADS];
  const wanted = filters.map((f) => f.toLowerCase());
  return MODEL_WORKLOADS.filter((w) => wanted.some((f) => w.name.toLowerCase().includes(f) || w.tags.some((t) => t.toLowerCase().includes(f))));
}
