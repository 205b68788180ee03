import { expect, it } from 'vitest';
import { describeEachDevice } from '../devices';
import * as ref from '../reference/softmax';
import { expectAllClose } from '../reference/compare';
import { makeRng } from '../reference/random';
import { randn } from '../reference/tensor';
import { softmax, type SoftmaxVariant } from '../../src/kernels/softmax';

const VARIANTS: SoftmaxVariant[] = ['row', 'wide'];

/** [shape, dim]. */
const CASES: [number[], number][] = [
  [[1], 0],
  [[7], -1],
  [[5, 7], 1],
  [[5, 7], 0],
  [[2, 3, 4, 5], 1],
  [[2, 3, 4, 5], -1],
  [[2, 3, 4, 5], 0],
  [[3, 1, 6], 1],
  [[2, 4, 1500], -1],
  [[1500, 3], 0],
  [[4, 256, 256], 2],
];

describeEachDevice('softmax', (engine) => {
  const rng = makeRng(5);

  it.each(VARIANTS.flatMap((v) => CASES.map(([s, d]) => [v, s, d] as const)))('%s: %j along dim %i matches torch.softmax', async (variant, shape, dim) => {
    const e = engine();
    const x = randn(shape, rng);
    for (let i = 0; i < x.data.length; i += 7) x.data[i]! *= 30; // large logits: the max subtraction matters
    const got = softmax(e.runtime, e.tensor(x.data, shape), dim, { variant });
    expect(got.shape).toEqual(shape);
    expectAllClose(await got.read(), ref.softmax(x, dim), { atol: 1e-6, rtol: 1e-5 }, `${variant} ${JSON.stringify(shape)} dim ${dim}`);
    got.dispose();
  });

  it.each(VARIANTS)('%s: a row of only -inf gives NaN, other rows stay finite', async (variant) => {
    const e = engine();
    const x = randn([3, 5], rng);
    x.data.fill(-Infinity, 5, 10);
    x.data[12] = -Infinity; // one -inf among finite values is just a zero
    const got = await softmax(e.runtime, e.tensor(x.data, [3, 5]), -1, { variant }).read();
    expect([...got.slice(5, 10)].every(Number.isNaN)).toBe(true);
    expectAllClose(got, ref.softmax(x, -1), { atol: 1e-6, rtol: 1e-5 });
  });

  it('is in the registry and rejects a dim out of range', async () => {
    const e = engine();
    const x = randn([2, 3], rng);
    expectAllClose(await e.ops.softmax(e.tensor(x.data, x.shape), 0).read(), ref.softmax(x, 0), { atol: 1e-6, rtol: 1e-5 });
    expect(() => e.ops.softmax(e.tensor(x.data, x.shape), 2)).toThrow(/dim 2 is out of range/);
  });
});
