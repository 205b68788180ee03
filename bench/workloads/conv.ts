/** Convolutions on NCHW tensors with bias, as in the generators and upscalers synthe runs. */
import { exportedNames } from '../variants';
import { fromNhwc, randomInputs, toNhwc, weightToTf } from './data';
import type { Workload } from './types';

/** `F.conv2d` geometry; batch 1 unless given. */
export interface Conv2dShape {
  cin: number;
  cout: number;
  /** Input height and width (square). */
  size: number;
  k: number;
  stride?: number;
  padding?: number;
  groups?: number;
  batch?: number;
}

export function conv2dWorkload(s: Conv2dShape): Workload {
  const { cin, cout, size, k } = s;
  const stride = s.stride ?? 1;
  const padding = s.padding ?? 0;
  const groups = s.groups ?? 1;
  const n = s.batch ?? 1;
  const out = Math.floor((size + 2 * padding - k) / stride) + 1;
  const cinG = cin / groups;
  const depthwise = groups > 1 && groups === cin && cin === cout;
  const name = depthwise
    ? `depthwise ${k}x${k}${stride > 1 ? ` s${stride}` : ''} ${cin}ch @${size}x${size}`
    : `conv2d ${k}x${k}${stride > 1 ? ` s${stride}` : ''} ${cin}→${cout} @${size}x${size}`;
  const outShape = [n, cout, out, out];
  return {
    name,
    tags: ['conv', 'conv2d', ...(depthwise ? ['depthwise'] : []), ...(k === 1 ? ['1x1', 'pointwise'] : [])],
    flops: 2 * n * cout * out * out * cinG * k * k,
    bytes: 4 * (n * cin * size * size + cout * cinG * k * k + cout + n * cout * out * out),
    op: 'conv2d',
    variants: () => exportedNames('CONV2D_VARIANTS'),
    outputShape: outShape,
    inputs: () =>
      randomInputs(3, {
        x: { shape: [n, cin, size, size] },
        w: { shape: [cout, cinG, k, k], scale: 1 / Math.sqrt(cinG * k * k) },
        b: { shape: [cout], scale: 0.1 },
      }),
    synthe: (ops, t, variant) => ops.conv2d(t.x!, t.w!, t.b!, { stride, padding, groups, ...(variant ? { variant } : {}) }),
    tfjs:
      groups === 1 || depthwise
        ? {
            inputs: (h) => ({ x: toNhwc(h.x!), w: weightToTf(h.w!), b: h.b! }),
            run: (tf, t) => {
              const args = { x: t.x as never, bias: t.b!, strides: stride, pad: padding };
              return depthwise
                ? tf.fused.depthwiseConv2d({ ...args, filter: tf.reshape(t.w!, [k, k, cin, 1]) as never })
                : tf.fused.conv2d({ ...args, filter: t.w! as never });
            },
            output: (data) => fromNhwc(data, outShape),
          }
        : { unsupported: 'TF.js has no grouped conv2d' },
    onnx: (h) => ({
      opType: 'Conv',
      inputs: [{ name: 'x', shape: h.x!.shape }],
      initializers: [
        { name: 'w', shape: h.w!.shape, data: h.w!.data },
        { name: 'b', shape: h.b!.shape, data: h.b!.data },
      ],
      output: { name: 'y', shape: outShape },
      attributes: { kernel_shape: [k, k], pads: [padding, padding, padding, padding], strides: [stride, stride], group: groups },
    }),
  };
}

/** `F.conv_transpose2d` geometry; batch 1, groups 1. */
export interface ConvTranspose2dShape {
  cin: number;
  cout: number;
  size: number;
  k: number;
  stride: number;
  padding: number;
  outputPadding?: number;
}

export function convTranspose2dWorkload(s: ConvTranspose2dShape): Workload {
  const { cin, cout, size, k, stride, padding } = s;
  const outputPadding = s.outputPadding ?? 0;
  const out = (size - 1) * stride - 2 * padding + k + outputPadding;
  const outShape = [1, cout, out, out];
  const geometry = `${k}x${k} s${stride}${padding ? ` p${padding}` : ''}${outputPadding ? ` op${outputPadding}` : ''}`;
  return {
    name: `convT ${geometry} ${cin}→${cout} @${size}x${size}`,
    tags: ['conv', 'convTranspose2d', 'convT', 'transpose'],
    // Every input pixel meets every tap once: the work of the equivalent gradient convolution.
    flops: 2 * cin * size * size * cout * k * k,
    bytes: 4 * (cin * size * size + cin * cout * k * k + cout + cout * out * out),
    op: 'convTranspose2d',
    // ConvTranspose2dVariant is 'subpixel' or 'phase-<conv2d kernel>' (conv_transpose2d.ts).
    variants: () => ['subpixel', ...exportedNames('CONV2D_VARIANTS').filter((v) => v !== 'matmul').map((v) => `phase-${v}`)],
    outputShape: outShape,
    inputs: () =>
      randomInputs(4, {
        x: { shape: [1, cin, size, size] },
        // Each output sums about cin·k²/stride² taps.
        w: { shape: [cin, cout, k, k], scale: stride / Math.sqrt(cin * k * k) },
        b: { shape: [cout], scale: 0.1 },
      }),
    synthe: (ops, t, variant) =>
      ops.convTranspose2d(t.x!, t.w!, t.b!, { stride, padding, outputPadding, ...(variant ? { variant } : {}) }),
    tfjs: {
      inputs: (h) => ({ x: toNhwc(h.x!), w: weightToTf(h.w!), b: h.b! }),
      // TF.js's `pad` is the forward convolution's, which is what PyTorch's padding means too; its
      // outputShape carries the output padding. It has no fused bias for this op: the add is a second kernel.
      run: (tf, t) =>
        tf.tidy(() => tf.add(tf.conv2dTranspose(t.x as never, t.w as never, [1, out, out, cout], stride, padding), t.b!)),
      output: (data) => fromNhwc(data, outShape),
    },
    onnx: (h) => ({
      opType: 'ConvTranspose',
      inputs: [{ name: 'x', shape: h.x!.shape }],
      initializers: [
        { name: 'w', shape: h.w!.shape, data: h.w!.data },
        { name: 'b', shape: h.b!.shape, data: h.b!.data },
      ],
      output: { name: 'y', shape: outShape },
      attributes: {
        kernel_shape: [k, k],
        pads: [padding, padding, padding, padding],
        strides: [stride, stride],
        output_padding: [outputPadding, outputPadding],
      },
    }),
  };
}
