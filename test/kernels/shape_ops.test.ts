import { expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/index';
import type { Tensor } from '../../src/tensor/tensor';
import { describeEachDevice } from '../devices';
import { expectAllClose } from '../reference/compare';
import { makeRng } from '../reference/random';
import { depthToSpace, pixelShuffle, pixelUnshuffle } from '../reference/resample';
import * as ref from '../reference/shape_ops';
import { arange, randn, strides, type CpuTensor } from '../reference/tensor';
import { torchCases } from './torch_fixtures';

const upload = (engine: Engine, t: CpuTensor) => engine.tensor(t.data, t.shape);
const EXACT = { atol: 0, rtol: 0 };

/** Reads a GPU result, checks it equals the reference exactly, and frees it. */
async function expectSame(got: Tensor, want: CpuTensor, label: string): Promise<void> {
  expect(got.shape, label).toEqual(want.shape);
  expectAllClose(await got.read(), want, EXACT, label);
  got.dispose();
}

const PERMUTES: [number[], number[]][] = [
  [[7], [0]],
  [[3, 5], [1, 0]],
  [[1, 1, 1, 1], [3, 2, 1, 0]],
  [[2, 3, 5, 7], [0, 1, 2, 3]], // identity: one buffer copy
  [[2, 3, 5, 7], [0, 2, 3, 1]], // NCHW -> NHWC
  [[2, 5, 7, 3], [0, 3, 1, 2]], // NHWC -> NCHW
  [[2, 3, 5, 7], [-1, -2, -3, -4]],
  [[3, 1, 4, 1, 5], [4, 0, 2, 1, 3]],
  [[2, 3, 2, 3, 2, 3], [5, 3, 1, 4, 2, 0]],
  [[2, 1, 3, 2, 1, 3, 2, 2], [7, 0, 5, 2, 3, 1, 6, 4]],
  [[2, 0, 3], [2, 0, 1]],
  [[33, 65], [1, 0]], // rows of 65: two invocations per row, the second copies 1 element
  [[2, 3, 200], [1, 0, 2]],
];

describeEachDevice('shape ops', (engine, adapter) => {
  const rng = makeRng(11);

  it.each(PERMUTES)('permute %j by %j', async (shape, dims) => {
    const e = engine();
    const x = randn(shape, rng);
    const t = upload(e, x);
    await expectSame(e.ops.permute(t, dims), ref.permute(x, dims), `permute ${JSON.stringify(shape)} ${JSON.stringify(dims)}`);
    t.dispose();
  });

  it('transpose swaps two dims, negative dims included', async () => {
    const e = engine();
    const x = randn([2, 3, 4, 5], rng);
    const t = upload(e, x);
    for (const [a, b] of [[0, 1], [1, 3], [-1, -2], [2, 2], [-4, 3]] as const) {
      await expectSame(e.ops.transpose(t, a, b), ref.transpose(x, a, b), `transpose ${a} ${b}`);
    }
  });

  it('permute moves i32 data bit for bit', async () => {
    const e = engine();
    const data = Int32Array.from({ length: 24 }, (_, i) => (i * 2654435761) | 0);
    const y = e.ops.permute(e.tensor(data, [2, 3, 4], 'i32'), [2, 0, 1]);
    expect(y.dtype).toBe('i32');
    const from = ref.permute(arange([2, 3, 4]), [2, 0, 1]).data; // source index of each output
    expect(Array.from(await y.readInt())).toEqual(Array.from(from, (i) => data[i]));
  });

  it('permute rejects wrong dims', () => {
    const e = engine();
    const t = e.tensor(new Float32Array(6), [2, 3]);
    expect(() => e.ops.permute(t, [0])).toThrow(/permute: dims \[0\] must list each of the 2 dims/);
    expect(() => e.ops.permute(t, [1, 1])).toThrow(/repeat a dim/);
    expect(() => e.ops.permute(t, [0, 2])).toThrow(/dim 2 is out of range/);
  });

  it.each([0, 1, 2, 3, -1, -2, -3, -4])('concat of 3-5 inputs of different sizes along dim %i', async (dim) => {
    const e = engine();
    const base = [2, 3, 5, 7];
    const d = dim < 0 ? dim + 4 : dim;
    for (const sizes of [[1, 4, 2], [3, 1, 1, 5], [2, 5, 1, 3, 4]]) {
      const xs = sizes.map((s) => randn(base.map((b, k) => (k === d ? s : b)), rng));
      const ts = xs.map((x) => upload(e, x));
      await expectSame(e.ops.concat(ts, dim), ref.concat(xs, dim), `concat dim ${dim} sizes ${sizes}`);
      for (const t of ts) t.dispose();
    }
  });

  it('concat handles 1x1 images, batch > 1, one input, and skips 1-D empty tensors', async () => {
    const e = engine();
    const cases: [number[][], number][] = [
      [[[1, 1, 1, 1], [1, 1, 1, 1]], 1],
      [[[4, 1, 1, 1], [4, 3, 1, 1], [4, 2, 1, 1]], 1],
      [[[3, 2, 1, 1], [1, 2, 1, 1]], 0],
      [[[2, 3, 4, 5]], 2],
      [[[0], [2, 3], [0], [1, 3]], 0],
      [[[2, 0, 3], [2, 4, 3]], 1],
      [[[5], [9], [1]], -1],
      [[[2, 3, 70], [2, 1, 70], [2, 2, 70]], 1], // rows of 210 and 3·70 elements
    ];
    for (const [shapes, dim] of cases) {
      const xs = shapes.map((s) => randn(s, rng));
      await expectSame(e.ops.concat(xs.map((x) => upload(e, x)), dim), ref.concat(xs, dim), `concat ${JSON.stringify(shapes)} dim ${dim}`);
    }
  });

  it('concat errors name the tensor and the dim', () => {
    const e = engine();
    const a = e.tensor(new Float32Array(6), [1, 2, 3]);
    const b = e.tensor(new Float32Array(8), [1, 2, 4]);
    expect(() => e.ops.concat([a, a, b], 1)).toThrow(/concat: sizes must match except in dim 1, but tensors\[2\] \[1, 2, 4\] differs from tensors\[0\] \[1, 2, 3\] in dim 2/);
    expect(() => e.ops.concat([a, e.tensor([1, 2], [2])], 0)).toThrow(/tensors\[1\] \[2\] has rank 1 but tensors\[0\] \[1, 2, 3\] has rank 3/);
    expect(() => e.ops.concat([a, a], 3)).toThrow(/concat: dim 3 is out of range for a tensor of rank 3/);
    expect(() => e.ops.concat([], 0)).toThrow(/non-empty/);
    const ints = e.tensor(new Int32Array(6), [1, 2, 3], 'i32');
    expect(() => e.ops.concat([a, ints], 0)).toThrow(/concat: tensors\[1\] is i32 but tensors\[0\] is f32/);
  });

  it('concat rejects a tensor from another engine', async () => {
    const e = engine();
    const other = await createEngine({ adapter });
    try {
      const a = e.tensor(new Float32Array(4), [2, 2]);
      const b = other.tensor(new Float32Array(4), [2, 2]);
      expect(() => e.ops.concat([a, b], 0)).toThrow(/concat: tensors\[1\] Tensor\(\[2, 2\], f32\) belongs to another engine/);
    } finally {
      other.dispose();
    }
  });

  it('concat works inside a recorded plan', async () => {
    const e = engine();
    const plan = e.record({ a: [2, 3, 2], b: [2, 1, 2] }, ({ a, b }) => ({ dim0: e.ops.concat([a, a], 0), dim1: e.ops.concat([a, b], 1) }));
    for (let run = 0; run < 2; run++) {
      const a = randn([2, 3, 2], rng);
      const b = randn([2, 1, 2], rng);
      const out = plan.run({ a: a.data, b: b.data });
      expectAllClose(await out.dim0.read(), ref.concat([a, a], 0), EXACT, 'plan concat dim 0');
      expectAllClose(await out.dim1.read(), ref.concat([a, b], 1), EXACT, 'plan concat dim 1');
    }
    plan.dispose();
  });

  it('narrow, slice and chunk match the reference', async () => {
    const e = engine();
    const x = randn([3, 5, 4, 7], rng);
    const t = upload(e, x);
    for (const [dim, start, length] of [[0, 1, 2], [1, 0, 5], [1, -2, 2], [3, 3, 4], [-1, 0, 1], [2, 2, 0]] as const) {
      await expectSame(e.ops.narrow(t, dim, start, length), ref.narrow(x, dim, start, length), `narrow ${dim} ${start} ${length}`);
    }
    const st = strides(x.shape);
    for (const [dim, start, end, step] of [[1, 1, 4, 2], [3, -5, undefined, 3], [0, 0, 99, 1], [2, -99, -1, 2], [3, 6, 2, 1]] as const) {
      const size = x.shape[dim]!;
      const norm = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
      const lo = norm(start);
      const n = Math.max(0, Math.ceil((norm(end ?? size) - lo) / step));
      const want = ref.asStrided(
        x,
        x.shape.map((s, k) => (k === dim ? n : s)),
        st.map((s, k) => (k === dim ? s * step : s)),
        lo * st[dim]!,
      );
      await expectSame(e.ops.slice(t, dim, start, end, step), want, `slice ${dim} ${start}:${end}:${step}`);
    }
    for (const [chunks, dim] of [[2, 1], [3, -1], [1, 0], [4, 2], [5, 0]] as const) {
      const got = e.ops.chunk(t, chunks, dim);
      const want = ref.chunk(x, chunks, dim);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < got.length; i++) await expectSame(got[i]!, want[i]!, `chunk ${chunks} dim ${dim} piece ${i}`);
    }
    expect(() => e.ops.narrow(t, 1, 3, 3)).toThrow(/narrow: start 3 and length 3 are out of range for dim 1 \(size 5\)/);
    expect(() => e.ops.slice(t, 1, 0, 2, 0)).toThrow(/step must be a positive integer/);
  });

  it.each([
    [[1, 4, 1, 1], 2],
    [[2, 8, 3, 5], 2],
    [[1, 18, 2, 3], 3],
    [[4, 3, 5], 2],
    [[2, 2, 9, 3, 2], 3],
    [[2, 5, 3, 4], 1],
  ] as [number[], number][])('pixelShuffle %j by %i, and pixelUnshuffle back', async (shape, r) => {
    const e = engine();
    const x = randn(shape, rng);
    const t = upload(e, x);
    const y = e.ops.pixelShuffle(t, r);
    const want = pixelShuffle(x, r);
    expect(y.shape).toEqual(want.shape);
    expectAllClose(await y.read(), want, EXACT, `pixelShuffle ${JSON.stringify(shape)}`);
    await expectSame(e.ops.pixelUnshuffle(y, r), x, 'round trip');
    const back = upload(e, want);
    await expectSame(e.ops.pixelUnshuffle(back, r), pixelUnshuffle(want, r), 'pixelUnshuffle vs reference');
  });

  it.each([
    [[1, 8, 1, 1], 2],
    [[2, 12, 3, 5], 2],
    [[1, 27, 2, 3], 3],
    [[3, 4, 1, 1], 2],
    [[2, 3, 4, 4], 1],
  ] as [number[], number][])('depthToSpace %j by %i matches the reference', async (shape, b) => {
    const e = engine();
    const x = randn(shape, rng);
    await expectSame(e.ops.depthToSpace(upload(e, x), b), depthToSpace(x, b), `depthToSpace ${JSON.stringify(shape)}`);
  });

  it('depthToSpace uses TensorFlow channel order, pixelShuffle PyTorch order (1x8x1x1 by hand)', async () => {
    const e = engine();
    const t = upload(e, arange([1, 8, 1, 1])); // channel k holds k; C_out = 2
    // out[0, c, i, j] = in[(i·2 + j)·2 + c]
    expect(Array.from(await e.ops.depthToSpace(t, 2).read())).toEqual([0, 2, 4, 6, 1, 3, 5, 7]);
    // out[0, c, i, j] = in[c·4 + i·2 + j]
    expect(Array.from(await e.ops.pixelShuffle(t, 2).read())).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('pixel shuffles and depthToSpace match torch', async () => {
    const e = engine();
    const ops: [string, (t: Tensor, factor: number) => Tensor, string][] = [
      ['pixelShuffle', e.ops.pixelShuffle, 'r'],
      ['pixelUnshuffle', e.ops.pixelUnshuffle, 'r'],
      ['depthToSpace', e.ops.depthToSpace, 'blockSize'],
    ];
    for (const [family, op, param] of ops) {
      for (const c of torchCases(family)) await expectSame(op(upload(e, c.inputs['x']!), c.params[param] as number), c.expected, c.name);
    }
  });

  it('pixel shuffles reject bad shapes and factors', () => {
    const e = engine();
    const t = e.tensor(new Float32Array(2 * 6 * 4 * 4), [2, 6, 4, 4]);
    expect(() => e.ops.pixelShuffle(t, 2)).toThrow(/pixelShuffle: channels 6 of input \[2, 6, 4, 4\] are not divisible by upscaleFactor² = 4/);
    expect(() => e.ops.pixelShuffle(t, 0)).toThrow(/upscaleFactor must be a positive integer/);
    expect(() => e.ops.pixelUnshuffle(t, 3)).toThrow(/spatial size 4x4 .* is not divisible by downscaleFactor 3/);
    expect(() => e.ops.depthToSpace(t, 2)).toThrow(/depthToSpace: channels 6/);
    expect(() => e.ops.depthToSpace(t.reshape([12, 4, 4]), 1)).toThrow(/must be 4-D/);
    expect(() => e.ops.pixelShuffle(t.reshape([192]), 1)).toThrow(/at least 3 dims/);
  });

  it('strided copies beyond one dispatch dimension of workgroups', async () => {
    const e = engine();
    // Rows of 2 both ways, so one invocation per 2 elements: 4.4M invocations fold the grid over y.
    const n = 2_200_000;
    const x = new Float32Array(n * 4);
    for (let i = 0; i < x.length; i++) x[i] = i % 8191;
    const y = await e.ops.permute(e.tensor(x, [n, 2, 2]), [0, 2, 1]).read();
    let bad = -1;
    for (let i = 0; i < x.length && bad < 0; i++) {
      const [r, c, b] = [Math.floor(i / 4), (i >> 1) & 1, i & 1]; // y[r, c, b] = x[r, b, c]
      if (y[i] !== x[r * 4 + b * 2 + c]) bad = i;
    }
    expect(bad).toBe(-1);
  });
});
