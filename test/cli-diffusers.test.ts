/**
 * `synthe forward` on diffusers model folders, as a user runs it (the built dist/cli.js, one process per
 * call): a UNet2DModel folder, and an AutoencoderKL folder part by part (`--part decode`, `--part encode`).
 * Outputs are compared with the PyTorch references of weights/diffusion/tiny (max |a − b| / max |b|).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors, writeSafetensors, type SafetensorsFile } from '../src/io/safetensors';
import { errorLines, synthe } from './cli-run';
import { maxAbsDiff } from './reference/compare';

const TINY = 'weights/diffusion/tiny';

/** Writes some tensors of a reference file under new names. */
async function inputFile(path: string, ref: SafetensorsFile, names: Record<string, string>): Promise<void> {
  const tensors = new Map<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array }>();
  for (const [name, key] of Object.entries(names)) tensors.set(name, { dtype: 'F32', shape: ref.info(key).shape, data: await ref.float32(key) });
  await writeFile(path, writeSafetensors(tensors));
}

async function expectOutput(path: string, name: string, ref: SafetensorsFile, key: string): Promise<void> {
  const out = await openSafetensors(path);
  expect(out.names()).toContain(name);
  expect(out.info(name).shape).toEqual(ref.info(key).shape);
  const expected = await ref.float32(key);
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expect(maxAbsDiff(await out.float32(name), expected) / scale).toBeLessThanOrEqual(1e-3);
  await out.close();
}

describe('synthe forward with diffusers folders', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'synthe-cli-diffusers-'));
  });

  it('runs a UNet2DModel folder on sample, timestep and class_labels', async () => {
    const ref = await openSafetensors(`${TINY}/unet2d/reference.safetensors`);
    await inputFile(join(dir, 'unet-in.safetensors'), ref, { sample: 'sample', timestep: 'timestep', class_labels: 'class_labels' });
    const run = await synthe('forward', '--model', `${TINY}/unet2d`, '--input', join(dir, 'unet-in.safetensors'), '--output', join(dir, 'unet-out.safetensors'));
    expect(errorLines(run.stderr)).toEqual([]);
    expect(run.code).toBe(0);
    await expectOutput(join(dir, 'unet-out.safetensors'), 'sample', ref, 'out');
    await ref.close();
  });

  it('runs an AutoencoderKL folder part by part: --part decode and --part encode', async () => {
    const ref = await openSafetensors(`${TINY}/autoencoder-kl/reference.safetensors`);
    await inputFile(join(dir, 'vae-in.safetensors'), ref, { latent: 'latent', sample: 'sample' });
    const model = `${TINY}/autoencoder-kl/`;
    const decode = await synthe('forward', '--model', model, '--part', 'decode', '--input', join(dir, 'vae-in.safetensors'), '--output', join(dir, 'decoded.safetensors'));
    expect(errorLines(decode.stderr)).toEqual([]);
    expect(decode.code).toBe(0);
    await expectOutput(join(dir, 'decoded.safetensors'), 'sample', ref, 'decoded');
    const encode = await synthe('forward', '--model', model, '--part', 'encode', '--input', join(dir, 'vae-in.safetensors'), '--output', join(dir, 'encoded.safetensors'));
    expect(encode.code).toBe(0);
    await expectOutput(join(dir, 'encoded.safetensors'), 'latent_dist_mean', ref, 'latent_dist_mean');
    await expectOutput(join(dir, 'encoded.safetensors'), 'latent_dist_std', ref, 'latent_dist_std');
    await ref.close();
  });

  it('gives one line and exit 1 for a part the model does not have, or a folder without config.json', async () => {
    const bad = await synthe('forward', '--model', `${TINY}/autoencoder-kl`, '--part', 'sample', '--input', join(dir, 'vae-in.safetensors'), '--output', join(dir, 'x.safetensors'));
    expect(bad.code).toBe(1);
    expect(errorLines(bad.stderr)).toEqual([expect.stringMatching(/has no part 'sample' \(parts: encode, decode\)/)]);
    const empty = await mkdtemp(join(dir, 'empty-'));
    const noConfig = await synthe('forward', '--model', empty, '--input', join(dir, 'vae-in.safetensors'), '--output', join(dir, 'x.safetensors'));
    expect(noConfig.code).toBe(1);
    expect(errorLines(noConfig.stderr)).toEqual([expect.stringMatching(/has no readable config\.json/)]);
  });
});
