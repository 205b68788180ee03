/**
 * The op registry: every public op is a function `(runtime, ...args)` in one kernel module; the engine binds
 * them to its runtime once. Adding an op means exporting it here, nothing else.
 */
import type { Runtime } from '../gpu/runtime';
import * as elementwise from './elementwise';

const OPS = {
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
  clamp: elementwise.clamp,
  prelu: elementwise.prelu,
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
