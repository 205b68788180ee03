/**
 * conv2d and convTranspose2d against TensorFlow.js's CPU backend: an implementation written independently
 * of this project's CPU reference, in TensorFlow's layouts (NHWC data, [kh, kw, in, out] kernels).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, it } from 'vitest';
import { makeRng } from '../../src/random';
import { expectAllClose } from '../reference/compare';
import { describeEachDevice } from '../devices';

/** (N, C, H, W) ↔ (N, H, W, C). */
const toNhwc = (x: tf.Tensor4D) => tf.transpose(x, [0, 2, 3, 1]);
const toNchw = (x: tf.Tensor4D) => tf.transpose(x, [0, 3, 1, 2]);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describeEachDevice('conv against TensorFlow.js', (engine) => {
  const rng = makeRng(17);
  const cases = [
    { n: 1, c: 3, h: 9, w: 7, o: 5, k: 3, stride: 1, pad: 1, dilation: 1 },
    { n: 2, c: 6, h: 13, w: 11, o: 4, k: 3, stride: 2, pad: 1, dilation: 1 },
    { n: 1, c: 8, h: 10, w: 10, o: 8, k: 5, stride: 1, pad: 4, dilation: 2 },
    { n: 1, c: 16, h: 6, w: 5, o: 12, k: 1, stride: 1, pad: 0, dilation: 1 },
  ];
  for (const p of cases) {
    it(`conv2d ${JSON.stringify(p)}`, async () => {
      const e = engine();
      const x = rng.randn(p.n * p.c * p.h * p.w);
      const w = rng.randn(p.o * p.c * p.k * p.k);
      const got = e.ops.conv2d(e.tensor(x, [p.n, p.c, p.h, p.w]), e.tensor(w, [p.o, p.c, p.k, p.k]), null, { stride: p.stride, padding: p.pad, dilation: p.dilation });
      const want = tf.tidy(() => {
        const input = toNhwc(tf.tensor4d(x, [p.n, p.c, p.h, p.w]));
        const filter = tf.transpose(tf.tensor4d(w, [p.o, p.c, p.k, p.k]), [2, 3, 1, 0]) as tf.Tensor4D; // OIHW → HWIO
        const pads: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [p.pad, p.pad], [p.pad, p.pad], [0, 0]];
        return toNchw(tf.conv2d(input as tf.Tensor4D, filter, p.stride, pads, 'NHWC', p.dilation) as tf.Tensor4D);
      });
      expect(got.shape).toEqual(want.shape);
      expectAllClose(await got.read(), await want.data() as Float32Array, { atol: 1e-4, rtol: 1e-4 });
      want.dispose();
    });
  }

  for (const p of [
    { n: 1, c: 8, h: 5, w: 6, o: 4, k: 4, stride: 2 },
    { n: 2, c: 3, h: 7, w: 4, o: 6, k: 3, stride: 2 },
    { n: 1, c: 4, h: 3, w: 3, o: 2, k: 3, stride: 1 },
  ]) {
    it(`convTranspose2d (no padding) ${JSON.stringify(p)}`, async () => {
      const e = engine();
      const x = rng.randn(p.n * p.c * p.h * p.w);
      const w = rng.randn(p.c * p.o * p.k * p.k);
      const got = e.ops.convTranspose2d(e.tensor(x, [p.n, p.c, p.h, p.w]), e.tensor(w, [p.c, p.o, p.k, p.k]), null, { stride: p.stride });
      const [ho, wo] = [(p.h - 1) * p.stride + p.k, (p.w - 1) * p.stride + p.k];
      const want = tf.tidy(() => {
        const input = toNhwc(tf.tensor4d(x, [p.n, p.c, p.h, p.w]));
        // torch (in, out, kh, kw) → TensorFlow's transposed filter (kh, kw, out, in).
        const filter = tf.transpose(tf.tensor4d(w, [p.c, p.o, p.k, p.k]), [2, 3, 1, 0]) as tf.Tensor4D;
        return toNchw(tf.conv2dTranspose(input as tf.Tensor4D, filter, [p.n, ho, wo, p.o], p.stride, 'valid') as tf.Tensor4D);
      });
      expect(got.shape).toEqual(want.shape);
      expectAllClose(await got.read(), await want.data() as Float32Array, { atol: 1e-4, rtol: 1e-4 });
      want.dispose();
    });
  }
});
