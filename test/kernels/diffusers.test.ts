import { expect, it } from 'vitest';
import type { Engine } from '../../src/index';
import { describeEachDevice } from '../devices';
import { expectAllClose } from '../reference/compare';
import * as ref from '../reference/diffusers';
import { gelu } from '../reference/elementwise';
import { linear } from '../reference/matmul';
import { makeRng } from '../reference/random';
import { randn, type CpuTensor } from '../reference/tensor';
import { torchCases } from './torch_fixtures';

const upload = (engine: Engine, t: CpuTensor) => engine.tensor(t.data, t.shape);

describeEachDevice('diffusers blocks', (engine) => {
  const rng = makeRng(3);

  it('geglu matches the reference and torch (erf and tanh GELU)', async () => {
    const e = engine();
    for (const shape of [[2, 3, 8], [1, 77, 2560], [5, 2], [3, 7, 34]]) {
      const x = randn(shape, rng);
      for (const approximate of ['none', 'tanh'] as const) {
        const y = e.ops.geglu(upload(e, x), { approximate });
        expect(y.shape).toEqual([...shape.slice(0, -1), shape[shape.length - 1]! / 2]);
        expectAllClose(await y.read(), ref.geglu(x, approximate), { atol: 1e-5, rtol: 1e-5 }, `${JSON.stringify(shape)} ${approximate}`);
      }
    }
    for (const c of torchCases('geglu')) {
      const got = e.ops.geglu(upload(e, c.inputs.x!), { approximate: c.params.approximate as 'none' | 'tanh' });
      expectAllClose(await got.read(), c.expected, { atol: 1e-5, rtol: 1e-5 }, c.name);
    }
    expect(() => e.ops.geglu(e.tensor([1, 2, 3], [3]))).toThrow(/last dim must be even/);
  });

  it('timestepEmbedding matches get_timestep_embedding for tensors and plain numbers', async () => {
    const e = engine();
    for (const c of torchCases('timestepEmbedding')) {
      const { dim, ...options } = c.params as unknown as { dim: number } & ref.TimestepEmbeddingOptions;
      const got = e.ops.timestepEmbedding(upload(e, c.inputs.t!), dim, options);
      expect(got.shape).toEqual(c.expected.shape);
      // torch's vectorized f32 exp may be an ulp off the correctly rounded frequency; at t = 999 one ulp of
      // t · freq is 6e-5. The f64 reference below checks our own accuracy tightly.
      expectAllClose(await got.read(), c.expected, { atol: 1.5e-4, rtol: 0 }, c.name);
    }
    const steps = [999, 981, 500, 1, 0, 37, 750];
    for (const [dim, options] of [[320, { flipSinToCos: true, downscaleFreqShift: 0 }], [1280, {}], [33, { scale: 2, maxPeriod: 100 }]] as const) {
      const want = ref.timestepEmbedding(steps, dim, options);
      expectAllClose(await e.ops.timestepEmbedding(steps, dim, options).read(), want, { atol: 2e-6, rtol: 0 }, `numbers dim ${dim}`);
      const ints = e.tensor(Int32Array.from(steps), [steps.length], 'i32');
      expectAllClose(await e.ops.timestepEmbedding(ints, dim, options).read(), want, { atol: 2e-6, rtol: 0 }, `i32 dim ${dim}`);
    }
  });

  it('feedForward matches diffusers FeedForward with GEGLU and GELU', async () => {
    const e = engine();
    const [B, L, C, inner] = [2, 19, 40, 64];
    const x = randn([B, L, C], rng);
    const small = (shape: number[]) => ({ data: randn(shape, rng).data.map((v) => v * 0.2), shape });
    const outW = small([C, inner]);
    const outB = randn([C], rng);
    for (const activation of ['geglu', 'gelu', 'gelu-approximate'] as const) {
      const projW = small([activation === 'geglu' ? 2 * inner : inner, C]);
      const projB = randn([projW.shape[0]!], rng);
      const projected = linear(x, projW, projB);
      const hidden = activation === 'geglu' ? ref.geglu(projected) : gelu(projected, activation === 'gelu' ? 'none' : 'tanh');
      const want = linear(hidden, outW, outB);
      const got = e.ops.feedForward(upload(e, x), {
        projWeight: upload(e, projW), projBias: upload(e, projB), outWeight: upload(e, outW), outBias: upload(e, outB), activation,
      });
      expect(got.shape).toEqual([B, L, C]);
      expectAllClose(await got.read(), want, { atol: 1e-4, rtol: 1e-4 }, activation);
    }
  });
});
