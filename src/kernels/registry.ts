/**
 * The op registry: every public op is a function `(runtime, ...args)` in one kernel module; the engine binds
 * them to its runtime once. Adding an op means exporting it here, nothing else.
 */
import type { Runtime } from '../gpu/runtime';
import * as elementwise from './elementwise';
import * as matmul from './matmul';
import * as softmax from './softmax';
import * as resample from './resample';
import * as shapeOps from './shape_ops';
import * as attention from './attention';
import * as norm from './norm';
import * as diffusers from './diffusers';
import * as conv2d from './conv2d';
import * as convTranspose2d from './conv_transpose2d';
import * as embedding from './embedding';

const OPS = {
  conv2d: conv2d.conv2d,
  conv2dPacked: conv2d.conv2dPacked,
  convTranspose2d: convTranspose2d.convTranspose2d,
  convTranspose2dPacked: convTranspose2d.convTranspose2dPacked,
  add: elementwise.add,
  sub: elementwise.sub,
  mul: elementwise.mul,
  div: elementwise.div,
  scale: elementwise.scale,
  relu: elementwise.relu,
  leakyRelu: elementwise.leakyRelu,
  silu: elementwise.silu,
  gelu: elementwise.gelu,
  tanh: elementwise.tanh,
  sigmoid: elementwise.sigmoid,
  exp: elementwise.exp,
  clamp: elementwise.clamp,
  prelu: elementwise.prelu,
  matmul: matmul.matmul,
  linear: matmul.linear,
  softmax: softmax.softmax,
  concat: shapeOps.concat,
  permute: shapeOps.permute,
  transpose: shapeOps.transpose,
  narrow: shapeOps.narrow,
  slice: shapeOps.slice,
  chunk: shapeOps.chunk,
  pixelShuffle: shapeOps.pixelShuffle,
  pixelUnshuffle: shapeOps.pixelUnshuffle,
  depthToSpace: shapeOps.depthToSpace,
  interpolate: resample.interpolate,
  scaledDotProductAttention: attention.scaledDotProductAttention,
  multiHeadAttention: attention.multiHeadAttention,
  groupNorm: norm.groupNorm,
  layerNorm: norm.layerNorm,
  instanceNorm: norm.instanceNorm,
  batchNorm: norm.batchNorm,
  geglu: diffusers.geglu,
  feedForward: diffusers.feedForward,
  timestepEmbedding: diffusers.timestepEmbedding,
  embedding: embedding.embedding,
};

type Bound<F> = F extends (rt: Runtime, ...args: infer A) => infer R ? (...args: A) => R : never;

/** The ops of an engine, each bound to its runtime. */
export type Ops = { readonly [K in keyof typeof OPS]: Bound<(typeof OPS)[K]> };

/** Names of every op, for the CLI and docs. */
export const OP_NAMES = Object.keys(OPS) as (keyof typeof OPS)[];

export function bindOps(rt: Runtime): Ops {
  const bound: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(OPS)) {
    bound[name] = (...args: unknown[]) => (fn as (rt: Runtime, ...a: unknown[]) => unknown)(rt, ...args);
  }
  return Object.freeze(bound) as Ops;
}
