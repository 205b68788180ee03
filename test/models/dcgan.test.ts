import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { describeEachDevice } from '../devices';
import { openSafetensors, writeSafetensors, type SafetensorsFile } from '../../src/index';
import { maxAbsDiff } from '../reference/compare';

const WEIGHTS = 'weights/dcgan-mnist.safetensors';
const REFERENCE = 'weights/dcgan-mnist.reference.safetensors';

/** The checkpoint with some keys dropped or added, as bytes. */
async function edited(file: SafetensorsFile, drop: string[], add: Record<string, Float32Array> = {}): Promise<Uint8Array> {
  const tensors: Record<string, { dtype: 'F32' | 'I64'; shape: readonly number[]; data: ArrayBufferView }> = {};
  for (const name of file.names()) {
    if (drop.includes(name)) continue;
    const info = file.info(name);
    tensors[name] = info.dtype === 'I64' ? { dtype: 'I64', shape: info.shape, data: await file.bytes(name) } : { dtype: 'F32', shape: info.shape, data: await file.float32(name) };
  }
  for (const [name, data] of Object.entries(add)) tensors[name] = { dtype: 'F32', shape: [data.length], data };
  return writeSafetensors(tensors);
}

describeEachDevice('dcgan-mnist', (engine) => {
  it('matches PyTorch on the reference latents (max abs error ≤ 1e-4)', async () => {
    const e = engine();
    const model = await e.loadModel(WEIGHTS);
    expect(model.arch).toBe('dcgan');
    expect(model.config).toMatchObject({ latentDim: 100, channels: 1 });
    const ref = await openSafetensors(REFERENCE);
    const z = e.tensor(await ref.float32('z'), ref.info('z').shape);
    const { image } = model.forward({ latent: z });
    expect(image!.shape).toEqual([16, 1, 28, 28]);
    const err = maxAbsDiff(await image!.read(), await ref.float32('output'));
    expect(err).toBeLessThanOrEqual(1e-4);
    model.dispose();
  });

  it('names missing and unexpected keys', async () => {
    const e = engine();
    const file = await openSafetensors(new Uint8Array(await readFile(WEIGHTS)));
    await expect(e.loadModel(await edited(file, ['net.4.running_var']), { arch: 'dcgan' })).rejects.toThrow(/missing key\(s\): net\.4\.running_var/);
    await expect(e.loadModel(await edited(file, [], { 'net.9.extra': new Float32Array(3) }), { arch: 'dcgan' })).rejects.toThrow(/unexpected key\(s\): net\.9\.extra/);
  });

  it('refuses an unrecognised checkpoint with the keys it saw', async () => {
    const bytes = writeSafetensors({ 'foo.bar': { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    await expect(engine().loadModel(bytes)).rejects.toThrow(/could not be recognised.*foo\.bar/);
  });
});
