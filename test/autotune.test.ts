/**
 * `engine.tune`: one run of a function collects the problems whose kernel has several variants, the engine
 * measures them, and later calls run the winners, with the same results.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { autotuneEnabled } from '../src/kernels/autotune';
import { packConv2dWeight } from '../src/kernels/conv2d';
import { makeRng } from '../src/random';
import { expectAllClose } from './reference/compare';
import { describeEachDevice } from './devices';

process.env.SYNTHE_AUTOTUNE_CACHE = join(mkdtempSync(join(tmpdir(), 'synthe-autotune-')), 'autotune.json');

describeEachDevice('engine.tune', (engine) => {
  it('measures every multi-variant problem a function meets, and later calls agree with the first', async () => {
    const e = engine();
    const rng = makeRng(1);
    const x = e.tensor(rng.randn(2 * 8 * 10 * 10), [2, 8, 10, 10]);
    const packed = packConv2dWeight(e.runtime, e.tensor(rng.randn(8 * 8 * 9), [8, 8, 3, 3]), { padding: 1 });
    const wq = e.tensor(rng.randn(16 * 16), [16, 16]);
    const tokens = e.tensor(rng.randn(2 * 40 * 16), [2, 40, 16]);
    const w2 = e.tensor(rng.randn(4 * 8 * 9), [4, 8, 3, 3]);
    const block = () => {
      const y = e.ops.conv2dPacked(x, packed, { activation: { kind: 'silu' } });
      // An eager conv packs for the call only: it must be skipped, not break tuning.
      const z = e.ops.conv2d(y, w2, null, { padding: 1 });
      const a = e.ops.multiHeadAttention(tokens, { heads: 2, qWeight: wq, kWeight: wq, vWeight: wq, outWeight: wq });
      y.dispose();
      return [z, a] as const;
    };
    const [z0, a0] = await e.tune(block);
    const [z1, a1] = block();
    expectAllClose(await z1.read(), await z0.read(), { atol: 1e-4, rtol: 1e-3 });
    expectAllClose(await a1.read(), await a0.read(), { atol: 1e-4, rtol: 1e-3 });
    if (autotuneEnabled()) {
      const stored = Object.keys(JSON.parse(readFileSync(process.env.SYNTHE_AUTOTUNE_CACHE!, 'utf8')) as Record<string, string>);
      const ops = new Set(stored.map((k) => k.split('|')[0]));
      expect(ops).toContain('conv2d');
      expect(ops).toContain('gemm');
      expect(ops).toContain('attention');
    }
    for (const t of [z0, a0, z1, a1]) t.dispose();
    packed.dispose();
  });

  it('refuses nested tuning', async () => {
    const e = engine();
    await expect(e.tune(() => e.tune(() => 1))).rejects.toThrow(/nest/);
  });
});
