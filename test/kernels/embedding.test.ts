import { expect, it } from 'vitest';
import { describeEachDevice } from '../devices';
import { makeRng } from '../reference/random';
import { randn, type CpuTensor } from '../reference/tensor';

/** F.embedding on the CPU: row `index` of the table for every index; NaN rows for indices outside it. */
function embeddingReference(indices: readonly number[], table: CpuTensor): Float32Array {
  const [num, dim] = table.shape as [number, number];
  const out = new Float32Array(indices.length * dim);
  indices.forEach((index, i) => {
    const valid = Number.isInteger(index) && index >= 0 && index < num;
    for (let c = 0; c < dim; c++) out[i * dim + c] = valid ? table.data[index * dim + c]! : NaN;
  });
  return out;
}

describeEachDevice('embedding', (engine) => {
  const rng = makeRng(3);

  it.each([
    ['f32 labels', 'f32', [3, 0, 4, 4, 1, 2], [6], [5, 7]],
    ['i32 indices, 2-D', 'i32', [0, 9, 2, 3, 8, 1], [2, 3], [10, 1]],
    ['a table wider than a workgroup', 'f32', [1, 0], [2], [2, 130]],
  ] as const)('%s match the reference', async (_, dtype, indices, shape, tableShape) => {
    const e = engine();
    const table = randn(tableShape, rng);
    const input = e.tensor(indices, shape, dtype);
    const weight = e.tensor(table.data, table.shape);
    const out = e.ops.embedding(input, weight);
    expect(out.shape).toEqual([...shape, tableShape[1]]);
    expect(await out.read()).toEqual(embeddingReference(indices, table));
    for (const t of [input, weight, out]) t.dispose();
  });

  it('gives NaN rows for indices outside the table (a GPU op cannot raise), and leaves valid rows exact', async () => {
    const e = engine();
    const table = randn([4, 3], rng);
    const labels = [2, -1, 4, 1.5, NaN, Infinity, 3];
    const input = e.tensor(labels, [labels.length]);
    const ints = e.tensor([0, -2, 4], [3], 'i32');
    const weight = e.tensor(table.data, table.shape);
    for (const [t, values] of [[input, labels], [ints, [0, -2, 4]]] as const) {
      const out = e.ops.embedding(t, weight);
      expect(await out.read()).toEqual(embeddingReference(values, table));
      out.dispose();
    }
    const flat = weight.reshape([12]);
    expect(() => e.ops.embedding(input, flat)).toThrow(/weight must be \(num_embeddings, embedding_dim\)/);
    for (const t of [input, ints, weight, flat]) t.dispose();
  });
});
