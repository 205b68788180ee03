/**
 * Super-resolution checkpoints as PyTorch users download them: ESRGAN RRDBNet in the original and the BasicSR
 * key naming, and Real-ESRGAN's SRVGGNetCompact. The small random checkpoints and the PyTorch outputs come
 * from weights/sr/make_references.py (torch 1.13, CPU).
 */
import { expect, it } from 'vitest';
import { describeEachDevice } from '../devices';
import { CheckpointError, openSafetensors, writeSafetensors, type LoadModelOptions } from '../../src/index';
import type { TensorData } from '../../src/io/safetensors';
import { upscalePlanes } from '../../src/pipelines/upscale';
import { maxAbsDiff } from '../reference/compare';

const DIR = 'weights/sr';

interface Case {
  name: string;
  arch: string;
  config: Record<string, unknown>;
  options?: LoadModelOptions;
}

const CASES: Case[] = [
  { name: 'rrdbnet-x4', arch: 'esrgan-basicsr', config: { numInCh: 3, numOutCh: 3, numFeat: 16, numGrowCh: 8, numBlock: 2, scale: 4, unshuffle: 1 } },
  { name: 'rrdbnet-x2', arch: 'esrgan-basicsr', config: { numInCh: 3, numFeat: 12, numGrowCh: 6, numBlock: 1, scale: 2, unshuffle: 2 } },
  { name: 'rrdbnet-x1', arch: 'esrgan-basicsr', config: { numInCh: 3, numFeat: 8, numGrowCh: 4, numBlock: 2, scale: 1, unshuffle: 4 } },
  { name: 'esrgan-x4', arch: 'esrgan', config: { numInCh: 3, numOutCh: 3, numFeat: 16, numGrowCh: 8, numBlock: 2, scale: 4 } },
  { name: 'esrgan-x2', arch: 'esrgan', config: { numFeat: 8, numGrowCh: 4, numBlock: 1, scale: 2 } },
  { name: 'srvgg-x4', arch: 'srvgg', config: { numInCh: 3, numOutCh: 3, numFeat: 16, numConv: 4, scale: 4, actType: 'prelu' } },
  { name: 'srvgg-x2', arch: 'srvgg', config: { numFeat: 16, numConv: 4, scale: 2, actType: 'prelu' } },
  // Without PReLU weights nothing in the keys says SRVGG or which activation: both are given.
  {
    name: 'srvgg-x3-lrelu',
    arch: 'srvgg',
    config: { numFeat: 8, numConv: 2, scale: 3, actType: 'leakyrelu' },
    options: { arch: 'srvgg', config: { actType: 'leakyrelu' } },
  },
];

/** The tolerance on max |engine − PyTorch| / max |PyTorch|. */
const TOLERANCE = 1e-4;

/** A checkpoint's bytes with some keys dropped, added or replaced (by a tensor of another shape). */
async function edited(name: string, drop: string[], add: Record<string, readonly number[]> = {}): Promise<Uint8Array> {
  const file = await openSafetensors(`${DIR}/${name}.safetensors`);
  const tensors: Record<string, TensorData> = {};
  for (const key of file.names()) {
    if (drop.includes(key)) continue;
    const info = file.info(key);
    tensors[key] = { dtype: info.dtype, shape: info.shape, data: await file.bytes(key) };
  }
  for (const [key, shape] of Object.entries(add)) {
    tensors[key] = { dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
  }
  await file.close();
  return writeSafetensors(tensors);
}

describeEachDevice('super-resolution checkpoints', (engine) => {
  for (const c of CASES) {
    it(`${c.name}: recognised as ${c.arch}, config inferred, matches PyTorch (one image and a batch of 2)`, async () => {
      const e = engine();
      const before = e.memory().inUseBuffers;
      const model = await e.loadModel(`${DIR}/${c.name}.safetensors`, c.options);
      expect(model.arch).toBe(c.arch);
      expect(model.config).toMatchObject(c.config);
      const ref = await openSafetensors(`${DIR}/${c.name}.reference.safetensors`);
      for (const which of ['single', 'batch']) {
        const input = e.tensor(await ref.float32(`${which}.input`), ref.info(`${which}.input`).shape);
        const held = e.memory().inUseBuffers;
        const { output } = model.forward({ input });
        // Every intermediate is freed by the time forward returns: only the output is new.
        expect(e.memory().inUseBuffers).toBe(held + 1);
        expect(output!.shape).toEqual(ref.info(`${which}.output`).shape);
        const expected = await ref.float32(`${which}.output`);
        const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const error = maxAbsDiff(await output!.read(), expected) / scale;
        expect(error, `${c.name} ${which}: max abs error / max |output| (${scale.toFixed(3)})`).toBeLessThanOrEqual(TOLERANCE);
        input.dispose();
        output!.dispose();
      }
      await ref.close();
      model.dispose();
      expect(e.memory().inUseBuffers).toBe(before);
    });
  }

  it('names missing, unexpected and misshapen keys in a CheckpointError', async () => {
    const e = engine();
    const before = e.memory().inUseBuffers;
    const refused = async (source: Uint8Array | string, pattern: RegExp, options?: LoadModelOptions) => {
      const error = await e.loadModel(source, options).then(() => undefined, (err: unknown) => err);
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toMatch(pattern);
    };
    await refused(await edited('rrdbnet-x4', ['body.1.rdb2.conv3.weight', 'conv_hr.bias']), /missing key\(s\): body\.1\.rdb2\.conv3\.weight, conv_hr\.bias$/);
    await refused(await edited('rrdbnet-x4', [], { 'body.0.rdb1.conv6.weight': [4, 4, 3, 3] }), /unexpected key\(s\): body\.0\.rdb1\.conv6\.weight$/);
    await refused(await edited('esrgan-x2', ['model.1.sub.0.RDB3.conv5.0.bias']), /missing key\(s\): model\.1\.sub\.0\.RDB3\.conv5\.0\.bias$/);
    await refused(
      await edited('esrgan-x2', [], { 'model.1.sub.0.RDB1.conv2.0.weight': [4, 9, 3, 3] }),
      /'model\.1\.sub\.0\.RDB1\.conv2\.0\.weight' has shape \[4, 9, 3, 3\], expected \[4, 12, 3, 3\]/,
    );
    await refused(await edited('srvgg-x4', ['body.5.weight']), /missing key\(s\): body\.5\.weight$/);
    await refused(await edited('srvgg-x4', [], { 'body.3.weight': [8] }), /'body\.3\.weight' has shape \[8\], expected \[16\]/);
    // A ReLU-family SRVGG whose activation was not given; and a PReLU one said to be ReLU has keys left over.
    await refused(`${DIR}/srvgg-x3-lrelu.safetensors`, /config\.actType/, { arch: 'srvgg' });
    await refused(`${DIR}/srvgg-x2.safetensors`, /unexpected key\(s\): body\.1\.weight, body\.3\.weight/, { config: { actType: 'relu' } });
    expect(e.memory().inUseBuffers).toBe(before);
  });

  it('runs in the tiled upscale pipeline: tiles with enough context give the untiled result', async () => {
    const e = engine();
    const model = await e.loadModel(`${DIR}/srvgg-x4.safetensors`);
    const ref = await openSafetensors(`${DIR}/srvgg-x4.reference.safetensors`);
    const [, , height, width] = ref.info('single.input').shape as [number, number, number, number];
    // 6 convolutions see 6 pixels around each output: 8 pixels of context make the 5×5 tiles exact.
    const tiled = await upscalePlanes(e, model, await ref.float32('single.input'), height, width, { tile: 5, overlap: 8 });
    expect(maxAbsDiff(tiled, await ref.float32('single.output'))).toBeLessThanOrEqual(TOLERANCE);
    await ref.close();
    model.dispose();
  });

  it('tiles a pixel-unshuffling model (BasicSR ×2) with odd tile sizes, and pads images of odd size', async () => {
    const e = engine();
    const model = await e.loadModel(`${DIR}/rrdbnet-x2.safetensors`);
    const ref = await openSafetensors(`${DIR}/rrdbnet-x2.reference.safetensors`);
    const [, , height, width] = ref.info('single.input').shape as [number, number, number, number];
    const input = await ref.float32('single.input');
    const tiled = await upscalePlanes(e, model, input, height, width, { tile: 5, overlap: 9 });
    expect(maxAbsDiff(tiled, await ref.float32('single.output'))).toBeLessThanOrEqual(TOLERANCE);
    // Drop the last row and column: 9×13 is no multiple of 2, so the model sees it edge-padded.
    const odd = new Float32Array(3 * (height - 1) * (width - 1));
    for (let c = 0; c < 3; c++) for (let y = 0; y < height - 1; y++) odd.set(input.subarray((c * height + y) * width, (c * height + y) * width + width - 1), (c * (height - 1) + y) * (width - 1));
    const out = await upscalePlanes(e, model, odd, height - 1, width - 1, { tile: Infinity });
    expect(out.length).toBe(3 * (height - 1) * 2 * (width - 1) * 2);
    expect(out.every(Number.isFinite)).toBe(true);
    await ref.close();
    model.dispose();
  });

  it('takes config.numInCh to read conv_first\'s input channels another way', async () => {
    const e = engine();
    const model = await e.loadModel(`${DIR}/rrdbnet-x1.safetensors`, { config: { numInCh: 12 } });
    expect(model.config).toMatchObject({ numInCh: 12, unshuffle: 2, scale: 2 });
    model.dispose();
    await expect(e.loadModel(`${DIR}/rrdbnet-x1.safetensors`, { config: { numInCh: 5 } })).rejects.toThrow(/conv_first takes 48 channels.*config\.numInCh/);
  });

  it('rejects inputs of the wrong shape', async () => {
    const e = engine();
    const model = await e.loadModel(`${DIR}/rrdbnet-x2.safetensors`);
    const odd = e.tensor(new Float32Array(3 * 5 * 6), [1, 3, 5, 6]);
    expect(() => model.forward({ input: odd })).toThrow(/\(N, 3, H, W\) with H and W multiples of 2/);
    expect(() => model.forward({ image: odd })).toThrow(/needs input 'input'/);
    odd.dispose();
    model.dispose();
  });
});
