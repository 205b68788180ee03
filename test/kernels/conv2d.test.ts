import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDevice } from '../devices';
import { conv2d as refConv2d } from '../reference/conv';
import * as ref from '../reference/elementwise';
import { expectAllClose } from '../reference/compare';
import { makeRng, type Rng } from '../reference/random';
import { randn, type CpuTensor } from '../reference/tensor';
import type { Engine, Tensor } from '../../src/index';
import { autotuneEnabled } from '../../src/kernels/autotune';
import {
  conv2dPacked, conv2dVariants, packConv2dWeight, tuneConv2d, type Activation, type Conv2dGeometry as RefOptions, type Conv2dVariant,
} from '../../src/kernels/conv2d';

const upload = (engine: Engine, t: CpuTensor) => engine.tensor(t.data, t.shape);

// Tuning persists its winners; keep this file's out of the user's cache.
process.env.SYNTHE_AUTOTUNE_CACHE = join(mkdtempSync(join(tmpdir(), 'synthe-autotune-')), 'autotune.json');

/** A weight scaled like PyTorch's init, so outputs stay O(1) whatever the fan-in. */
function weight(shape: number[], rng: Rng): CpuTensor {
  const w = randn(shape, rng);
  const fanIn = shape[1]! * shape[2]! * shape[3]!;
  for (let i = 0; i < w.data.length; i++) w.data[i]! /= Math.sqrt(fanIn);
  return w;
}

/** f16 weights lose ~11 bits; everything else accumulates in f32. */
const tolerance = (variant: Conv2dVariant) => (variant === 'direct-f16' ? { atol: 4e-3, rtol: 4e-3 } : { atol: 2e-5, rtol: 1e-4 });

interface Case {
  n: number;
  c: number;
  o: number;
  h: number;
  w: number;
  k: [number, number];
  options: RefOptions;
}

/** Random geometries over strides 1-3, every padding form, dilations 1-2, groups 1/2/depthwise, odd sizes. */
function randomCases(rng: Rng, count: number): Case[] {
  const kernels = [1, 3, 4, 5, 7];
  const sizes: [number, number][] = [[7, 9], [13, 5], [1, 1], [8, 8], [5, 11], [16, 3]];
  const cases: Case[] = [];
  while (cases.length < count) {
    const k: [number, number] = [kernels[rng.int(kernels.length)]!, kernels[rng.int(kernels.length)]!];
    const [h, w] = sizes[rng.int(sizes.length)]!;
    const dilation = 1 + rng.int(2);
    const groupKind = rng.int(3);
    const c = [3, 4, 6, 8, 12][rng.int(5)]!;
    const groups = groupKind === 0 ? 1 : groupKind === 1 && c % 2 === 0 ? 2 : c;
    const o = groups === c ? c * (1 + rng.int(2)) : groups * (1 + rng.int(6));
    const paddingKind = rng.int(5);
    const stride = paddingKind === 0 ? 1 : 1 + rng.int(3);
    const padding: RefOptions['padding'] =
      paddingKind === 0 ? 'same' : paddingKind === 1 ? 'valid' : paddingKind === 2 ? rng.int(3) : [rng.int(4), rng.int(3)];
    const options: RefOptions = { stride: rng.int(2) ? stride : [stride, 1 + rng.int(3)], padding, dilation, groups };
    if (paddingKind === 0) options.stride = 1;
    const n = 1 + rng.int(2);
    // Skip geometries torch rejects (kernel larger than the padded input).
    const pad = typeof padding === 'number' ? [padding, padding] : Array.isArray(padding) ? padding : [0, 0];
    const fits = padding === 'same' || (h + 2 * pad[0]! >= dilation * (k[0] - 1) + 1 && w + 2 * pad[1]! >= dilation * (k[1] - 1) + 1);
    if (fits) cases.push({ n, c, o, h, w, k, options });
  }
  return cases;
}

describeEachDevice('conv2d', (engine) => {
  const rng = makeRng(1234);

  it.each(randomCases(makeRng(99), 30).map((c) => [c]))('matches F.conv2d with every variant: %j', async (tc) => {
    const e = engine();
    const x = randn([tc.n, tc.c, tc.h, tc.w], rng);
    const wt = weight([tc.o, tc.c / (tc.options.groups ?? 1), ...tc.k], rng);
    const b = randn([tc.o], rng);
    const expected = refConv2d(x, wt, b, tc.options);
    const [tx, tw, tb] = [upload(e, x), upload(e, wt), upload(e, b)];
    const packed = packConv2dWeight(e.runtime, tw, { ...tc.options, bias: tb });
    const variants = conv2dVariants(e.runtime, x.shape, packed);
    expect(variants).toContain('direct');
    for (const variant of variants) {
      const y = conv2dPacked(e.runtime, tx, packed, { variant });
      expect(y.shape).toEqual(expected.shape);
      expectAllClose(await y.read(), expected, tolerance(variant), `${variant} ${JSON.stringify(tc)}`);
      y.dispose();
    }
    // The op form packs on the fly and gives the same result.
    const y = e.ops.conv2d(tx, tw, tb, tc.options);
    expectAllClose(await y.read(), expected, { atol: 2e-5, rtol: 1e-4 }, `conv2d op ${JSON.stringify(tc)}`);
    for (const t of [y, tx, tw, tb]) t.dispose();
    packed.dispose();
  });

  it('covers the fast paths on a wider layer (3x3 same, 1x1, 5x5 dilated) with every variant', async () => {
    const e = engine();
    for (const [k, options] of [
      [3, { padding: 'same' }],
      [1, {}],
      [5, { padding: 4, dilation: 2 }],
      [3, { padding: 1, stride: 2 }],
    ] as [number, RefOptions][]) {
      const x = randn([2, 24, 19, 37], rng);
      const wt = weight([40, 24, k, k], rng);
      const b = randn([40], rng);
      const expected = refConv2d(x, wt, b, options);
      const [tx, tw, tb] = [upload(e, x), upload(e, wt), upload(e, b)];
      const packed = packConv2dWeight(e.runtime, tw, { ...options, bias: tb });
      for (const variant of conv2dVariants(e.runtime, x.shape, packed)) {
        const y = conv2dPacked(e.runtime, tx, packed, { variant });
        expectAllClose(await y.read(), expected, tolerance(variant), `${variant} k${k} ${JSON.stringify(options)}`);
        y.dispose();
      }
      for (const t of [tx, tw, tb]) t.dispose();
      packed.dispose();
    }
  });

  it('fuses every epilogue: activations, prelu, residual with scales', async () => {
    const e = engine();
    const x = randn([2, 8, 9, 7], rng);
    const wt = weight([12, 8, 3, 3], rng);
    const b = randn([12], rng);
    const options: RefOptions = { padding: 1 };
    const conv = refConv2d(x, wt, b, options);
    const res = randn(conv.shape, rng);
    const slopes = randn([12], rng);
    const one = randn([1], rng);
    const [tx, tw, tb, tres, tslopes, tone] = [x, wt, b, res, slopes, one].map((t) => upload(e, t)) as Tensor[];
    const cases: [string, Activation | undefined, CpuTensor][] = [
      ['relu', { kind: 'relu' }, ref.relu(conv)],
      ['leakyRelu', { kind: 'leakyRelu', slope: 0.2 }, ref.leakyRelu(conv, 0.2)],
      ['silu', { kind: 'silu' }, ref.silu(conv)],
      ['gelu', { kind: 'gelu' }, ref.gelu(conv)],
      ['gelu tanh', { kind: 'gelu', approximate: 'tanh' }, ref.gelu(conv, 'tanh')],
      ['tanh', { kind: 'tanh' }, ref.tanh(conv)],
      ['sigmoid', { kind: 'sigmoid' }, ref.sigmoid(conv)],
      ['prelu per channel', { kind: 'prelu', weight: tslopes }, ref.prelu(conv, slopes)],
      ['prelu shared', { kind: 'prelu', weight: tone }, ref.prelu(conv, one)],
      ['none', undefined, conv],
    ];
    const packed = packConv2dWeight(e.runtime, tw!, { ...options, bias: tb });
    // The epilogue is the same WGSL in every conv shader: all activations (with the residual, so each is one
    // pipeline) on one variant, and on every variant the parts with their own bindings and uniforms.
    const variants = conv2dVariants(e.runtime, x.shape, packed, { residual: tres });
    const runs = [
      ...cases.map(([name, activation, activated]) => ['direct', name, activation, activated, true] as const),
      ...variants.flatMap((v) => [
        [v, 'prelu per channel', cases[7]![1], cases[7]![2], true] as const,
        [v, 'leakyRelu', cases[1]![1], cases[1]![2], false] as const,
      ]),
    ];
    for (const [variant, name, activation, activated, residual] of runs) {
      const tol = { ...tolerance(variant), atol: Math.max(1e-4, tolerance(variant).atol) };
      if (residual) {
        // y = act(conv + bias) * outputScale + residualScale * residual
        const y = conv2dPacked(e.runtime, tx!, packed, { variant, activation, residual: tres, outputScale: 0.2, residualScale: -1.5 });
        expectAllClose(await y.read(), ref.add(ref.scale(activated, 0.2), ref.scale(res, -1.5)), tol, `${variant} ${name} + residual`);
        y.dispose();
      } else {
        const y = conv2dPacked(e.runtime, tx!, packed, { variant, activation });
        expectAllClose(await y.read(), activated, tol, `${variant} ${name}`);
        y.dispose();
      }
    }
    packed.dispose();
  });

  it('picks the depthwise kernel for depthwise layers (channel multiplier, stride_h, dilation_h, padded edges)', async () => {
    const e = engine();
    // Rows of 37 pixels: the kernel's 8-pixel segments end in a partial one, and both edges pad. (The random
    // cases above run these layers through every other variant.)
    const x = randn([2, 24, 11, 37], rng);
    for (const [o, k, options] of [
      [24, [3, 3], { padding: 1, groups: 24 }],
      [48, [5, 3], { padding: [4, 1], stride: [2, 1], dilation: [2, 1], groups: 24 }],
      [24, [1, 7], { padding: [0, 3], groups: 24 }],
    ] as [number, [number, number], RefOptions][]) {
      const wt = weight([o, 1, ...k], rng);
      const b = randn([o], rng);
      const conv = refConv2d(x, wt, b, options);
      const res = randn(conv.shape, rng);
      const slopes = randn([o], rng);
      const [tx, tw, tb, tres, tslopes] = [x, wt, b, res, slopes].map((t) => upload(e, t)) as Tensor[];
      const packed = packConv2dWeight(e.runtime, tw!, { ...options, bias: tb });
      expect(conv2dVariants(e.runtime, x.shape, packed)[0]).toBe('depthwise');
      const what = `${o}ch k${k.join('x')} ${JSON.stringify(options)}`;
      const plain = conv2dPacked(e.runtime, tx!, packed, { variant: 'depthwise' });
      expectAllClose(await plain.read(), conv, tolerance('depthwise'), what);
      plain.dispose();
      const fused = conv2dPacked(e.runtime, tx!, packed, {
        variant: 'depthwise', activation: { kind: 'prelu', weight: tslopes }, residual: tres, outputScale: 0.2, residualScale: -1.5,
      });
      const expected = ref.add(ref.scale(ref.prelu(conv, slopes), 0.2), ref.scale(res, -1.5));
      expectAllClose(await fused.read(), expected, { atol: 1e-4, rtol: 1e-4 }, `${what} prelu + residual`);
      fused.dispose();
      for (const t of [tx, tw, tb, tres, tslopes]) t!.dispose();
      packed.dispose();
    }
  });

  it('routes 1x1 layers through gemm when the epilogue allows, with its activations', async () => {
    const e = engine();
    const x = randn([2, 16, 5, 7], rng);
    const wt = weight([24, 16, 1, 1], rng);
    const b = randn([24], rng);
    const [tx, tw, tb] = [upload(e, x), upload(e, wt), upload(e, b)];
    const packed = packConv2dWeight(e.runtime, tw, { bias: tb });
    expect(conv2dVariants(e.runtime, x.shape, packed)).toContain('matmul');
    expect(conv2dVariants(e.runtime, x.shape, packed, { outputScale: 0.5 })).not.toContain('matmul');
    const y = conv2dPacked(e.runtime, tx, packed, { variant: 'matmul', activation: { kind: 'leakyRelu', slope: 0.1 } });
    expectAllClose(await y.read(), ref.leakyRelu(refConv2d(x, wt, b), 0.1), { atol: 2e-5, rtol: 1e-4 });
    packed.dispose();
  });

  it('tunes: picks an eligible variant, uses it, and persists it', async () => {
    const e = engine();
    const x = randn([1, 8, 12, 12], rng);
    const wt = weight([8, 8, 3, 3], rng);
    const packed = packConv2dWeight(e.runtime, upload(e, wt), { padding: 1 });
    const winner = await tuneConv2d(e.runtime, x.shape, packed);
    expect(conv2dVariants(e.runtime, x.shape, packed)).toContain(winner);
    const y = conv2dPacked(e.runtime, upload(e, x), packed);
    expectAllClose(await y.read(), refConv2d(x, wt, null, { padding: 1 }), tolerance(winner));
    if (autotuneEnabled()) {
      const stored = JSON.parse(readFileSync(process.env.SYNTHE_AUTOTUNE_CACHE!, 'utf8')) as Record<string, string>;
      expect(Object.values(stored)).toContain(winner);
    }
    packed.dispose();
  });

  it('keeps packed weights alive across tidy scopes', async () => {
    const e = engine();
    const x = randn([1, 4, 6, 6], rng);
    const wt = weight([4, 4, 3, 3], rng);
    const tw = upload(e, wt);
    const packed = e.tidy(() => packConv2dWeight(e.runtime, tw, { padding: 1 }));
    const y = e.tidy(() => conv2dPacked(e.runtime, upload(e, x), packed));
    expectAllClose(await y.read(), refConv2d(x, wt, null, { padding: 1 }), { atol: 2e-5, rtol: 1e-4 });
    packed.dispose();
  });

  it('accepts unbatched (C, H, W) input like torch, residual included', async () => {
    const e = engine();
    const x = randn([5, 7, 6], rng);
    const wt = weight([6, 5, 3, 3], rng);
    const b = randn([6], rng);
    const conv = refConv2d(x, wt, b, { padding: 1 });
    const res = randn(conv.shape, rng);
    const y = e.ops.conv2d(upload(e, x), upload(e, wt), upload(e, b), { padding: 1, residual: upload(e, res) });
    expect(y.shape).toEqual([6, 7, 6]);
    expectAllClose(await y.read(), ref.add(conv, res), { atol: 2e-5, rtol: 1e-4 });
    expect(await tuneConv2d(e.runtime, x.shape, packConv2dWeight(e.runtime, upload(e, wt), { padding: 1 }))).toBeTruthy();
  });

  it('records into a plan (eager packing included) and replays with new inputs', async () => {
    const e = engine();
    const wt = weight([6, 4, 3, 3], rng);
    const w2 = weight([5, 6, 1, 1], rng);
    const tw = upload(e, wt);
    const tw2 = upload(e, w2);
    const packed = packConv2dWeight(e.runtime, tw, { padding: 1 });
    const plan = e.record({ x: [1, 4, 7, 5] }, ({ x }) => {
      const h = conv2dPacked(e.runtime, x, packed, { activation: { kind: 'silu' } });
      return { y: e.ops.conv2d(h, tw2) };
    });
    for (let run = 0; run < 2; run++) {
      const x = randn([1, 4, 7, 5], rng);
      const { y } = plan.run({ x: x.data });
      expectAllClose(await y.read(), refConv2d(ref.silu(refConv2d(x, wt, null, { padding: 1 })), w2), { atol: 2e-5, rtol: 1e-4 }, `run ${run}`);
    }
    plan.dispose();
    packed.dispose();
  });

  it('rejects bad arguments, naming them and the shapes', () => {
    const e = engine();
    const x = e.tensor(new Float32Array(2 * 3 * 5 * 5), [2, 3, 5, 5]);
    const w = e.tensor(new Float32Array(4 * 2 * 3 * 3), [4, 2, 3, 3]);
    expect(() => e.ops.conv2d(x, w)).toThrow(/input \[2, 3, 5, 5\] has 3 channels but weight \[4, 2, 3, 3\]/);
    expect(() => e.ops.conv2d(x, w, null, { groups: 3 })).toThrow(/out channels 4 .* not divisible by groups=3/);
    const w3 = e.tensor(new Float32Array(4 * 3 * 3 * 3), [4, 3, 3, 3]);
    expect(() => e.ops.conv2d(x, w3, null, { padding: 'same', stride: 2 })).toThrow(/padding='same' .* strided/);
    expect(() => e.ops.conv2d(x, w3, e.tensor([1, 2], [2]))).toThrow(/bias \[2\] must be \[4\]/);
    expect(() => e.ops.conv2d(x, w3, null, { stride: 0 })).toThrow(/stride must be an integer >= 1/);
    expect(() => e.ops.conv2d(x, w3, null, { dilation: 3 })).toThrow(/smaller than the dilated kernel 7x7/);
    expect(() => e.ops.conv2d(x, w3, null, { residual: x })).toThrow(/residual \[2, 3, 5, 5\] must have the output's shape \[2, 4, 3, 3\]/);
    expect(() => e.ops.conv2d(x, w3, null, { activation: { kind: 'prelu' } })).toThrow(/prelu.*needs a weight/);
  });
});
