/**
 * The Keras graph runner on a synthetic TF.js model that uses every supported layer, checked against TF.js
 * itself (CPU backend) running the same model.json: fused epilogues, TensorFlow's asymmetric SAME padding
 * for a stride-2 conv, a dilated conv, PixelShuffle in TF's channel order, nearest upsampling, a VALID conv,
 * odd sizes and a batch of 2. Also: the fusion plan, the padding rule, and that a forward frees every
 * intermediate tensor.
 */
import { describe, expect, it } from 'vitest';
import { readTfjsModel } from '../../src/io/tfjs';
import { tfjsToSafetensors } from '../../src/models/keras-convert';
import { openSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { loadKerasGraphModel, planSteps, subpixelKernel, tfPadding } from '../../src/models/keras-graph';
import { parseKerasGraph } from '../../src/models/keras-graph-spec';
import { describeEachDevice } from '../devices';
import { expectAllClose } from '../reference/compare';
import * as ref from '../reference';
import { makeRng } from '../reference/random';
import { cpuTensor, randn } from '../reference/tensor';
import { syntheticUpscaler } from './tfjs_fixtures';
import { tfjsPredict } from './tfjs_reference';

async function converted(seed = 1, tail: 'same' | 'valid' = 'valid') {
  const fixture = syntheticUpscaler(seed, tail);
  const model = await readTfjsModel({ modelJson: fixture.modelJson, shards: fixture.shards });
  return { fixture, bytes: tfjsToSafetensors(model, { pixelRange: '0-1', source: 'fixture' }) };
}

describe('keras graph plan', () => {
  const plan = async (tail: 'same' | 'valid') => {
    const { bytes } = await converted(1, tail);
    const graph = parseKerasGraph((await openSafetensors(bytes)).metadata['synthe.graph'], 'fixture');
    return planSteps(graph).map((s) =>
      s.kind === 'conv'
        ? `${s.upsample ? `up×${s.upsample} ` : ''}${s.layer.name}→${s.name} ${s.activation} β${s.beta}${s.residual ? ` +${s.residual}` : ''}`
        : s.name,
    );
  };

  it('fuses activations, MultiplyBeta and residual Adds into the convs', async () => {
    const common = ['c1→c1 relu β1', 'c2→a2 relu β1', 'cat', 'c3→add linear β0.2 +c1', 'down→down linear β1', 'c4→c4 sigmoid β1', 'ps'];
    expect(await plan('valid')).toEqual([...common, 'up', 'out→out tanh β1']);
    // A SAME conv after the nearest upsampling runs at the low resolution instead.
    expect(await plan('same')).toEqual([...common, 'up×2 out→out tanh β1']);
  });

  it('folds nearest upsampling into a low-resolution conv exactly', () => {
    const rng = makeRng(11);
    for (const [s, k, c, o] of [[2, 3, 4, 3], [3, 3, 2, 2], [8, 3, 3, 1], [2, 5, 2, 2], [4, 1, 3, 2]] as const) {
      const x = randn([1, c, 5, 6], rng);
      const w = randn([o, c, k, k], rng);
      const want = ref.conv2d(ref.interpolate(x, { scaleFactor: s, mode: 'nearest' }), w, null, { padding: (k - 1) / 2 });
      const folded = subpixelKernel(w.data as Float32Array, w.shape as [number, number, number, number], s);
      const pad = (folded.shape[2] - 1) / 2;
      const got = ref.depthToSpace(ref.conv2d(x, cpuTensor(folded.weight, folded.shape), null, { padding: pad }), s);
      expectAllClose(got, want, { atol: 1e-5, rtol: 1e-5 }, `s=${s} k=${k}`);
    }
  });

  it('pads like TensorFlow: SAME gives ceil(in / stride) outputs, the odd pixel at the end', () => {
    const conv = (k: number, s: number, d = 1, padding: 'same' | 'valid' = 'same') => ({
      class: 'Conv2D' as const, name: 'c', inbound: ['x'], filters: 1, kernel_size: [k, k] as [number, number],
      strides: [s, s] as [number, number], padding, dilation_rate: [d, d] as [number, number], groups: 1, use_bias: true, activation: 'linear' as const,
    });
    expect(tfPadding(128, conv(3, 1), 0)).toEqual([1, 1]);
    expect(tfPadding(10, conv(3, 2), 0)).toEqual([0, 1]);
    expect(tfPadding(9, conv(3, 2), 1)).toEqual([1, 1]);
    expect(tfPadding(7, conv(4, 1), 0)).toEqual([1, 2]);
    expect(tfPadding(5, conv(3, 1, 2), 0)).toEqual([2, 2]);
    expect(tfPadding(2, conv(1, 3), 0)).toEqual([0, 0]);
    expect(tfPadding(9, conv(3, 2, 1, 'valid'), 0)).toEqual([0, 0]);
  });
});

describeEachDevice('keras graph vs TF.js', (engine) => {
  const cases: [[number, number, number, number], 'same' | 'valid'][] = [
    [[1, 3, 9, 10], 'valid'],
    [[2, 3, 8, 7], 'valid'],
    [[1, 3, 1, 1], 'valid'],
    [[1, 3, 9, 10], 'same'],
    [[2, 3, 1, 3], 'same'],
  ];
  it.each(cases)('synthetic upscaler on %j with a %s tail', async (shape, tail) => {
    const e = engine();
    const { fixture, bytes } = await converted(7, tail);
    const model = await loadKerasGraphModel(e, bytes, 'fixture');
    expect([model.scale, model.inputChannels, model.outputChannels, model.arch, model.pixelRange]).toEqual([2, 3, 3, 'keras', '0-1']);
    const rng = makeRng(3);
    const n = shape.reduce((p, d) => p * d, 1);
    const input = Float32Array.from({ length: n }, () => rng.uniform(0, 1));
    const want = await tfjsPredict(fixture.modelJson, fixture.shards, input, shape);

    const x = e.tensor(input, shape);
    const before = e.memory().inUseBuffers;
    const y = model.forward(x);
    expect(y.shape).toEqual(want.shape);
    expectAllClose(await y.read(), want.data, { atol: 2e-5, rtol: 1e-4 });
    // Only the output is left: every intermediate went back to the pool.
    expect(e.memory().inUseBuffers).toBe(before + 1);
    y.dispose();
    x.dispose();
    model.dispose();
  });

  it('refuses a wrong input and a file without a graph', async () => {
    const e = engine();
    const { bytes } = await converted();
    const model = await loadKerasGraphModel(e, bytes, 'fixture');
    const x = e.tensor(new Float32Array(4 * 25), [1, 4, 5, 5]);
    expect(() => model.forward(x)).toThrow('keras graph: input must be (N, 3, H, W), got [1, 4, 5, 5]');
    x.dispose();
    model.dispose();
    const plain = writeSafetensors({ 'c.weight': { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    await expect(loadKerasGraphModel(e, plain, 'plain.safetensors')).rejects.toThrow('plain.safetensors: no synthe.graph metadata');
  });
});
