/**
 * diffusers models as diffusers stores them (a folder with config.json and diffusion_pytorch_model.safetensors),
 * checked against PyTorch: the tiny random models and outputs of weights/diffusion/make_references.py (plain
 * PyTorch copies of diffusers' modules), and the project's DDPM on MNIST when it is present. The error measure
 * is max |engine − PyTorch| / max |PyTorch| over each output.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { describeEachDevice } from '../devices';
import { CheckpointError, openSafetensors, writeSafetensors, type Engine, type Tensor } from '../../src/index';
import type { SafetensorsFile, TensorData } from '../../src/io/safetensors';
import { Checkpoint } from '../../src/models/checkpoint';
import { SpatialSelfAttention } from '../../src/models/diffusers/attention';
import { DiffusersConfigError } from '../../src/models/diffusers/config';
import { WeightSet } from '../../src/models/diffusers/weights';
import { maxAbsDiff } from '../reference/compare';
import { groupNorm } from '../reference/norm';
import { linear } from '../reference/matmul';
import { scaledDotProductAttention } from '../reference/attention';
import { makeRng } from '../reference/random';
import { randn, type CpuTensor } from '../reference/tensor';

const TINY = 'weights/diffusion/tiny';
const DDPM = 'weights/ddpm-mnist';
const TOLERANCE = 1e-3;

/** max |actual − expected| / max |expected|. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return maxAbsDiff(actual, expected) / scale;
}

/** Uploads reference tensors (class labels are stored as I64 and arrive as f32 integers, as a pipeline gives them). */
async function upload(e: Engine, ref: SafetensorsFile, names: Record<string, string>): Promise<Record<string, Tensor>> {
  const out: Record<string, Tensor> = {};
  for (const [input, key] of Object.entries(names)) out[input] = e.tensor(await ref.float32(key), ref.info(key).shape);
  return out;
}

/** Expects `output` to match the reference tensor `key`, and returns the error. */
async function compare(output: Tensor | undefined, ref: SafetensorsFile, key: string, label: string): Promise<number> {
  expect(output, `${label}: no output`).toBeDefined();
  expect(output!.shape).toEqual(ref.info(key).shape);
  const error = relativeError(await output!.read(), await ref.float32(key));
  expect(error, `${label}: max abs error / max |${key}|`).toBeLessThanOrEqual(TOLERANCE);
  return error;
}

/** A checkpoint's bytes with keys dropped or replaced by zeros of another shape. */
async function edited(dir: string, drop: string[], replace: Record<string, readonly number[]> = {}): Promise<Uint8Array> {
  const file = await openSafetensors(`${dir}/diffusion_pytorch_model.safetensors`);
  const tensors: Record<string, TensorData> = {};
  for (const key of file.names()) {
    if (drop.includes(key)) continue;
    const shape = replace[key];
    const info = file.info(key);
    tensors[key] = shape
      ? { dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }
      : { dtype: info.dtype, shape: info.shape, data: await file.bytes(key) };
  }
  await file.close();
  return writeSafetensors(tensors);
}

async function configOf(dir: string): Promise<Record<string, unknown>> {
  const { readFile } = await import('node:fs/promises');
  return JSON.parse(await readFile(`${dir}/config.json`, 'utf8')) as Record<string, unknown>;
}

interface UNetCase {
  name: string;
  arch: string;
  inputs: Record<string, string>;
}

const UNETS: UNetCase[] = [
  { name: 'unet2d', arch: 'unet2d', inputs: { sample: 'sample', timestep: 'timestep', class_labels: 'class_labels' } },
  { name: 'unet2d-nocls', arch: 'unet2d', inputs: { sample: 'sample', timestep: 'timestep' } },
  { name: 'unet2d-condition', arch: 'unet2d-condition', inputs: { sample: 'sample', timestep: 'timestep', encoder_hidden_states: 'encoder_hidden_states' } },
  { name: 'unet2d-condition-linear', arch: 'unet2d-condition', inputs: { sample: 'sample', timestep: 'timestep', encoder_hidden_states: 'encoder_hidden_states' } },
];

const errors: Record<string, number> = {};

describeEachDevice('diffusers models', (engine, adapter) => {
  for (const c of UNETS) {
    it(`${c.name}: the folder loads as ${c.arch} and matches PyTorch, leaving only the output allocated`, async () => {
      const e = engine();
      const before = e.memory().inUseBuffers;
      const model = await e.loadModel(`${TINY}/${c.name}`);
      expect(model.arch).toBe(c.arch);
      expect([...model.inputNames].sort()).toEqual(Object.keys(c.inputs).sort());
      const ref = await openSafetensors(`${TINY}/${c.name}/reference.safetensors`);
      const inputs = await upload(e, ref, c.inputs);
      const held = e.memory().inUseBuffers;
      const { sample } = model.forward(inputs);
      expect(e.memory().inUseBuffers).toBe(held + 1);
      errors[`${adapter} ${c.name}`] = await compare(sample, ref, 'out', c.name);
      for (const t of [...Object.values(inputs), sample!]) t.dispose();
      await ref.close();
      model.dispose();
      expect(e.memory().inUseBuffers).toBe(before);
    });
  }

  it('autoencoder-kl: encode gives the latent distribution, decode the image, both as PyTorch', async () => {
    const e = engine();
    const before = e.memory().inUseBuffers;
    const model = await e.loadModel(`${TINY}/autoencoder-kl`);
    expect(model.arch).toBe('autoencoder-kl');
    expect(model.config.scaling_factor).toBe(0.18215);
    const ref = await openSafetensors(`${TINY}/autoencoder-kl/reference.safetensors`);
    const { sample } = await upload(e, ref, { sample: 'sample' });
    const held = e.memory().inUseBuffers;
    const encoded = model.parts!.encode!.forward({ sample: sample! });
    expect(e.memory().inUseBuffers).toBe(held + 2);
    errors[`${adapter} autoencoder-kl mean`] = await compare(encoded.latent_dist_mean, ref, 'latent_dist_mean', 'encode');
    errors[`${adapter} autoencoder-kl std`] = await compare(encoded.latent_dist_std, ref, 'latent_dist_std', 'encode');
    const { latent } = await upload(e, ref, { latent: 'latent' });
    const decoded = model.parts!.decode!.forward({ latent: latent! });
    errors[`${adapter} autoencoder-kl decode`] = await compare(decoded.sample, ref, 'decoded', 'decode');
    // forward is decode(mean): the same as decoding the mean encode returned.
    const roundTrip = model.forward({ sample: sample! });
    const viaMean = model.parts!.decode!.forward({ latent: encoded.latent_dist_mean! });
    expect(maxAbsDiff(await roundTrip.sample!.read(), await viaMean.sample!.read())).toBeLessThanOrEqual(1e-6);
    for (const t of [sample!, latent!, ...Object.values(encoded), ...Object.values(decoded), ...Object.values(roundTrip), ...Object.values(viaMean)]) t.dispose();
    await ref.close();
    model.dispose();
    expect(e.memory().inUseBuffers).toBe(before);
  });

  it('loads a folder from a URL ending in /: config.json and the weights fetched from the server', async () => {
    const { readFile } = await import('node:fs/promises');
    const served: string[] = [];
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      served.push(path);
      const name = /^\/vae\/(config\.json|diffusion_pytorch_model\.safetensors)$/.exec(path)?.[1];
      if (!name) return void res.writeHead(404).end();
      void readFile(`${TINY}/autoencoder-kl/${name}`).then((body) => res.writeHead(200, { 'Content-Length': String(body.length) }).end(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const e = engine();
      const model = await e.loadModel(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/vae/`));
      expect(model.arch).toBe('autoencoder-kl');
      expect(served).toEqual(expect.arrayContaining(['/vae/config.json', '/vae/diffusion_pytorch_model.safetensors']));
      const ref = await openSafetensors(`${TINY}/autoencoder-kl/reference.safetensors`);
      const { latent } = await upload(e, ref, { latent: 'latent' });
      const { sample } = model.parts!.decode!.forward({ latent: latent! });
      await compare(sample, ref, 'decoded', 'decode from a URL');
      for (const t of [latent!, sample!]) t.dispose();
      await ref.close();
      model.dispose();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it(
    "ddpm-mnist: the trained UNet's forward matches PyTorch",
    async () => {
      const e = engine();
      const model = await e.loadModel(DDPM);
      const ref = await openSafetensors(`${DDPM}/reference.safetensors`);
      const names = Object.fromEntries(model.inputNames.map((n) => [n, `unet.${n}`]));
      const inputs = await upload(e, ref, names);
      const { sample } = model.forward(inputs);
      errors[`${adapter} ddpm-mnist`] = await compare(sample, ref, 'unet.out', 'ddpm-mnist');
      for (const t of [...Object.values(inputs), sample!]) t.dispose();
      await ref.close();
      model.dispose();
    },
  );

  it('is batch- and size-agnostic: a batch equals its items, a shared timestep equals a repeated one', async () => {
    const e = engine();
    const model = await e.loadModel(`${TINY}/unet2d-condition`);
    const rng = makeRng(11);
    // 6×10: another size than the reference's 8×8, not square.
    const sample = randn([2, 4, 6, 10], rng);
    const context = randn([2, 5, 24], rng);
    const up = (t: CpuTensor) => e.tensor(t.data, t.shape);
    const run = async (s: CpuTensor, c: CpuTensor, timestep: Tensor) => {
      const inputs = { sample: up(s), encoder_hidden_states: up(c), timestep };
      const out = model.forward(inputs).sample!;
      const values = await out.read();
      for (const t of [...Object.values(inputs), out]) t.dispose();
      return values;
    };
    const item = (t: CpuTensor, i: number): CpuTensor => {
      const size = t.data.length / t.shape[0]!;
      return { data: t.data.slice(i * size, (i + 1) * size), shape: [1, ...t.shape.slice(1)] };
    };
    const batch = await run(sample, context, e.tensor([250], []));
    const repeated = await run(sample, context, e.tensor([250, 250], [2]));
    expect(maxAbsDiff(batch, repeated)).toBe(0);
    const first = await run(item(sample, 0), item(context, 0), e.tensor([250], [1]));
    const second = await run(item(sample, 1), item(context, 1), e.tensor([250], [1]));
    expect(maxAbsDiff(batch.subarray(0, first.length), first)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(batch.subarray(first.length), second)).toBeLessThanOrEqual(1e-5);
    model.dispose();
  });

  it('center_input_sample feeds 2 · sample − 1 to the same network', async () => {
    const e = engine();
    const plain = await e.loadModel(`${TINY}/unet2d-nocls`);
    const centered = await e.loadModel(`${TINY}/unet2d-nocls`, { config: { center_input_sample: true } });
    const x = randn([1, 2, 4, 8], makeRng(2));
    const run = async (model: typeof plain, data: Float32Array) => {
      const inputs = { sample: e.tensor(data, x.shape), timestep: e.tensor([321], []) };
      const out = model.forward(inputs).sample!;
      const values = await out.read();
      for (const t of [...Object.values(inputs), out]) t.dispose();
      return values;
    };
    expect(maxAbsDiff(await run(centered, x.data), await run(plain, x.data.map((v) => 2 * v - 1)))).toBeLessThanOrEqual(1e-5);
    plain.dispose();
    centered.dispose();
  });

  it('records into a plan that replays a step with new inputs, and takes i32 timesteps', async () => {
    const e = engine();
    const model = await e.loadModel(`${TINY}/unet2d-condition`);
    const ref = await openSafetensors(`${TINY}/unet2d-condition/reference.safetensors`);
    const names = ['sample', 'timestep', 'encoder_hidden_states'] as const;
    const plan = e.record(Object.fromEntries(names.map((n) => [n, ref.info(n).shape])), (inputs) => model.forward(inputs));
    const data = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await ref.float32(n)] as const)));
    const expected = await ref.float32('out');
    const { sample } = plan.run(data);
    expect(relativeError(await sample!.read(), expected)).toBeLessThanOrEqual(TOLERANCE);
    plan.dispose();
    const inputs = await upload(e, ref, { sample: 'sample', encoder_hidden_states: 'encoder_hidden_states' });
    const steps = e.tensor(Int32Array.from([981, 37]), [2], 'i32');
    const out = model.forward({ ...inputs, timestep: steps });
    const f32Steps = e.tensor([981, 37], [2]);
    const f32Out = model.forward({ ...inputs, timestep: f32Steps });
    expect(maxAbsDiff(await out.sample!.read(), await f32Out.sample!.read())).toBe(0);
    for (const t of [...Object.values(inputs), steps, f32Steps, out.sample!, f32Out.sample!]) t.dispose();
    await ref.close();
    model.dispose();
  });

  it('a class label outside num_class_embeds makes its own sample NaN (forward cannot read labels back)', async () => {
    const e = engine();
    const model = await e.loadModel(`${TINY}/unet2d`);
    const ref = await openSafetensors(`${TINY}/unet2d/reference.safetensors`);
    const inputs = await upload(e, ref, { sample: 'sample', timestep: 'timestep' });
    const labels = e.tensor([1, 5], [2]); // the reference's first label; 5 is one past the table
    const { sample } = model.forward({ ...inputs, class_labels: labels });
    const values = await sample!.read();
    const half = values.length / 2;
    expect(relativeError(values.subarray(0, half), (await ref.float32('out')).subarray(0, half))).toBeLessThanOrEqual(TOLERANCE);
    expect(values.subarray(half).every(Number.isNaN)).toBe(true);
    for (const t of [...Object.values(inputs), labels, sample!]) t.dispose();
    await ref.close();
    model.dispose();
  });

  it('attention wider than the flash kernel (head dims 160 and 144) takes the unfused route and still matches', async () => {
    const e = engine();
    const rng = makeRng(5);
    for (const { channels, headDim, groups } of [{ channels: 160, headDim: 160, groups: 8 }, { channels: 288, headDim: 144, groups: 4 }]) {
      const params: Record<string, CpuTensor> = {
        'a.group_norm.weight': randn([channels], rng), 'a.group_norm.bias': randn([channels], rng),
        ...Object.fromEntries(['to_q', 'to_k', 'to_v', 'to_out.0'].flatMap((p) => [
          [`a.${p}.weight`, { ...randn([channels, channels], rng), data: randn([channels, channels], rng).data.map((v) => v * 0.1) }],
          [`a.${p}.bias`, randn([channels], rng)],
        ])),
      };
      const bytes = writeSafetensors(Object.fromEntries(Object.entries(params).map(([k, t]) => [k, { dtype: 'F32' as const, shape: t.shape, data: t.data }])));
      const file = await openSafetensors(bytes);
      const w = new WeightSet(new Checkpoint(e, file, 'wide attention'));
      const block = new SpatialSelfAttention(w, 'a', { channels, headDim, groups, eps: 1e-6, rescale: 1 });
      await w.load();
      const x = randn([2, channels, 3, 5], rng);
      const input = e.tensor(x.data, x.shape);
      const out = block.forward(input, { ops: e.ops, temb: null, encoderHiddenStates: null });
      const expected = spatialAttentionReference(x, params, channels / headDim, groups);
      expect(relativeError(await out.read(), expected), `C=${channels} D=${headDim}`).toBeLessThanOrEqual(TOLERANCE);
      for (const t of [input, out]) t.dispose();
      w.dispose();
      await file.close();
    }
  });

  it('refuses unsupported and unknown config fields by name', async () => {
    const e = engine();
    const refused = async (dir: string, config: Record<string, unknown>, pattern: RegExp) => {
      const error = await e.loadModel(dir, { config }).then(() => undefined, (err: unknown) => err);
      expect(error, JSON.stringify(config)).toBeInstanceOf(DiffusersConfigError);
      expect((error as Error).message).toMatch(pattern);
    };
    await refused(`${TINY}/unet2d`, { resnet_time_scale_shift: 'scale_shift' }, /UNet2DModel config: resnet_time_scale_shift="scale_shift" is not supported/);
    await refused(`${TINY}/unet2d`, { time_embedding_type: 'fourier' }, /time_embedding_type="fourier" is not supported/);
    await refused(`${TINY}/unet2d`, { class_embed_type: 'timestep' }, /class_embed_type="timestep" is not supported/);
    await refused(`${TINY}/unet2d`, { down_block_types: ['SkipDownBlock2D', 'AttnDownBlock2D'] }, /down_block_types\[0\] 'SkipDownBlock2D' is not supported/);
    await refused(`${TINY}/unet2d`, { attention_legacy_order: true }, /unknown field\(s\) 'attention_legacy_order'/);
    await refused(`${TINY}/unet2d-condition`, { only_cross_attention: true }, /only_cross_attention=true/);
    await refused(`${TINY}/unet2d-condition`, { addition_embed_type: 'text_time' }, /addition_embed_type="text_time" is not supported/);
    await refused(`${TINY}/unet2d-condition`, { dual_cross_attention: true }, /dual_cross_attention=true is not supported/);
    await refused(`${TINY}/autoencoder-kl`, { act_fn: 'mish' }, /AutoencoderKL config: act_fn="mish" is not supported/);
    const wrongClass = await e.loadModel(`${TINY}/autoencoder-kl`, { config: { _class_name: 'VQModel' } }).then(() => undefined, (err: unknown) => err);
    expect((wrongClass as Error).message).toMatch(/diffusers class "VQModel" is not supported/);
  });

  it('names missing keys, and tensors whose shapes disagree with the config', async () => {
    const e = engine();
    const before = e.memory().inUseBuffers;
    const refused = async (bytes: Uint8Array, config: Record<string, unknown>, pattern: RegExp) => {
      const error = await e.loadModel(bytes, { config }).then(() => undefined, (err: unknown) => err);
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toMatch(pattern);
    };
    const dir = `${TINY}/unet2d`;
    const config = await configOf(dir);
    await refused(await edited(dir, ['down_blocks.1.attentions.0.to_k.bias', 'class_embedding.weight']), config,
      /missing key\(s\): .*down_blocks\.1\.attentions\.0\.to_k\.bias.*class_embedding\.weight|missing key\(s\): .*class_embedding\.weight.*down_blocks\.1\.attentions\.0\.to_k\.bias/);
    await refused(await edited(dir, [], { 'mid_block.resnets.0.conv1.weight': [32, 16, 3, 3] }), config,
      /'mid_block\.resnets\.0\.conv1\.weight' is \[32, 16, 3, 3\], the config gives \[32, 32, 3, 3\]/);
    // The config disagreeing with the weights: wider blocks than the checkpoint has.
    await refused(await edited(dir, []), { ...config, block_out_channels: [16, 48] }, /'down_blocks\.1\.resnets\.0\.conv1\.weight' is \[32, 16, 3, 3\], the config gives \[48, 16, 3, 3\]/);
    // No config at all: diffusers' full-size defaults, and a hint.
    await refused(await edited(dir, []), { _class_name: 'UNet2DModel' }, /missing key\(s\): .*\(no config was given, so diffusers' defaults were assumed/);
    expect(e.memory().inUseBuffers).toBe(before);
  });

  it('checks forward inputs: sizes the UNet cannot halve, missing conditioning', async () => {
    const e = engine();
    const model = await e.loadModel(`${TINY}/unet2d-condition`);
    const sample = e.tensor(new Float32Array(4 * 9 * 8), [1, 4, 9, 8]);
    const timestep = e.tensor([10], []);
    expect(() => model.forward({ sample, timestep, encoder_hidden_states: sample })).toThrow(/'sample' must be \(B, 4, H, W\) with H and W multiples of 2/);
    expect(() => model.forward({ sample, timestep })).toThrow(/forward needs 'encoder_hidden_states'/);
    for (const t of [sample, timestep]) t.dispose();
    model.dispose();
  });

  it('reports the measured errors', () => {
    console.log(Object.entries(errors).filter(([k]) => k.startsWith(adapter)).map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('\n'));
  });
});

/** (x + to_out(attention(groupNorm(x)))) on the CPU: diffusers' spatial self-attention. */
function spatialAttentionReference(x: CpuTensor, p: Record<string, CpuTensor>, heads: number, groups: number): Float32Array {
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const l = h * w;
  const normed = groupNorm(x, groups, p['a.group_norm.weight'], p['a.group_norm.bias'], 1e-6);
  // (B, C, L) -> (B, L, C)
  const tokens = new Float32Array(b * l * c);
  for (let n = 0; n < b; n++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < l; i++) tokens[(n * l + i) * c + ch] = normed.data[(n * c + ch) * l + i]!;
  const t: CpuTensor = { data: tokens, shape: [b, l, c] };
  const d = c / heads;
  // (B, L, H·D) -> (B, H, L, D)
  const split = (y: CpuTensor): CpuTensor => {
    const out = new Float32Array(y.data.length);
    for (let n = 0; n < b; n++) for (let i = 0; i < l; i++) for (let hd = 0; hd < heads; hd++) for (let k = 0; k < d; k++) out[((n * heads + hd) * l + i) * d + k] = y.data[(n * l + i) * c + hd * d + k]!;
    return { data: out, shape: [b, heads, l, d] };
  };
  const proj = (name: string, y: CpuTensor) => linear(y, p[`a.${name}.weight`]!, p[`a.${name}.bias`]);
  const attended = scaledDotProductAttention(split(proj('to_q', t)), split(proj('to_k', t)), split(proj('to_v', t)));
  const merged = new Float32Array(b * l * c);
  for (let n = 0; n < b; n++) for (let hd = 0; hd < heads; hd++) for (let i = 0; i < l; i++) for (let k = 0; k < d; k++) merged[(n * l + i) * c + hd * d + k] = attended.data[((n * heads + hd) * l + i) * d + k]!;
  const out = proj('to_out.0', { data: merged, shape: [b, l, c] });
  const result = new Float32Array(x.data.length);
  for (let n = 0; n < b; n++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < l; i++) result[(n * c + ch) * l + i] = out.data[(n * l + i) * c + ch]! + x.data[(n * c + ch) * l + i]!;
  return result;
}
