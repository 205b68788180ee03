import { expect, it } from 'vitest';
import type { Engine } from '../../src/index';
import type { InterpolateOptions } from '../../src/kernels/resample';
import { describeEachDevice } from '../devices';
import { expectAllClose } from '../reference/compare';
import { makeRng } from '../reference/random';
import { interpolate } from '../reference/resample';
import { randn, type CpuTensor } from '../reference/tensor';
import { torchCases } from './torch_fixtures';

const upload = (engine: Engine, t: CpuTensor) => engine.tensor(t.data, t.shape);

const MODES: InterpolateOptions[] = [
  { mode: 'nearest' },
  { mode: 'nearest-exact' },
  { mode: 'bilinear' },
  { mode: 'bilinear', alignCorners: true },
];

// Nearest modes pick the same pixels as torch, so they must match exactly; bilinear within f32 rounding.
const tolerance = (o: InterpolateOptions) => (o.mode === 'bilinear' ? { atol: 2e-6, rtol: 1e-5 } : { atol: 0, rtol: 0 });

const CASES: [number[], InterpolateOptions][] = [
  [[1, 1, 4, 4], { scaleFactor: 2 }],
  [[2, 3, 5, 7], { scaleFactor: 2 }],
  [[2, 3, 5, 7], { scaleFactor: 1.5 }],
  [[2, 3, 5, 7], { scaleFactor: 0.5 }],
  [[1, 2, 9, 6], { scaleFactor: [0.7, 2.3] }],
  [[1, 2, 4, 7], { scaleFactor: 1.1 }], // out == in on both axes: torch's CPU shortcuts
  [[1, 2, 3, 4], { scaleFactor: [2.2, 1.1] }], // out == 2·in and out == in
  [[2, 3, 5, 7], { size: [11, 13] }],
  [[2, 3, 11, 13], { size: [5, 7] }], // non-integer downsampling
  [[1, 1, 1, 1], { size: [3, 5] }],
  [[3, 2, 6, 5], { size: [1, 1] }],
  [[1, 4, 8, 8], { size: 3 }],
  [[2, 1, 7, 3], { size: [7, 3] }],
  [[1, 3, 5, 5], { scaleFactor: 1.7, recomputeScaleFactor: true }],
  [[1, 8, 17, 31], { scaleFactor: [1.25, 0.6] }],
  [[1, 2, 9, 50], { scaleFactor: 2.6 }], // rows of 130 outputs: 3 invocations each
];

describeEachDevice('interpolate', (engine) => {
  const rng = makeRng(5);

  it.each(CASES)('%j with %j in every mode', async (shape, sizing) => {
    const e = engine();
    const x = randn(shape, rng);
    const t = upload(e, x);
    for (const mode of MODES) {
      const options = { ...sizing, ...mode };
      const want = interpolate(x, options);
      const y = e.ops.interpolate(t, options);
      expect(y.shape).toEqual(want.shape);
      expectAllClose(await y.read(), want, tolerance(mode), `interpolate ${JSON.stringify(shape)} ${JSON.stringify(options)}`);
      y.dispose();
    }
    t.dispose();
  });

  it('matches torch on every recorded interpolate case', async () => {
    const e = engine();
    for (const c of torchCases('interpolate')) {
      const p = c.params as InterpolateOptions;
      const y = e.ops.interpolate(upload(e, c.inputs['x']!), p);
      expect(y.shape, c.name).toEqual(c.expected.shape);
      expectAllClose(await y.read(), c.expected, tolerance(p), `${c.name} ${JSON.stringify(p)}`);
      y.dispose();
    }
  });

  it('upsamples with the index mapping of 1/scaleFactor, not in/out', async () => {
    // 3 -> floor(3 · 2.6) = 7 pixels: 1/2.6 picks [0, 0, 0, 1, 1, 1, 2], 3/7 picks [0, 0, 0, 1, 1, 2, 2] (both checked in torch).
    const e = engine();
    const x = e.tensor([10, 11, 12], [1, 1, 1, 3]);
    expect(Array.from(await e.ops.interpolate(x, { scaleFactor: [1, 2.6] }).read())).toEqual([10, 10, 10, 11, 11, 11, 12]);
    expect(Array.from(await e.ops.interpolate(x, { size: [1, 7] }).read())).toEqual([10, 10, 10, 11, 11, 12, 12]);
  });

  it('rejects the argument combinations torch rejects', () => {
    const e = engine();
    const x = e.tensor(new Float32Array(16), [1, 1, 4, 4]);
    expect(() => e.ops.interpolate(x, { size: 2, alignCorners: false })).toThrow(/alignCorners can only be set with mode 'bilinear', not 'nearest'/);
    expect(() => e.ops.interpolate(x, { size: 2, mode: 'nearest-exact', alignCorners: true })).toThrow(/alignCorners/);
    expect(() => e.ops.interpolate(x, { size: 2, scaleFactor: 2 })).toThrow(/only one of size and scaleFactor/);
    expect(() => e.ops.interpolate(x, {})).toThrow(/either size or scaleFactor/);
    expect(() => e.ops.interpolate(x, { size: [2, 2, 2] as unknown as [number, number] })).toThrow(/size must be a number or 2 values/);
    expect(() => e.ops.interpolate(x, { scaleFactor: 0.1 })).toThrow(/greater than 0/);
    expect(() => e.ops.interpolate(x, { scaleFactor: -1 })).toThrow(/positive and finite/);
    expect(() => e.ops.interpolate(x, { size: 2, recomputeScaleFactor: true })).toThrow(/not meaningful with an explicit size/);
    expect(() => e.ops.interpolate(x, { size: 2, mode: 'bicubic' as 'bilinear' })).toThrow(/mode must be one of/);
    expect(() => e.ops.interpolate(x.reshape([1, 4, 4]), { size: 2 })).toThrow(/must be 4-D \(N, C, H, W\), got \[1, 4, 4\]/);
  });
});
