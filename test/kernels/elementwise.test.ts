import { expect, it } from 'vitest';
import { describeEachDevice } from '../devices';
import * as ref from '../reference/elementwise';
import { expectAllClose } from '../reference/compare';
import { makeRng } from '../reference/random';
import { randn, type CpuTensor } from '../reference/tensor';
import type { Engine } from '../../src/index';

const upload = (engine: Engine, t: CpuTensor) => engine.tensor(t.data, t.shape);

const UNARY_SHAPES = [[1], [3], [5, 7], [2, 3, 5, 7], [1, 1, 1, 1], [2, 64, 33, 17]];
const BROADCAST_PAIRS: [number[], number[]][] = [
  [[2, 3, 4, 5], [2, 3, 4, 5]],
  [[3, 5, 7], [3, 5, 7]], // same shape, not a multiple of 4 elements: the broadcast path
  [[2, 64, 33, 17], [2, 64, 33, 17]], // same shape over several vec4 blocks per invocation, the last one partial
  [[2, 3, 4, 5], [5]],
  [[2, 3, 4, 5], [1, 3, 1, 1]],
  [[3, 1, 5], [4, 1]],
  [[1], [7, 3]],
  [[2, 1, 3, 1, 5], [4, 1, 6, 1]],
  [[17], [1]],
];

describeEachDevice('elementwise', (engine) => {
  const rng = makeRng(7);

  it.each(UNARY_SHAPES.map((s) => [s]))('unary ops match the reference on %j', async (shape) => {
    const x = randn(shape, rng);
    for (const v of [0, 1]) if (x.data.length > v) x.data[v] = v === 0 ? 40 : -40; // saturating inputs
    const e = engine();
    const cases: [string, (t: ReturnType<typeof upload>) => ReturnType<typeof upload>, CpuTensor][] = [
      ['relu', (t) => e.ops.relu(t), ref.relu(x)],
      ['leakyRelu', (t) => e.ops.leakyRelu(t, 0.2), ref.leakyRelu(x, 0.2)],
      ['silu', (t) => e.ops.silu(t), ref.silu(x)],
      ['gelu', (t) => e.ops.gelu(t), ref.gelu(x)],
      ['gelu tanh', (t) => e.ops.gelu(t, { approximate: 'tanh' }), ref.gelu(x, 'tanh')],
      ['tanh', (t) => e.ops.tanh(t), ref.tanh(x)],
      ['sigmoid', (t) => e.ops.sigmoid(t), ref.sigmoid(x)],
      ['exp', (t) => e.ops.exp(t), ref.exp(x)],
      ['clamp', (t) => e.ops.clamp(t, -0.5, 0.7), ref.clamp(x, -0.5, 0.7)],
      ['clamp min only', (t) => e.ops.clamp(t, 0.1), ref.clamp(x, 0.1)],
      ['scale', (t) => e.ops.scale(t, -2.5), ref.scale(x, -2.5)],
      ['add scalar', (t) => e.ops.add(t, 3), ref.add(x, 3)],
      ['scalar sub', (t) => e.ops.sub(1, t), ref.sub(1, x)],
      ['div scalar', (t) => e.ops.div(t, 4), ref.div(x, 4)],
    ];
    const input = upload(e, x);
    for (const [name, run, expected] of cases) {
      const y = run(input);
      expect(y.shape).toEqual(shape);
      expectAllClose(await y.read(), expected, { atol: 1e-5, rtol: 1e-5 }, `${name} ${JSON.stringify(shape)}`);
      y.dispose();
    }
    input.dispose();
  });

  it.each(BROADCAST_PAIRS)('binary ops broadcast %j with %j', async (sa, sb) => {
    const e = engine();
    const a = randn(sa, rng);
    const b = randn(sb, rng);
    for (let i = 0; i < b.data.length; i++) if (Math.abs(b.data[i]!) < 0.1) b.data[i] = 0.5; // keep div tame
    const ta = upload(e, a);
    const tb = upload(e, b);
    for (const [name, got, want] of [
      ['add', e.ops.add(ta, tb), ref.add(a, b)],
      ['sub', e.ops.sub(tb, ta), ref.sub(b, a)],
      ['mul', e.ops.mul(ta, tb), ref.mul(a, b)],
      ['div', e.ops.div(ta, tb), ref.div(a, b)],
    ] as const) {
      expect(got.shape).toEqual(want.shape);
      expectAllClose(await got.read(), want, { atol: 1e-5, rtol: 1e-5 }, `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`);
      got.dispose();
    }
    ta.dispose();
    tb.dispose();
  });

  it('prelu takes one slope or one per channel', async () => {
    const e = engine();
    const x = randn([2, 3, 4, 5], rng);
    for (const w of [randn([3], rng), randn([1], rng)]) {
      const y = e.ops.prelu(upload(e, x), upload(e, w));
      expectAllClose(await y.read(), ref.prelu(x, w), { atol: 1e-6 });
    }
  });

  it('rejects shapes that do not broadcast, naming both', () => {
    const e = engine();
    const a = e.tensor(new Float32Array(6), [2, 3]);
    const b = e.tensor(new Float32Array(8), [2, 4]);
    expect(() => e.ops.add(a, b)).toThrow(/\[2, 3\] and \[2, 4\]/);
  });

  it('handles more elements than one dispatch dimension can address', async () => {
    const e = engine();
    const n = 65_535 * 64 * 4 + 1234; // forces the grid to fold over y
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = (i % 1000) - 500;
    const y = await e.ops.relu(e.tensor(x, [n])).read();
    let bad = -1;
    for (let i = 0; i < n; i++) if (y[i] !== Math.max(x[i]!, 0)) { bad = i; break; }
    expect(bad).toBe(-1);
  });
});

describeEachDevice('elementwise edge shapes', (engine) => {
  it('adds 0-d tensors and handles empty ones', async () => {
    const e = engine();
    expect(Array.from(await e.ops.add(e.tensor([2], []), e.tensor([3], [])).read())).toEqual([5]);
    const empty = e.ops.mul(e.tensor([], [0, 3]), e.tensor([1, 2, 3], [3]));
    expect(empty.shape).toEqual([0, 3]);
  });
});
