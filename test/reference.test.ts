// Tests of the CPU reference implementations in test/reference/. Two kinds of evidence:
//  1. hand-derived values and independent formulations (im2col conv, conv/conv-transpose adjointness,
//     invariants such as softmax rows summing to 1), written here without reusing the code under test;
//  2. PyTorch outputs recorded by test/reference/torch_fixtures.py into torch_fixtures.json (torch 1.13 CPU,
//     float32). Python is not needed to run these tests.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as R from './reference';
import type { CpuTensor } from './reference';

// ---------------------------------------------------------------------------------------------------------
// Fixture loading
// ---------------------------------------------------------------------------------------------------------

interface EncodedTensor {
  shape: number[];
  data: (number | string)[];
}
interface Fixture {
  inputs: Record<string, string>;
  params: Record<string, unknown>;
  output: string;
}
const fixtureFile = JSON.parse(readFileSync(new URL('./reference/torch_fixtures.json', import.meta.url), 'utf8')) as {
  torch: string;
  tensors: Record<string, EncodedTensor>;
  cases: Record<string, Fixture>;
};

function decodeTensor(id: string): CpuTensor {
  const e = fixtureFile.tensors[id];
  if (!e) throw new Error(`fixture tensor ${id} missing`);
  const data = Float32Array.from(e.data, (v) => (typeof v === 'number' ? v : Number(v)));
  return R.cpuTensor(data, e.shape);
}

interface LoadedCase {
  name: string;
  inputs: Record<string, CpuTensor>;
  params: Record<string, unknown>;
  expected: CpuTensor;
}

function fixtures(family: string): LoadedCase[] {
  const out: LoadedCase[] = [];
  for (const [name, f] of Object.entries(fixtureFile.cases)) {
    if (name.split('/')[0] !== family) continue;
    const inputs: Record<string, CpuTensor> = {};
    for (const [k, id] of Object.entries(f.inputs)) inputs[k] = decodeTensor(id);
    out.push({ name, inputs, params: f.params, expected: decodeTensor(f.output) });
  }
  if (out.length === 0) throw new Error(`no fixtures for ${family}`);
  return out;
}

function expectShape(t: CpuTensor, shape: number[]): void {
  expect(t.shape).toEqual(shape);
}

/** Checks a result against a torch fixture: same shape, all close. */
function checkAgainst(actual: CpuTensor, c: LoadedCase, atol: number, rtol: number): void {
  expect(actual.shape, c.name).toEqual(c.expected.shape);
  R.expectAllClose(actual, c.expected, { atol, rtol }, c.name);
}

const t = R.cpuTensor;

function dot64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Tensor helpers, RNG, comparison
// ---------------------------------------------------------------------------------------------------------

describe('tensor helpers', () => {
  it('computes numel and row-major strides', () => {
    expect(R.numel([2, 3, 4])).toBe(24);
    expect(R.numel([])).toBe(1);
    expect(R.numel([3, 0])).toBe(0);
    expect(R.strides([2, 3, 4])).toEqual([12, 4, 1]);
    expect(R.strides([5])).toEqual([1]);
    expect(R.strides([])).toEqual([]);
  });

  it('validates data length and shape', () => {
    expect(() => t([1, 2, 3], [2, 2])).toThrow(/\[2, 2\]/);
    expect(() => t([1], [-1])).toThrow(/invalid shape/);
    const x = t([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(x.data).toBeInstanceOf(Float32Array);
    expect(R.at(x, 1, 2)).toBe(6);
    expect(R.unravelIndex(5, [2, 3])).toEqual([1, 2]);
  });

  it('makeRng is deterministic and randn/uniform have the right moments', () => {
    const a = R.randn([1000], R.makeRng(7));
    const b = R.randn([1000], R.makeRng(7));
    const c = R.randn([1000], R.makeRng(8));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(R.maxAbsDiff(a, c)).toBeGreaterThan(0);

    const n = R.randn([200_000], R.makeRng(1)).data;
    let m = 0;
    for (const v of n) m += v;
    m /= n.length;
    let v2 = 0;
    for (const v of n) v2 += (v - m) ** 2;
    v2 /= n.length;
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(Math.abs(v2 - 1)).toBeLessThan(0.02);

    const u = R.uniform([100_000], R.makeRng(2), -2, 3).data;
    let lo = Infinity;
    let hi = -Infinity;
    let mu = 0;
    for (const v of u) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      mu += v;
    }
    expect(lo).toBeGreaterThanOrEqual(-2);
    expect(hi).toBeLessThan(3);
    expect(Math.abs(mu / u.length - 0.5)).toBeLessThan(0.02);
  });
});

describe('compare helpers', () => {
  it('maxAbsDiff and normalizedError', () => {
    expect(R.maxAbsDiff([1, 2, 3], [1, 2.5, 2])).toBe(1);
    expect(R.maxAbsDiff([NaN, Infinity], [NaN, Infinity])).toBe(0);
    expect(R.maxAbsDiff([NaN], [0])).toBe(Infinity);
    expect(R.maxAbsDiff([Infinity], [-Infinity])).toBe(Infinity);
    expect(R.normalizedError([10, 0], [12, 0])).toBeCloseTo(2 / 12, 12);
    expect(R.normalizedError([0.1], [0.2])).toBeCloseTo(0.1, 12);
    expect(() => R.maxAbsDiff([1], [1, 2])).toThrow(/length mismatch/);
  });

  it('expectAllClose passes within tolerance and reports the worst element', () => {
    R.expectAllClose([1, 2, 3], Float32Array.of(1, 2, 3.000001), { atol: 1e-5, rtol: 0 });
    R.expectAllClose([NaN, 1], [NaN, 1], { atol: 0, rtol: 0 });
    expect(() => R.expectAllClose([NaN], [NaN], { equalNan: false })).toThrow(/not close/);
    const exp = t([0, 1, 2, 3, 4, 5], [2, 3]);
    let msg = '';
    try {
      R.expectAllClose([0, 1.1, 2, 3, 9, 5], exp, { atol: 0.01, rtol: 0 }, 'demo');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('demo: 2 of 6 elements not close');
    expect(msg).toContain('worst at index 4 (position [1, 1] in shape [2, 3])');
    expect(msg).toContain('actual 9.00000000, expected 4.00000000');
    expect(() => R.expectAllClose(t([1, 2], [2]), t([1, 2], [1, 2]))).toThrow(/shape mismatch/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Elementwise
// ---------------------------------------------------------------------------------------------------------

describe('elementwise', () => {
  it('erf matches libm to 1e-15 and is odd', () => {
    const known: [number, number][] = [
      [0, 0],
      [1e-9, 1.1283791670955127e-9],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
      [5.5, 0.9999999999999927],
      [-0.7, -0.6778011938374184],
    ];
    for (const [x, e] of known) {
      expect(Math.abs(R.erf(x) - e), `erf(${x})`).toBeLessThan(2e-15);
      expect(R.erf(-x)).toBe(-R.erf(x));
    }
    expect(R.erf(Infinity)).toBe(1);
    expect(R.erf(-Infinity)).toBe(-1);
    expect(R.erf(NaN)).toBeNaN();
    // Continuity across the series / continued-fraction switch at 2.5.
    expect(Math.abs(R.erf(2.5 - 1e-12) - R.erf(2.5))).toBeLessThan(1e-14);
  });

  it('activations on hand-computed values', () => {
    const x = t([-2, -0.5, 0, 0.5, 2], [5]);
    R.expectAllClose(R.relu(x), [0, 0, 0, 0.5, 2], { atol: 0 });
    R.expectAllClose(R.leakyRelu(x), [-0.02, -0.005, 0, 0.5, 2], { atol: 1e-8 });
    R.expectAllClose(R.leakyRelu(x, 0.2), [-0.4, -0.1, 0, 0.5, 2], { atol: 1e-8 });
    const sig = [-2, -0.5, 0, 0.5, 2].map((v) => 1 / (1 + Math.exp(-v)));
    R.expectAllClose(R.sigmoid(x), sig, { atol: 1e-7 });
    R.expectAllClose(R.silu(x), sig.map((s, i) => s * [-2, -0.5, 0, 0.5, 2][i]!), { atol: 1e-7 });
    R.expectAllClose(R.tanh(x), [-2, -0.5, 0, 0.5, 2].map(Math.tanh), { atol: 1e-7 });
    // gelu(1) = Φ(1) = 0.8413447460685429; gelu(-1) = -(1 − Φ(1)).
    R.expectAllClose(R.gelu(t([1, -1, 0], [3])), [0.8413447460685429, -0.15865525393145707, 0], { atol: 1e-7 });
    const th = 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (1 + 0.044715)));
    R.expectAllClose(R.gelu(t([1], [1]), 'tanh'), [th], { atol: 1e-7 });
    R.expectAllClose(R.clamp(x, -1, 1), [-1, -0.5, 0, 0.5, 1], { atol: 0 });
    R.expectAllClose(R.clamp(x, 0), [0, 0, 0, 0.5, 2], { atol: 0 });
    R.expectAllClose(R.clamp(x, undefined, 0), [-2, -0.5, 0, 0, 0], { atol: 0 });
    R.expectAllClose(R.clamp(x, 1, -1), [-1, -1, -1, -1, -1], { atol: 0 });
    expect(() => R.clamp(x)).toThrow(/at least one/);
    R.expectAllClose(R.scale(x, 3), [-6, -1.5, 0, 1.5, 6], { atol: 0 });
    R.expectAllClose(R.relu(t([NaN], [1])), [NaN], { atol: 0 });
  });

  it('prelu uses one weight per channel (dim 1) or a shared weight', () => {
    const x = t([-1, 2, -3, 4, -1, -2, 3, -4], [1, 2, 2, 2]);
    R.expectAllClose(R.prelu(x, t([0.5, 2], [2])), [-0.5, 2, -1.5, 4, -2, -4, 3, -8], { atol: 0 });
    R.expectAllClose(R.prelu(x, t([0.1], [1])), [-0.1, 2, -0.3, 4, -0.1, -0.2, 3, -0.4], { atol: 1e-7 });
    expect(() => R.prelu(x, t([1, 2, 3], [3]))).toThrow(/\[1, 2, 2, 2\]/);
  });

  it('broadcasts binary ops like numpy', () => {
    const a = t([1, 2], [2, 1]);
    const b = t([10, 20, 30], [3]);
    const s = R.add(a, b);
    expectShape(s, [2, 3]);
    R.expectAllClose(s, [11, 21, 31, 12, 22, 32], { atol: 0 });
    R.expectAllClose(R.sub(a, b), [-9, -19, -29, -8, -18, -28], { atol: 0 });
    R.expectAllClose(R.mul(a, b), [10, 20, 30, 20, 40, 60], { atol: 0 });
    R.expectAllClose(R.div(b, a), [10, 20, 30, 5, 10, 15], { atol: 0 });
    R.expectAllClose(R.add(2, b), [12, 22, 32], { atol: 0 });
    R.expectAllClose(R.div(t([1, -1, 0], [3]), 0), [Infinity, -Infinity, NaN], { atol: 0 });
    expect(R.broadcastShapes([5, 1, 4], [3, 1], [1])).toEqual([5, 3, 4]);
    expect(() => R.add(t([1, 2, 3, 4, 5, 6], [2, 3]), t([1, 2, 3, 4], [4]))).toThrow(/\[2, 3\] and \[4\]/);

    // General broadcast path against an explicit index computation.
    const rng = R.makeRng(3);
    const p = R.randn([5, 1, 3, 1], rng);
    const q = R.randn([4, 1, 2], rng);
    const r = R.mul(p, q);
    expectShape(r, [5, 4, 3, 2]);
    const exp: number[] = [];
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 4; j++)
        for (let k = 0; k < 3; k++) for (let l = 0; l < 2; l++) exp.push(Math.fround(R.at(p, i, 0, k, 0) * R.at(q, j, 0, l)));
    R.expectAllClose(r, exp, { atol: 0, rtol: 0 });
  });

  describe('matches torch', () => {
    const unary: [string, (c: LoadedCase) => CpuTensor][] = [
      ['relu', (c) => R.relu(c.inputs.x!)],
      ['leakyRelu', (c) => R.leakyRelu(c.inputs.x!)],
      ['leakyRelu0.2', (c) => R.leakyRelu(c.inputs.x!, c.params.slope as number)],
      ['silu', (c) => R.silu(c.inputs.x!)],
      ['gelu', (c) => R.gelu(c.inputs.x!)],
      ['geluTanh', (c) => R.gelu(c.inputs.x!, 'tanh')],
      ['tanh', (c) => R.tanh(c.inputs.x!)],
      ['sigmoid', (c) => R.sigmoid(c.inputs.x!)],
      ['clamp', (c) => R.clamp(c.inputs.x!, c.params.min as number, c.params.max as number)],
      ['clampMin', (c) => R.clamp(c.inputs.x!, c.params.min as number)],
      ['clampMax', (c) => R.clamp(c.inputs.x!, undefined, c.params.max as number)],
      ['clampInverted', (c) => R.clamp(c.inputs.x!, c.params.min as number, c.params.max as number)],
      ['scale', (c) => R.scale(c.inputs.x!, c.params.s as number)],
      ['prelu', (c) => R.prelu(c.inputs.x!, c.inputs.w!)],
    ];
    for (const [family, fn] of unary) {
      it(family, () => {
        for (const c of fixtures(family)) checkAgainst(fn(c), c, 1e-6, 2e-6);
      });
    }
    const binary: [string, (a: CpuTensor | number, b: CpuTensor | number) => CpuTensor][] = [
      ['add', R.add],
      ['sub', R.sub],
      ['mul', R.mul],
      ['div', R.div],
    ];
    for (const [family, fn] of binary) {
      it(family, () => {
        for (const c of fixtures(family)) {
          const s = c.params.scalar as number | undefined;
          let y: CpuTensor;
          if (s === undefined) y = fn(c.inputs.a!, c.inputs.b!);
          else if (c.name.endsWith('scalarFirst')) y = fn(s, c.inputs.a!);
          else y = fn(c.inputs.a!, s);
          // Single f32 roundings of exact results: bit-exact with torch.
          checkAgainst(y, c, 0, 0);
        }
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// matmul / linear
// ---------------------------------------------------------------------------------------------------------

describe('matmul and linear', () => {
  it('hand-computed products and torch.matmul shape rules', () => {
    const a = t([1, 2, 3, 4], [2, 2]);
    const b = t([5, 6, 7, 8], [2, 2]);
    R.expectAllClose(R.matmul(a, b), [19, 22, 43, 50], { atol: 0 });
    const d = R.matmul(t([1, 2, 3], [3]), t([4, 5, 6], [3]));
    expectShape(d, []);
    expect(d.data[0]).toBe(32);
    const mv = R.matmul(a, t([1, 1], [2]));
    expectShape(mv, [2]);
    R.expectAllClose(mv, [3, 7], { atol: 0 });
    const vm = R.matmul(t([1, 1], [2]), a);
    expectShape(vm, [2]);
    R.expectAllClose(vm, [4, 6], { atol: 0 });
    expectShape(R.matmul(R.zeros([2, 1, 3, 4]), R.zeros([5, 4, 6])), [2, 5, 3, 6]);
    expectShape(R.matmul(R.zeros([4]), R.zeros([2, 4, 6])), [2, 6]);
    expectShape(R.matmul(R.zeros([2, 3, 4]), R.zeros([4])), [2, 3]);
    expect(() => R.matmul(R.zeros([2, 3]), R.zeros([4, 5]))).toThrow(/\[2, 3\] @ \[4, 5\]/);
    expect(() => R.matmul(R.zeros([2, 2, 3]), R.zeros([3, 3, 1]))).toThrow(/not broadcastable/);
  });

  it('batched broadcast matmul equals per-batch naive products', () => {
    const rng = R.makeRng(11);
    const a = R.randn([3, 1, 4, 5], rng);
    const b = R.randn([2, 5, 3], rng);
    const y = R.matmul(a, b);
    expectShape(y, [3, 2, 4, 3]);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 2; j++)
        for (let m = 0; m < 4; m++)
          for (let n = 0; n < 3; n++) {
            let s = 0;
            for (let k = 0; k < 5; k++) s += R.at(a, i, 0, m, k) * R.at(b, j, k, n);
            expect(Math.abs(R.at(y, i, j, m, n) - s)).toBeLessThan(1e-5);
          }
  });

  it('linear equals x @ Wᵀ + b', () => {
    const x = t([1, 2, 3, 4, 5, 6], [2, 3]);
    const w = t([1, 0, -1, 2, 1, 0], [2, 3]);
    const y = R.linear(x, w, t([10, 20], [2]));
    R.expectAllClose(y, [1 - 3 + 10, 2 + 2 + 20, 4 - 6 + 10, 8 + 5 + 20], { atol: 0 });
    R.expectAllClose(R.linear(x, w), R.matmul(x, R.transpose(w, 0, 1)), { atol: 0 });
    expect(() => R.linear(x, t([1, 2], [1, 2]))).toThrow(/\[2, 3\]/);
  });

  it('matches torch', () => {
    for (const c of fixtures('matmul')) checkAgainst(R.matmul(c.inputs.a!, c.inputs.b!), c, 1e-5, 1e-5);
    for (const c of fixtures('linear')) checkAgainst(R.linear(c.inputs.x!, c.inputs.w!, c.inputs.b), c, 1e-5, 1e-5);
  });
});

// ---------------------------------------------------------------------------------------------------------
// softmax
// ---------------------------------------------------------------------------------------------------------

describe('softmax', () => {
  it('rows sum to 1 along any dim and match the direct formula', () => {
    const x = R.randn([3, 4, 5], R.makeRng(5));
    for (const dim of [0, 1, 2, -1, -3]) {
      const y = R.softmax(x, dim);
      const d = dim < 0 ? dim + 3 : dim;
      const sizes = x.shape;
      const st = R.strides(sizes);
      for (let i = 0; i < x.data.length; i++) {
        const idx = R.unravelIndex(i, sizes);
        if (idx[d] !== 0) continue;
        let sum = 0;
        let denom = 0;
        for (let k = 0; k < sizes[d]!; k++) denom += Math.exp(x.data[i + k * st[d]!]!);
        for (let k = 0; k < sizes[d]!; k++) {
          const v = y.data[i + k * st[d]!]!;
          sum += v;
          expect(Math.abs(v - Math.exp(x.data[i + k * st[d]!]!) / denom)).toBeLessThan(1e-7);
        }
        expect(Math.abs(sum - 1)).toBeLessThan(1e-6);
      }
    }
  });

  it('is shift invariant, stable for large inputs, NaN for all −inf rows', () => {
    const y = R.softmax(t([1000, 1001, 1002, -Infinity, -Infinity, -Infinity, 0, -Infinity, 0], [3, 3]), 1);
    const e = [1, Math.E, Math.E * Math.E];
    const s = e[0]! + e[1]! + e[2]!;
    R.expectAllClose(y.data.subarray(0, 3), e.map((v) => v / s), { atol: 1e-7 });
    expect(Array.from(y.data.subarray(3, 6)).every(Number.isNaN)).toBe(true);
    R.expectAllClose(y.data.subarray(6), [0.5, 0, 0.5], { atol: 0 });
    const ls = R.logSoftmax(t([0, Math.log(3)], [2]), 0);
    R.expectAllClose(ls, [Math.log(0.25), Math.log(0.75)], { atol: 1e-7 });
    expect(() => R.softmax(R.zeros([2, 3]), 2)).toThrow(/\[2, 3\]/);
  });

  it('matches torch', () => {
    for (const c of fixtures('softmax')) checkAgainst(R.softmax(c.inputs.x!, c.params.dim as number), c, 1e-7, 1e-6);
    for (const c of fixtures('logSoftmax')) checkAgainst(R.logSoftmax(c.inputs.x!, c.params.dim as number), c, 1e-6, 1e-6);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Shape ops
// ---------------------------------------------------------------------------------------------------------

describe('shape ops', () => {
  it('reshape infers -1 and shares data', () => {
    const x = R.arange([2, 3, 4]);
    const y = R.reshape(x, [4, -1]);
    expectShape(y, [4, 6]);
    expect(y.data).toBe(x.data);
    expect(() => R.reshape(x, [5, -1])).toThrow(/\[2, 3, 4\]/);
  });

  it('permute and transpose move elements to the permuted index', () => {
    const x = R.arange([2, 3, 4]);
    const y = R.permute(x, [2, 0, 1]);
    expectShape(y, [4, 2, 3]);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) expect(R.at(y, k, i, j)).toBe(R.at(x, i, j, k));
    const tt = R.transpose(x, -1, 0);
    expectShape(tt, [4, 3, 2]);
    expect(R.at(tt, 3, 1, 0)).toBe(R.at(x, 0, 1, 3));
    expect(() => R.permute(x, [0, 0, 1])).toThrow(/repeat/);
  });

  it('concat along any dim', () => {
    const a = t([1, 2, 3, 4], [2, 2]);
    const b = t([5, 6], [2, 1]);
    R.expectAllClose(R.concat([a, b], 1), [1, 2, 5, 3, 4, 6], { atol: 0 });
    R.expectAllClose(R.concat([a, t([7, 8], [1, 2])], 0), [1, 2, 3, 4, 7, 8], { atol: 0 });
    R.expectAllClose(R.concat([a, R.zeros([0]), a], -2), [1, 2, 3, 4, 1, 2, 3, 4], { atol: 0 });
    expectShape(R.concat([R.zeros([2, 3, 1]), R.zeros([2, 3, 2])], -1), [2, 3, 3]);
    expect(() => R.concat([a, b], 0)).toThrow(/\[2, 2\], \[2, 1\]/);
  });

  it('narrow and chunk', () => {
    const x = R.arange([3, 5]);
    R.expectAllClose(R.narrow(x, 1, 1, 2), [1, 2, 6, 7, 11, 12], { atol: 0 });
    const parts = R.chunk(x, 2, 1);
    expect(parts.map((p) => p.shape)).toEqual([
      [3, 3],
      [3, 2],
    ]);
    R.expectAllClose(R.concat(parts, 1), x, { atol: 0 });
    expect(() => R.narrow(x, 0, 2, 2)).toThrow(/\[3, 5\]/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Resampling
// ---------------------------------------------------------------------------------------------------------

describe('interpolate', () => {
  const x22 = t([1, 2, 3, 4], [1, 1, 2, 2]);
  const x33 = t([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);

  /** f(y, x) = 1 + x + W·y sampled at per-axis source coordinates (exact for bilinear of an affine image). */
  function affine(ps: number[], W: number): number[] {
    const out: number[] = [];
    for (const py of ps) for (const px of ps) out.push(1 + px + W * py);
    return out;
  }

  it('2x2 -> 4x4 nearest / nearest-exact / bilinear', () => {
    // nearest: src = floor(dst · 2/4) = 0, 0, 1, 1 (same for nearest-exact: floor((d + .5)/2)).
    const nn = [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4];
    R.expectAllClose(R.interpolate(x22, { size: 4 }), nn, { atol: 0 });
    R.expectAllClose(R.interpolate(x22, { size: [4, 4], mode: 'nearest-exact' }), nn, { atol: 0 });
    R.expectAllClose(R.interpolate(x22, { scaleFactor: 2 }), nn, { atol: 0 });
    // bilinear, align_corners=False: src = (d + .5)/2 − .5 = −.25→0, .25, .75, 1.25 (index clamps to 1).
    const bl = affine([0, 0.25, 0.75, 1], 2);
    expect(bl).toEqual([1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]);
    R.expectAllClose(R.interpolate(x22, { size: 4, mode: 'bilinear' }), bl, { atol: 0 });
    // align_corners=True: src = d · (2−1)/(4−1).
    R.expectAllClose(R.interpolate(x22, { size: 4, mode: 'bilinear', alignCorners: true }), affine([0, 1 / 3, 2 / 3, 1], 2), { atol: 1e-6 });
  });

  it('3x3 -> 5x5 nearest / nearest-exact / bilinear', () => {
    const pick = (idx: number[]): number[] => {
      const out: number[] = [];
      for (const i of idx) for (const j of idx) out.push(x33.data[i * 3 + j]!);
      return out;
    };
    // nearest: floor(d · 0.6) = 0, 0, 1, 1, 2; nearest-exact: floor((d + .5) · 0.6) = 0, 0, 1, 2, 2.
    R.expectAllClose(R.interpolate(x33, { size: 5 }), pick([0, 0, 1, 1, 2]), { atol: 0 });
    R.expectAllClose(R.interpolate(x33, { size: 5, mode: 'nearest-exact' }), pick([0, 0, 1, 2, 2]), { atol: 0 });
    // bilinear: (d + .5) · 0.6 − .5 = −.2→0, .4, 1, 1.6, 2.2 (clamped to the last pixel).
    R.expectAllClose(R.interpolate(x33, { size: 5, mode: 'bilinear' }), affine([0, 0.4, 1, 1.6, 2], 3), { atol: 1e-6 });
    R.expectAllClose(R.interpolate(x33, { size: 5, mode: 'bilinear', alignCorners: true }), affine([0, 0.5, 1, 1.5, 2], 3), { atol: 1e-6 });
  });

  it('bilinear weights the four neighbours (non-affine image)', () => {
    const x = t([1, 2, 3, 5], [1, 1, 2, 2]);
    const y = R.interpolate(x, { size: 4, mode: 'bilinear' });
    // At source (0.25, 0.25): .75·.75·1 + .75·.25·2 + .25·.75·3 + .25·.25·5 = 1.8125.
    expect(R.at(y, 0, 0, 1, 1)).toBe(1.8125);
    expect(R.at(y, 0, 0, 3, 3)).toBe(5);
  });

  it('scaleFactor maps indices with 1/scaleFactor unless recomputeScaleFactor', () => {
    const x = R.randn([1, 2, 3, 3], R.makeRng(4));
    // floor(3 · 1.7) = 5 outputs, but the source coordinate uses 1/1.7, not 3/5.
    const bySize = R.interpolate(x, { size: 5, mode: 'bilinear' });
    const byScale = R.interpolate(x, { scaleFactor: 1.7, mode: 'bilinear' });
    const recomputed = R.interpolate(x, { scaleFactor: 1.7, mode: 'bilinear', recomputeScaleFactor: true });
    expectShape(byScale, [1, 2, 5, 5]);
    expect(R.maxAbsDiff(bySize, byScale)).toBeGreaterThan(1e-3);
    R.expectAllClose(recomputed, bySize, { atol: 0 });
    // Explicit check of one coordinate: dst 1 -> src 1.5/1.7 − .5.
    const s = Math.fround(Math.fround(Math.fround(1 / 1.7) * 1.5) - 0.5);
    const row = 0; // dst row 0 -> src row 0 (clamped), so only the column varies
    const expected = (1 - s) * R.at(x, 0, 0, row, 0) + s * R.at(x, 0, 0, row, 1);
    expect(Math.abs(R.at(byScale, 0, 0, 0, 1) - expected)).toBeLessThan(1e-6);
  });

  it('validates arguments', () => {
    expect(() => R.interpolate(R.zeros([1, 2, 3]), { size: 2 })).toThrow(/\[1, 2, 3\]/);
    expect(() => R.interpolate(x22, { size: 2, scaleFactor: 2 })).toThrow(/exactly one/);
    expect(() => R.interpolate(x22, { size: 2, alignCorners: false })).toThrow(/alignCorners/);
  });

  it('matches torch (nearest exactly, bilinear to float rounding)', () => {
    for (const c of fixtures('interpolate')) {
      const p = c.params;
      const opts: R.InterpolateOptions = { mode: p.mode as R.InterpolateOptions['mode'] };
      if (p.size !== undefined) opts.size = p.size as [number, number];
      if (p.scaleFactor !== undefined) opts.scaleFactor = p.scaleFactor as number | [number, number];
      if (p.alignCorners !== undefined) opts.alignCorners = p.alignCorners as boolean;
      if (p.recomputeScaleFactor) opts.recomputeScaleFactor = true;
      const y = R.interpolate(c.inputs.x!, opts);
      if (p.mode === 'bilinear') checkAgainst(y, c, 1e-5, 1e-6);
      else checkAgainst(y, c, 0, 0);
    }
  });
});

describe('pixel shuffle and depth to space', () => {
  it('pixelShuffle / depthToSpace channel orders on a hand example', () => {
    // 8 channels of 1x1 with values 0..7 -> 2 channels of 2x2.
    const x = R.arange([1, 8, 1, 1]);
    const ps = R.pixelShuffle(x, 2);
    expectShape(ps, [1, 2, 2, 2]);
    R.expectAllClose(ps, [0, 1, 2, 3, 4, 5, 6, 7], { atol: 0 }); // out[c, i, j] = in[c·4 + i·2 + j]
    const d2s = R.depthToSpace(x, 2);
    expectShape(d2s, [1, 2, 2, 2]);
    R.expectAllClose(d2s, [0, 2, 4, 6, 1, 3, 5, 7], { atol: 0 }); // out[c, i, j] = in[(i·2 + j)·2 + c]
  });

  it('pixelShuffle follows out[n, c, h·r+i, w·r+j] = in[n, c·r² + i·r + j, h, w]', () => {
    const r = 3;
    const x = R.randn([2, 2 * r * r, 2, 3], R.makeRng(9));
    const y = R.pixelShuffle(x, r);
    expectShape(y, [2, 2, 6, 9]);
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 2; c++)
        for (let h = 0; h < 2; h++)
          for (let w = 0; w < 3; w++)
            for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) expect(R.at(y, n, c, h * r + i, w * r + j)).toBe(R.at(x, n, c * r * r + i * r + j, h, w));
  });

  it('shuffle and unshuffle are inverse, as are depthToSpace and spaceToDepth', () => {
    const rng = R.makeRng(10);
    const x = R.randn([2, 12, 3, 5], rng);
    R.expectAllClose(R.pixelUnshuffle(R.pixelShuffle(x, 2), 2), x, { atol: 0 });
    R.expectAllClose(R.spaceToDepth(R.depthToSpace(x, 2), 2), x, { atol: 0 });
    const z = R.randn([3, 2, 6, 4], rng); // 3-D batch dims are allowed by torch: (*, C, H, W)
    R.expectAllClose(R.pixelShuffle(R.pixelUnshuffle(z, 2), 2), z, { atol: 0 });
    expect(() => R.pixelShuffle(R.zeros([1, 3, 2, 2]), 2)).toThrow(/\[1, 3, 2, 2\]/);
  });

  it('matches torch', () => {
    for (const c of fixtures('pixelShuffle')) checkAgainst(R.pixelShuffle(c.inputs.x!, c.params.r as number), c, 0, 0);
    for (const c of fixtures('pixelUnshuffle')) checkAgainst(R.pixelUnshuffle(c.inputs.x!, c.params.r as number), c, 0, 0);
    for (const c of fixtures('depthToSpace')) checkAgainst(R.depthToSpace(c.inputs.x!, c.params.blockSize as number), c, 0, 0);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Convolution
// ---------------------------------------------------------------------------------------------------------

interface ConvCfg {
  n: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  k: [number, number];
  stride: [number, number];
  padding: [number, number] | 'same';
  dilation: [number, number];
  groups: number;
}

/** Independent conv2d: explicit zero padding, im2col, then a per-group matmul (f64). */
function conv2dIm2col(x: CpuTensor, w: CpuTensor, b: CpuTensor | null, cfg: ConvCfg): { data: Float64Array; shape: number[] } {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, Cg, KH, KW] = w.shape as [number, number, number, number];
  const [sh, sw] = cfg.stride;
  const [dh, dw] = cfg.dilation;
  let pt: number, pb: number, pl: number, pr: number;
  if (cfg.padding === 'same') {
    const th = dh * (KH - 1);
    const tw = dw * (KW - 1);
    pt = Math.floor(th / 2);
    pb = th - pt;
    pl = Math.floor(tw / 2);
    pr = tw - pl;
  } else {
    [pt, pl] = cfg.padding;
    [pb, pr] = cfg.padding;
  }
  const Hp = H + pt + pb;
  const Wp = W + pl + pr;
  const padded = new Float64Array(N * C * Hp * Wp);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) padded[((n * C + c) * Hp + i + pt) * Wp + j + pl] = x.data[((n * C + c) * H + i) * W + j]!;
  const Ho = Math.floor((Hp - dh * (KH - 1) - 1) / sh) + 1;
  const Wo = Math.floor((Wp - dw * (KW - 1) - 1) / sw) + 1;
  const G = cfg.groups;
  const Og = O / G;
  const out = new Float64Array(N * O * Ho * Wo);
  const cols = new Float64Array(Cg * KH * KW);
  for (let n = 0; n < N; n++)
    for (let g = 0; g < G; g++)
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++) {
          // column: the receptive field of (oh, ow) for this group's channels
          let r = 0;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) cols[r++] = padded[((n * C + g * Cg + c) * Hp + oh * sh + kh * dh) * Wp + ow * sw + kw * dw]!;
          for (let o = 0; o < Og; o++) {
            const oc = g * Og + o;
            const row = w.data.subarray(oc * Cg * KH * KW, (oc + 1) * Cg * KH * KW);
            out[((n * O + oc) * Ho + oh) * Wo + ow] = dot64(row, cols) + (b ? b.data[oc]! : 0);
          }
        }
  return { data: out, shape: [N, O, Ho, Wo] };
}

function convOptionsFromParams(p: Record<string, unknown>): R.Conv2dOptions {
  return {
    stride: p.stride as number | [number, number],
    padding: p.padding as number | [number, number] | 'same' | 'valid',
    dilation: p.dilation as number | [number, number],
    groups: p.groups as number,
  };
}

describe('conv2d', () => {
  it('hand example: 3x3 input, 2x2 ones kernel', () => {
    const x = R.arange([1, 1, 3, 3]);
    const w = R.full([1, 1, 2, 2], 1);
    R.expectAllClose(R.conv2d(x, w), [8, 12, 20, 24], { atol: 0 });
    // padding 1: border windows see zeros.
    R.expectAllClose(R.conv2d(x, w, t([1], [1]), { padding: 1 }), [1, 2, 4, 3, 4, 9, 13, 8, 10, 21, 25, 14, 7, 14, 16, 9], { atol: 0 });
    // 'same' with an even kernel pads only at the bottom/right: identical to the valid windows plus one extra row/col.
    R.expectAllClose(R.conv2d(x, w, null, { padding: 'same' }), [8, 12, 7, 20, 24, 13, 13, 15, 8], { atol: 0 });
  });

  const cfgs: ConvCfg[] = [
    { n: 2, cin: 3, cout: 4, h: 6, w: 7, k: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 },
    { n: 1, cin: 4, cout: 6, h: 9, w: 8, k: [3, 2], stride: [2, 3], padding: [0, 1], dilation: [1, 2], groups: 2 },
    { n: 1, cin: 6, cout: 6, h: 7, w: 7, k: [3, 3], stride: [1, 1], padding: 'same', dilation: [2, 2], groups: 6 },
    { n: 2, cin: 2, cout: 3, h: 5, w: 6, k: [2, 4], stride: [1, 1], padding: 'same', dilation: [1, 1], groups: 1 },
    { n: 1, cin: 4, cout: 2, h: 8, w: 5, k: [1, 1], stride: [2, 2], padding: [0, 0], dilation: [1, 1], groups: 2 },
    { n: 1, cin: 3, cout: 2, h: 10, w: 9, k: [5, 3], stride: [3, 2], padding: [2, 3], dilation: [1, 3], groups: 1 },
  ];
  cfgs.forEach((cfg, i) => {
    it(`equals im2col + matmul (config ${i})`, () => {
      const rng = R.makeRng(100 + i);
      const x = R.randn([cfg.n, cfg.cin, cfg.h, cfg.w], rng);
      const w = R.randn([cfg.cout, cfg.cin / cfg.groups, ...cfg.k], rng);
      const b = R.randn([cfg.cout], rng);
      const y = R.conv2d(x, w, b, { stride: cfg.stride, padding: cfg.padding, dilation: cfg.dilation, groups: cfg.groups });
      const ref = conv2dIm2col(x, w, b, cfg);
      expect(y.shape).toEqual(ref.shape);
      R.expectAllClose(y, ref.data, { atol: 1e-5, rtol: 1e-6, shape: ref.shape }, `conv2d config ${i}`);
      if (cfg.padding === 'same') expect(y.shape.slice(2)).toEqual([cfg.h, cfg.w]);
    });
  });

  it('validates shapes', () => {
    expect(() => R.conv2d(R.zeros([1, 3, 5, 5]), R.zeros([2, 2, 3, 3]))).toThrow(/\[1, 3, 5, 5\].*\[2, 2, 3, 3\]/);
    expect(() => R.conv2d(R.zeros([1, 2, 2, 2]), R.zeros([1, 2, 3, 3]))).toThrow(/smaller than the dilated kernel/);
    expect(() => R.conv2d(R.zeros([1, 2, 5, 5]), R.zeros([1, 2, 3, 3]), null, { padding: 'same', stride: 2 })).toThrow(/strided/);
    expect(() => R.conv2d(R.zeros([2, 5, 5]), R.zeros([1, 2, 3, 3]), R.zeros([2]))).toThrow(/bias shape \[2\]/);
  });

  it('matches torch', () => {
    for (const c of fixtures('conv2d')) {
      const y = R.conv2d(c.inputs.x!, c.inputs.w!, c.inputs.b, convOptionsFromParams(c.params));
      checkAgainst(y, c, 1e-5, 1e-5);
    }
  });
});

describe('convTranspose2d', () => {
  it('hand example: scatters each input pixel times the kernel', () => {
    // 2x2 input [1, 2; 3, 4], 2x2 ones kernel, stride 2 -> each pixel becomes a 2x2 block.
    const x = t([1, 2, 3, 4], [1, 1, 2, 2]);
    const w = R.full([1, 1, 2, 2], 1);
    R.expectAllClose(R.convTranspose2d(x, w, null, { stride: 2 }), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], { atol: 0 });
    // stride 1: overlapping blocks add up.
    R.expectAllClose(R.convTranspose2d(x, w), [1, 3, 2, 4, 10, 6, 3, 7, 4], { atol: 0 });
    // output_padding adds a trailing row/col that only receives the bias.
    const y = R.convTranspose2d(x, w, t([0.5], [1]), { stride: 2, outputPadding: 1 });
    expectShape(y, [1, 1, 5, 5]);
    expect(R.at(y, 0, 0, 4, 4)).toBe(0.5);
    expect(R.at(y, 0, 0, 3, 3)).toBe(4.5);
  });

  // <conv2d(y, w), x> == <y, convTranspose2d(x, w)>: conv_transpose2d is the adjoint of conv2d with the same
  // weight read as OIHW (O = transposed-conv in channels, I/groups = out channels per group).
  const cfgs = [
    { n: 2, cin: 3, coutG: 2, h: 4, w: 5, k: [3, 3], stride: [1, 1], padding: [0, 0], op: [0, 0], dilation: [1, 1], groups: 1 },
    { n: 1, cin: 4, coutG: 3, h: 5, w: 4, k: [3, 3], stride: [2, 2], padding: [1, 1], op: [1, 1], dilation: [1, 1], groups: 2 },
    { n: 1, cin: 4, coutG: 1, h: 3, w: 6, k: [4, 2], stride: [2, 3], padding: [1, 0], op: [0, 2], dilation: [1, 2], groups: 4 },
    { n: 2, cin: 2, coutG: 3, h: 6, w: 3, k: [2, 3], stride: [3, 1], padding: [0, 2], op: [2, 0], dilation: [2, 2], groups: 1 },
    { n: 1, cin: 6, coutG: 2, h: 4, w: 4, k: [5, 5], stride: [2, 2], padding: [2, 2], op: [1, 0], dilation: [1, 1], groups: 3 },
  ] as const;
  cfgs.forEach((c, i) => {
    it(`is the adjoint of conv2d (config ${i})`, () => {
      const rng = R.makeRng(200 + i);
      const x = R.randn([c.n, c.cin, c.h, c.w], rng);
      const w = R.randn([c.cin, c.coutG, c.k[0], c.k[1]], rng);
      const opts = { stride: [...c.stride] as [number, number], padding: [...c.padding] as [number, number], dilation: [...c.dilation] as [number, number], groups: c.groups };
      const tx = R.convTranspose2d(x, w, null, { ...opts, outputPadding: [...c.op] as [number, number] });
      const [Ho, Wo] = [
        (c.h - 1) * c.stride[0] - 2 * c.padding[0] + c.dilation[0] * (c.k[0] - 1) + c.op[0] + 1,
        (c.w - 1) * c.stride[1] - 2 * c.padding[1] + c.dilation[1] * (c.k[1] - 1) + c.op[1] + 1,
      ];
      expectShape(tx, [c.n, c.coutG * c.groups, Ho, Wo]);
      const y = R.randn(tx.shape, rng);
      const cy = R.conv2d(y, w, null, opts);
      expectShape(cy, x.shape);
      const lhs = dot64(cy.data, x.data);
      const rhs = dot64(y.data, tx.data);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-5 * (Math.abs(lhs) + 1));
      // Bias is added once per output element.
      const b = R.randn([c.coutG * c.groups], rng);
      const tb = R.convTranspose2d(x, w, b, { ...opts, outputPadding: [...c.op] as [number, number] });
      const per = Ho * Wo;
      for (let k = 0; k < tb.data.length; k++) {
        const oc = Math.floor(k / per) % (c.coutG * c.groups);
        expect(Math.abs(tb.data[k]! - tx.data[k]! - b.data[oc]!)).toBeLessThan(1e-5);
      }
    });
  });

  it('validates arguments', () => {
    expect(() => R.convTranspose2d(R.zeros([1, 3, 2, 2]), R.zeros([2, 1, 3, 3]))).toThrow(/\[1, 3, 2, 2\]/);
    expect(() => R.convTranspose2d(R.zeros([1, 2, 2, 2]), R.zeros([2, 1, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(/outputPadding/);
  });

  it('matches torch', () => {
    for (const c of fixtures('convTranspose2d')) {
      const p = c.params;
      const y = R.convTranspose2d(c.inputs.x!, c.inputs.w!, c.inputs.b, {
        stride: p.stride as number | [number, number],
        padding: p.padding as number | [number, number],
        outputPadding: p.outputPadding as number | [number, number],
        dilation: p.dilation as number | [number, number],
        groups: p.groups as number,
      });
      checkAgainst(y, c, 1e-5, 1e-5);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Attention
// ---------------------------------------------------------------------------------------------------------

describe('scaledDotProductAttention', () => {
  const rng = R.makeRng(42);
  const q = R.randn([2, 3, 4, 8], rng);
  const k = R.randn([2, 3, 6, 8], rng);
  const v = R.randn([2, 3, 6, 5], rng);

  it('equals softmax(q kᵀ / √D) v composed from the other references', () => {
    const scores = R.scale(R.matmul(q, R.transpose(k, -1, -2)), 1 / Math.sqrt(8));
    const ref = R.matmul(R.softmax(scores, -1), v);
    R.expectAllClose(R.scaledDotProductAttention(q, k, v), ref, { atol: 1e-6, rtol: 1e-5 });
  });

  it('a −inf mask on some keys equals attention over the remaining keys', () => {
    // Mask out keys 1 and 4 for every query (mask broadcast from [6]).
    const keep = [0, 2, 3, 5];
    const mask = t([0, -Infinity, 0, 0, -Infinity, 0], [6]);
    const masked = R.scaledDotProductAttention(q, k, v, { attnMask: mask });
    const pick = (x: CpuTensor) => R.concat(keep.map((j) => R.narrow(x, 2, j, 1)), 2);
    const sliced = R.scaledDotProductAttention(q, pick(k), pick(v));
    R.expectAllClose(masked, sliced, { atol: 1e-6, rtol: 1e-6 });
    const boolMask = R.scaledDotProductAttention(q, k, v, { attnMask: { bool: { data: Uint8Array.of(1, 0, 1, 1, 0, 1), shape: [6] } } });
    R.expectAllClose(boolMask, sliced, { atol: 1e-6, rtol: 1e-6 });
  });

  it('causal: query i sees keys 0..i (top-left aligned)', () => {
    const y = R.scaledDotProductAttention(q, k, v, { isCausal: true });
    // Query 0 attends only key 0, so its output is v[…, 0, :].
    for (let b = 0; b < 2; b++)
      for (let h = 0; h < 3; h++) for (let e = 0; e < 5; e++) expect(Math.abs(R.at(y, b, h, 0, e) - R.at(v, b, h, 0, e))).toBeLessThan(1e-6);
    const tril = R.zeros([4, 6]);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 6; j++) tril.data[i * 6 + j] = j <= i ? 0 : -Infinity;
    R.expectAllClose(y, R.scaledDotProductAttention(q, k, v, { attnMask: tril }), { atol: 0 });
    expect(() => R.scaledDotProductAttention(q, k, v, { isCausal: true, attnMask: tril })).toThrow(/isCausal/);
  });

  it('a fully masked row gives NaN (torch semantics) or zeros on request', () => {
    const mask = R.zeros([4, 6]);
    mask.data.fill(-Infinity, 6, 12); // query 1 sees nothing
    const y = R.scaledDotProductAttention(q, k, v, { attnMask: mask });
    expect(R.at(y, 0, 0, 1, 0)).toBeNaN();
    expect(Number.isNaN(R.at(y, 0, 0, 0, 0))).toBe(false);
    const z = R.scaledDotProductAttention(q, k, v, { attnMask: mask, fullyMaskedRows: 'zero' });
    expect(R.at(z, 1, 2, 1, 3)).toBe(0);
    expect(R.at(z, 1, 2, 2, 3)).toBe(R.at(y, 1, 2, 2, 3));
  });

  it('validates shapes', () => {
    expect(() => R.scaledDotProductAttention(q, R.zeros([2, 3, 6, 7]), v)).toThrow(/\[2, 3, 6, 7\]/);
    expect(() => R.scaledDotProductAttention(q, k, v, { attnMask: R.zeros([3, 6]) })).toThrow(/\[3, 6\] does not broadcast/);
  });

  it('matches torch', () => {
    for (const c of fixtures('sdpa')) {
      const { q: cq, k: ck, v: cv, mask } = c.inputs;
      const opts: R.SdpaOptions = {};
      if (c.params.scale !== undefined) opts.scale = c.params.scale as number;
      if (c.params.isCausal) opts.isCausal = true;
      if (mask) opts.attnMask = c.name === 'sdpa/boolMask' ? { bool: mask } : mask;
      checkAgainst(R.scaledDotProductAttention(cq!, ck!, cv!, opts), c, 1e-5, 1e-5);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Normalization
// ---------------------------------------------------------------------------------------------------------

/** Mean and (biased) variance of each consecutive segment of `len` elements. */
function segmentStats(data: Float32Array, len: number): { mean: number; variance: number }[] {
  const out: { mean: number; variance: number }[] = [];
  for (let s = 0; s < data.length; s += len) {
    let m = 0;
    for (let i = 0; i < len; i++) m += data[s + i]!;
    m /= len;
    let v = 0;
    for (let i = 0; i < len; i++) v += (data[s + i]! - m) ** 2;
    out.push({ mean: m, variance: v / len });
  }
  return out;
}

describe('normalization', () => {
  it('groupNorm output has mean 0 and variance 1 per (n, group), even with a large offset', () => {
    const rng = R.makeRng(77);
    const x = R.add(R.scale(R.randn([2, 6, 5, 4], rng), 0.01), 1000);
    const y = R.groupNorm(x, 3, null, null, 0);
    for (const s of segmentStats(y.data, 2 * 5 * 4)) {
      expect(Math.abs(s.mean)).toBeLessThan(1e-6);
      expect(Math.abs(s.variance - 1)).toBeLessThan(1e-5);
    }
    // Affine: per-channel scale and shift after normalization.
    const w = t([1, 2, 3, 4, 5, 6], [6]);
    const b = t([0, -1, 1, 0, 0, 10], [6]);
    const ya = R.groupNorm(x, 3, w, b, 0);
    for (let i = 0; i < y.data.length; i++) {
      const c = Math.floor(i / 20) % 6;
      expect(Math.abs(ya.data[i]! - (y.data[i]! * w.data[c]! + b.data[c]!))).toBeLessThan(1e-5);
    }
    expect(() => R.groupNorm(x, 4)).toThrow(/\[2, 6, 5, 4\]/);
  });

  it('layerNorm normalizes the trailing dims', () => {
    // Row [1, 2, 3, 4]: mean 2.5, var 1.25.
    const y = R.layerNorm(t([1, 2, 3, 4], [1, 4]), [4], null, null, 0);
    const sd = Math.sqrt(1.25);
    R.expectAllClose(y, [-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd], { atol: 1e-7 });
    const x = R.randn([3, 2, 5], R.makeRng(5));
    for (const s of segmentStats(R.layerNorm(x, [2, 5], null, null, 0).data, 10)) {
      expect(Math.abs(s.mean)).toBeLessThan(1e-6);
      expect(Math.abs(s.variance - 1)).toBeLessThan(1e-5);
    }
    expect(() => R.layerNorm(x, [4])).toThrow(/\[3, 2, 5\]/);
  });

  it('instanceNorm normalizes each (n, c) plane; batchNorm applies running stats', () => {
    const x = R.randn([2, 3, 4, 4], R.makeRng(6));
    for (const s of segmentStats(R.instanceNorm(x, null, null, 0).data, 16)) {
      expect(Math.abs(s.mean)).toBeLessThan(1e-6);
      expect(Math.abs(s.variance - 1)).toBeLessThan(1e-5);
    }
    const bn = R.batchNorm(t([1, 2, 3, 4], [1, 2, 2]), t([1, 2], [2]), t([4, 0.25], [2]), t([2, 1], [2]), t([0, 1], [2]), 0);
    // channel 0: (x − 1)/2·2 + 0; channel 1: (x − 2)/0.5 + 1.
    R.expectAllClose(bn, [0, 1, 3, 5], { atol: 1e-7 });
    expect(() => R.instanceNorm(R.zeros([2, 3, 1, 1]))).toThrow(/spatial/);
    expect(() => R.batchNorm(x, R.zeros([2]), R.zeros([3]))).toThrow(/runningMean/);
  });

  it('matches torch', () => {
    for (const c of fixtures('groupNorm')) {
      checkAgainst(R.groupNorm(c.inputs.x!, c.params.groups as number, c.inputs.w, c.inputs.b, c.params.eps as number), c, 1e-5, 1e-5);
    }
    for (const c of fixtures('layerNorm')) {
      checkAgainst(R.layerNorm(c.inputs.x!, c.params.normalizedShape as number[], c.inputs.w, c.inputs.b, c.params.eps as number), c, 1e-5, 1e-5);
    }
    for (const c of fixtures('instanceNorm')) {
      checkAgainst(R.instanceNorm(c.inputs.x!, c.inputs.w, c.inputs.b, c.params.eps as number), c, 1e-5, 1e-5);
    }
    for (const c of fixtures('batchNorm')) {
      checkAgainst(R.batchNorm(c.inputs.x!, c.inputs.rm!, c.inputs.rv!, c.inputs.w, c.inputs.b, c.params.eps as number), c, 1e-5, 1e-5);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// diffusers blocks
// ---------------------------------------------------------------------------------------------------------

describe('diffusers blocks', () => {
  it('geglu multiplies the first half by gelu of the second half', () => {
    const y = R.geglu(t([2, -3, 1, 0], [1, 4]));
    expectShape(y, [1, 2]);
    R.expectAllClose(y, [2 * 0.8413447460685429, 0], { atol: 1e-7 });
    expect(() => R.geglu(R.zeros([2, 3]))).toThrow(/\[2, 3\]/);
  });

  it('timestepEmbedding on a hand example', () => {
    // dim 4, shift 1: half 2, freqs = exp(−ln(1e4)·[0, 1]/(2 − 1)) = [1, 1e-4].
    const e = R.timestepEmbedding([0, 1], 4);
    expectShape(e, [2, 4]);
    R.expectAllClose(e, [0, 0, 1, 1, Math.sin(1), Math.sin(1e-4), Math.cos(1), Math.cos(1e-4)], { atol: 1e-7 });
    const f = R.timestepEmbedding([1], 5, { flipSinToCos: true });
    R.expectAllClose(f, [Math.cos(1), Math.cos(1e-4), Math.sin(1), Math.sin(1e-4), 0], { atol: 1e-7 });
    // shift 0 with dim 4: freqs = exp(−ln(1e4)·[0, 1]/2) = [1, 0.01]; scale 3 multiplies the arguments.
    const g = R.timestepEmbedding([2], 4, { downscaleFreqShift: 0, scale: 3 });
    R.expectAllClose(g, [Math.sin(6), Math.sin(0.06), Math.cos(6), Math.cos(0.06)], { atol: 1e-6 });
  });

  it('matches torch', () => {
    for (const c of fixtures('geglu')) checkAgainst(R.geglu(c.inputs.x!, c.params.approximate as 'none' | 'tanh'), c, 1e-6, 2e-6);
    for (const c of fixtures('timestepEmbedding')) {
      const p = c.params;
      const y = R.timestepEmbedding(c.inputs.t!.data, p.dim as number, {
        flipSinToCos: p.flipSinToCos as boolean | undefined,
        downscaleFreqShift: p.downscaleFreqShift as number | undefined,
        scale: p.scale as number | undefined,
        maxPeriod: p.maxPeriod as number | undefined,
      });
      // float32 exp/sin/cos in torch can differ by an ulp; at t ≈ 1000 an ulp of the argument is ~6e-5.
      checkAgainst(y, c, 2e-4, 0);
    }
  });
});
