/**
 * Elementwise ops: one unary and one broadcasting binary shader, specialised by the OP override constant.
 */
import unaryCode from '../../shaders/unary.wgsl?raw';
import binaryCode from '../../shaders/binary.wgsl?raw';
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import { broadcastShapes, broadcastStrides, formatShape } from '../tensor/shape';
import { Tensor } from '../tensor/tensor';
import { expectF32, expectFinite, expectSameEngine, LINEAR_WORKGROUP, linearWorkgroups, output } from './common';

const UNARY = shader('unary.wgsl', unaryCode);
const BINARY = shader('binary.wgsl', binaryCode);

/** OP codes of unary.wgsl. */
export const UNARY_OPS = {
  relu: 0, leakyRelu: 1, silu: 2, gelu: 3, geluTanh: 4, tanh: 5, sigmoid: 6, clamp: 7, scale: 8,
  addScalar: 9, rsubScalar: 10, rdivScalar: 11, copy: 12, exp: 13,
} as const;
export type UnaryOp = keyof typeof UNARY_OPS;

/** OP codes of binary.wgsl. */
export const BINARY_OPS = { add: 0, sub: 1, mul: 2, div: 3, prelu: 4, addScaled: 5, maximum: 6, minimum: 7 } as const;
export type BinaryOp = keyof typeof BINARY_OPS;

const MAX_RANK = 8;

/** Applies a unary op into a new tensor. */
export function unary(rt: Runtime, op: UnaryOp, x: Tensor, alpha = 0, beta = 0): Tensor {
  expectSameEngine(rt, op, x);
  expectF32(op, { name: 'input', tensor: x });
  const y = output(rt, x.shape);
  rt.dispatch({
    shader: UNARY,
    overrides: { OP: UNARY_OPS[op] },
    uniforms: { n: x.size, alpha, beta },
    bindings: { x: x.buffer, y: y.buffer },
    workgroups: linearWorkgroups(x.size),
    label: op,
  });
  return y;
}

/** Elements of the last dim each invocation of the broadcast path handles. */
const BROADCAST_RUN = 64;
/**
 * Workgroups the same-shape path aims for: blocks this many or fewer keep the CPU adapters' per-workgroup cost
 * negligible (64 to 1024 measured alike on lavapipe) while still filling a GPU.
 */
const SAME_SHAPE_WORKGROUPS = 256;

/** Applies a broadcasting binary op. */
export function binary(rt: Runtime, op: BinaryOp, a: Tensor, b: Tensor, alpha = 1): Tensor {
  expectSameEngine(rt, op, a, b);
  expectF32(op, { name: 'input', tensor: a }, { name: 'other', tensor: b });
  const shape = broadcastShapes(a.shape, b.shape, op);
  const out = output(rt, shape);
  if (out.size === 0) return out;
  const same = (s: readonly number[]) => s.length === shape.length && s.every((d, i) => d === shape[i]);
  if (same(a.shape) && same(b.shape) && out.size % 4 === 0) {
    const n4 = out.size / 4;
    const run = Math.ceil(n4 / (LINEAR_WORKGROUP * SAME_SHAPE_WORKGROUPS));
    rt.dispatch({
      shader: BINARY,
      entry: 'same_shape',
      overrides: { OP: BINARY_OPS[op] },
      uniforms: { n4, run, alpha },
      bindings: { a4: a.buffer, b4: b.buffer, out4: out.buffer },
      workgroups: Math.ceil(n4 / (LINEAR_WORKGROUP * run)),
      label: op,
    });
    return out;
  }
  // A 0-d result is one element read at offset 0 of both operands.
  const view = shape.length === 0 ? mergeDims([1], [0], [0]) : mergeDims(shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  if (view.shape.length > MAX_RANK) throw new ShapeError(`${op}: rank ${view.shape.length} exceeds the supported ${MAX_RANK}`);
  const rowLength = view.shape.at(-1)!;
  const rowBlocks = Math.ceil(rowLength / BROADCAST_RUN);
  const rows = out.size / rowLength;
  const pad = (v: number[]) => [...v, ...new Array<number>(MAX_RANK - v.length).fill(0)];
  rt.dispatch({
    shader: BINARY,
    overrides: { OP: BINARY_OPS[op], RANK: view.shape.length, PER_THREAD: BROADCAST_RUN },
    uniforms: {
      rows,
      row_blocks: rowBlocks,
      alpha,
      shape: pad(view.shape),
      a_strides: pad(view.a),
      b_strides: pad(view.b),
    },
    bindings: { a: a.buffer, b: b.buffer, out: out.buffer },
    workgroups: Math.ceil((rows * rowBlocks) / LINEAR_WORKGROUP),
    label: op,
  });
  return out;
}

/** Merges adjacent dims that both operands walk contiguously (or both broadcast), so rank and index math shrink. */
function mergeDims(shape: readonly number[], a: readonly number[], b: readonly number[]) {
  const out = { shape: [shape[0]!], a: [a[0]!], b: [b[0]!] };
  for (let i = 1; i < shape.length; i++) {
    const k = out.shape.length - 1;
    const joins = (s: number[], t: readonly number[]) => s[k] === t[i]! * shape[i]!;
    if (joins(out.a, a) && joins(out.b, b)) {
      out.shape[k] = out.shape[k]! * shape[i]!;
      out.a[k] = a[i]!;
      out.b[k] = b[i]!;
    } else {
      out.shape.push(shape[i]!);
      out.a.push(a[i]!);
      out.b.push(b[i]!);
    }
  }
  return out;
}

type Operand = Tensor | number;

function arithmetic(rt: Runtime, op: 'add' | 'sub' | 'mul' | 'div', a: Operand, b: Operand): Tensor {
  if (a instanceof Tensor && b instanceof Tensor) return binary(rt, op, a, b);
  if (a instanceof Tensor && typeof b === 'number') {
    expectFinite(op, 'other', b);
    switch (op) {
      case 'add': return unary(rt, 'addScalar', a, b);
      case 'sub': return unary(rt, 'addScalar', a, -b);
      case 'mul': return unary(rt, 'scale', a, b);
      case 'div': return unary(rt, 'scale', a, 1 / b);
      default: return op satisfies never;
    }
  }
  if (typeof a === 'number' && b instanceof Tensor) {
    expectFinite(op, 'input', a);
    switch (op) {
      case 'add': return unary(rt, 'addScalar', b, a);
      case 'sub': return unary(rt, 'rsubScalar', b, a);
      case 'mul': return unary(rt, 'scale', b, a);
      case 'div': return unary(rt, 'rdivScalar', b, a);
      default: return op satisfies never;
    }
  }
  throw new ShapeError(`${op}: at least one operand must be a tensor`);
}

/** `torch.add(input, other)`; either may be a number. */
export function add(rt: Runtime, input: Operand, other: Operand): Tensor {
  return arithmetic(rt, 'add', input, other);
}
/** `torch.sub(input, other)`. */
export function sub(rt: Runtime, input: Operand, other: Operand): Tensor {
  return arithmetic(rt, 'sub', input, other);
}
/** `torch.mul(input, other)`. */
export function mul(rt: Runtime, input: Operand, other: Operand): Tensor {
  return arithmetic(rt, 'mul', input, other);
}
/** `torch.div(input, other)`. */
export function div(rt: Runtime, input: Operand, other: Operand): Tensor {
  return arithmetic(rt, 'div', input, other);
}
/** `input * factor`. */
export function scale(rt: Runtime, input: Tensor, factor: number): Tensor {
  expectFinite('scale', 'factor', factor);
  return unary(rt, 'scale', input, factor);
}
/** `F.relu`. */
export function relu(rt: Runtime, input: Tensor): Tensor {
  return unary(rt, 'relu', input);
}
/** `F.leaky_relu(input, negative_slope=0.01)`. */
export function leakyRelu(rt: Runtime, input: Tensor, negativeSlope = 0.01): Tensor {
  expectFinite('leakyRelu', 'negativeSlope', negativeSlope);
  return unary(rt, 'leakyRelu', input, negativeSlope);
}
/** `F.silu`. */
export function silu(rt: Runtime, input: Tensor): Tensor {
  return unary(rt, 'silu', input);
}
/** `F.gelu(input, approximate='none'|'tanh')`. */
export function gelu(rt: Runtime, input: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  const approximate = options.approximate ?? 'none';
  if (approximate !== 'none' && approximate !== 'tanh') throw new ShapeError(`gelu: approximate must be 'none' or 'tanh', got '${approximate}'`);
  return unary(rt, approximate === 'tanh' ? 'geluTanh' : 'gelu', input);
}
/** `torch.tanh`. */
export function tanh(rt: Runtime, input: Tensor): Tensor {
  return unary(rt, 'tanh', input);
}
/** `torch.sigmoid`. */
export function sigmoid(rt: Runtime, input: Tensor): Tensor {
  return unary(rt, 'sigmoid', input);
}
/** `torch.exp`. */
export function exp(rt: Runtime, input: Tensor): Tensor {
  return unary(rt, 'exp', input);
}
/** `torch.clamp(input, min, max)`; either bound may be omitted. */
export function clamp(rt: Runtime, input: Tensor, min?: number | null, max?: number | null): Tensor {
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  if (Number.isNaN(lo) || Number.isNaN(hi)) throw new ShapeError('clamp: bounds must not be NaN');
  // WGSL has no infinity literals; the f32 range limits clamp the same way.
  const F32_MAX = 3.4028234663852886e38;
  return unary(rt, 'clamp', input, Math.max(lo, -F32_MAX), Math.min(hi, F32_MAX));
}
/** `F.prelu(input, weight)`: weight has one slope or one per channel (dim 1). */
export function prelu(rt: Runtime, input: Tensor, weight: Tensor): Tensor {
  const channels = input.shape[1] ?? 1;
  if (weight.size !== 1 && weight.size !== channels) {
    throw new ShapeError(`prelu: weight ${formatShape(weight.shape)} must hold 1 or ${channels} (channels) values`);
  }
  const slopeShape = weight.size === 1 ? [1] : [channels, ...new Array<number>(Math.max(0, input.rank - 2)).fill(1)];
  const slope = weight.reshape(slopeShape);
  try {
    return binary(rt, 'prelu', input, slope);
  } finally {
    slope.dispose();
  }
}
