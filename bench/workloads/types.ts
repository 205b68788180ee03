/**
 * A workload is one op on fixed shapes, described once for the three engines: synthe through `engine.ops`,
 * TF.js through its own ops in its own layout (NHWC), ONNX Runtime through a one-node ONNX model. Inputs are
 * made on the CPU in PyTorch layout from a fixed seed, so every engine sees the same numbers.
 */
import type * as Tf from '@tensorflow/tfjs-core';
import type { Engine, Tensor } from '../../src/index';
import type { CpuTensor } from '../../test/reference/tensor';
import type { OnnxModel } from '../peers/onnx';

/** Inputs by name, PyTorch layout. */
export type HostInputs = Record<string, CpuTensor>;

/** Options every synthe op here accepts on top of its own; `variant` forces one implementation. */
export interface VariantOption {
  variant?: string;
}

/**
 * The ops the workloads call, with their documented PyTorch-style signatures. They are looked up by name at
 * run time, so an op another engineer has not registered yet makes its workloads 'not available' instead of
 * breaking the build.
 */
export interface BenchOps {
  add(a: Tensor, b: Tensor): Tensor;
  matmul(a: Tensor, b: Tensor, options?: VariantOption): Tensor;
  conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | null,
    options: VariantOption & { stride?: number; padding?: number; dilation?: number; groups?: number },
  ): Tensor;
  convTranspose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | null,
    options: VariantOption & { stride?: number; padding?: number; outputPadding?: number; groups?: number; dilation?: number },
  ): Tensor;
  scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, options?: VariantOption & { scale?: number }): Tensor;
  groupNorm(input: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps?: number, options?: VariantOption): Tensor;
}
export type BenchOpName = keyof BenchOps;

/** How TF.js runs the workload: its inputs in its layout, the op, and the way back to PyTorch layout. */
export interface TfjsSpec {
  inputs(host: HostInputs): HostInputs;
  run(tf: typeof Tf, t: Record<string, Tf.Tensor>): Tf.Tensor;
  /** Converts TF.js's output (flat, its layout) to PyTorch layout; identity when absent. */
  output?(data: Float32Array): Float32Array;
}

export interface Workload {
  /** Unique, human-readable: `conv2d 3x3 64→64 @64x64`. */
  name: string;
  /** Words `--only` matches besides the name (op family, kind). */
  tags: readonly string[];
  /** Floating-point operations of one run (a multiply-add counts 2). */
  flops: number;
  /** Bytes a run must move at least: every input read once and the output written once, f32. */
  bytes: number;
  /** The synthe op it needs. */
  op: BenchOpName;
  /**
   * The op's variant names, each forced in turn through the op's `variant` option; names that do not apply
   * to the problem on this device are reported 'not eligible'.
   */
  variants?(): string[];
  outputShape: readonly number[];
  inputs(): HostInputs;
  /** Runs the op on synthe tensors named like the host inputs. */
  synthe(ops: BenchOps, t: Record<string, Tensor>, variant?: string): Tensor;
  /** TF.js's version, or why TF.js cannot run it. */
  tfjs: TfjsSpec | { unsupported: string };
  /** ONNX Runtime's model (one node, or a chain): graph inputs are fed from the host inputs of the same names. */
  onnx(host: HostInputs): OnnxModel;
}

/** The typed view of an engine's ops the workloads use; members are undefined when not registered. */
export function benchOps(engine: Engine): Partial<BenchOps> {
  return engine.ops as unknown as Partial<BenchOps>;
}
