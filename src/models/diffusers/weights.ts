/**
 * The weights of a diffusers model, declared while its blocks are built from config.json and loaded in one
 * go afterwards. Declaring first is what lets a wrong checkpoint get one error naming every missing key, and
 * another naming every tensor whose shape disagrees with the config, before anything is uploaded.
 */
import { packConv2dWeight, type PackedConv2d } from '../../kernels/conv2d';
import { gemm, type GemmActivation } from '../../kernels/matmul';
import { formatShape } from '../../tensor/shape';
import type { Tensor } from '../../tensor/tensor';
import { CheckpointError, type Checkpoint } from '../checkpoint';

/** A weight known by name at build time, holding its GPU value once the checkpoint is loaded. */
export class Slot<T> {
  private held: T | undefined;

  constructor(readonly name: string) {}

  get value(): T {
    if (this.held === undefined) throw new Error(`${this.name} was used before the checkpoint was loaded`);
    return this.held;
  }

  /** @internal */
  fill(value: T): void {
    this.held = value;
  }
}

/** A conv layer as the checkpoint stores it (`<name>.weight` (O, I, K, K), `<name>.bias` (O)) and how it runs. */
export interface ConvSpec {
  in: number;
  out: number;
  kernel: number;
  stride?: number;
  /**
   * Zero padding on every side (default (kernel − 1) / 2), or `'end'`: one row and column at the bottom and
   * right only, as Downsample2D's `F.pad(x, (0, 1, 0, 1))` before its unpadded stride-2 conv.
   */
  padding?: number | 'end';
  bias?: boolean;
}

/** An `nn.Linear`: weight (out, in), bias (out). */
export interface Linear {
  weight: Slot<Tensor>;
  bias: Slot<Tensor> | null;
}

/** An affine norm's weight and bias (C). */
export interface Affine {
  weight: Slot<Tensor>;
  bias: Slot<Tensor>;
}

/** A declared weight: a plain tensor, or a conv layer packed for the conv kernels. */
type Entry = { kind: 'tensor'; shape: readonly number[]; slot: Slot<Tensor> } | { kind: 'conv'; spec: ConvSpec; slot: Slot<PackedConv2d> };

export class WeightSet {
  /** By name (a tensor's key, a conv's prefix), in declaration order: the order errors list them in. */
  private readonly entries = new Map<string, Entry>();
  private readonly owned: { dispose(): void }[] = [];

  constructor(
    readonly ckpt: Checkpoint,
    /** Added to shape errors: why the expected shapes may be wrong (e.g. no config.json was given). */
    private readonly hint = '',
  ) {}

  /** Whether the checkpoint has a key (for namings that differ between diffusers versions). */
  has(name: string): boolean {
    return this.ckpt.has(name);
  }

  tensor(name: string, shape: readonly number[]): Slot<Tensor> {
    const slot = new Slot<Tensor>(name);
    this.declare(name, { kind: 'tensor', shape, slot });
    return slot;
  }

  linear(name: string, inFeatures: number, outFeatures: number, bias = true): Linear {
    return {
      weight: this.tensor(`${name}.weight`, [outFeatures, inFeatures]),
      bias: bias ? this.tensor(`${name}.bias`, [outFeatures]) : null,
    };
  }

  /** GroupNorm or LayerNorm parameters over `channels`. */
  affine(name: string, channels: number): Affine {
    return { weight: this.tensor(`${name}.weight`, [channels]), bias: this.tensor(`${name}.bias`, [channels]) };
  }

  conv(name: string, spec: ConvSpec): Slot<PackedConv2d> {
    const slot = new Slot<PackedConv2d>(name);
    this.declare(name, { kind: 'conv', spec, slot });
    return slot;
  }

  /**
   * Checks every declared key against the checkpoint (missing keys, then shapes), uploads and packs them,
   * and finally rejects keys no block declared. On any error, what was uploaded is freed.
   */
  async load(): Promise<void> {
    const ckpt = this.ckpt;
    const expected = new Map<string, readonly number[]>();
    for (const [name, entry] of this.entries) {
      if (entry.kind === 'tensor') {
        expected.set(name, entry.shape);
      } else {
        const { spec } = entry;
        expected.set(`${name}.weight`, [spec.out, spec.in, spec.kernel, spec.kernel]);
        if (spec.bias ?? true) expected.set(`${name}.bias`, [spec.out]);
      }
    }
    const missing = [...expected.keys()].filter((name) => ckpt.shape(name) === undefined);
    if (missing.length) {
      try {
        // The checkpoint remembered each one; asking again raises its error naming them all.
        ckpt.requireShape(missing[0]!);
      } catch (error) {
        throw this.hint ? new CheckpointError(`${(error as Error).message}${this.hint}`) : error;
      }
    }
    const wrong = [...expected].filter(([name, shape]) => !sameShape(ckpt.requireShape(name), shape));
    if (wrong.length) {
      const list = wrong.slice(0, 6).map(([name, shape]) => `'${name}' is ${formatShape(ckpt.requireShape(name))}, the config gives ${formatShape(shape)}`);
      const more = wrong.length > 6 ? `; … (${wrong.length} in all)` : '';
      throw new CheckpointError(`${ckpt.label}: tensor shapes disagree with the config: ${list.join('; ')}${more}${this.hint}`);
    }
    try {
      for (const [name, entry] of this.entries) {
        if (entry.kind === 'tensor') entry.slot.fill(this.own(await ckpt.tensor(name, entry.shape)));
        else entry.slot.fill(this.own(await this.loadConv(name, entry.spec)));
      }
      ckpt.finish();
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  dispose(): void {
    for (const item of this.owned.splice(0)) item.dispose();
  }

  private declare(name: string, entry: Entry): void {
    // Blocks name their layers after diffusers' module tree; a clash is a bug in a block, not in the file.
    if (this.entries.has(name)) throw new Error(`weight ${name} declared twice`);
    this.entries.set(name, entry);
  }

  private own<T extends { dispose(): void }>(item: T): T {
    this.owned.push(item);
    return item;
  }

  private async loadConv(name: string, spec: ConvSpec): Promise<PackedConv2d> {
    const { engine } = this.ckpt;
    const k = spec.kernel;
    const shape = [spec.out, spec.in, k, k];
    let data = await this.ckpt.array(`${name}.weight`, shape);
    let padding = spec.padding ?? (k - 1) / 2;
    if (padding === 'end') {
      // Padding one side only: the kernel grows a zero first row and column and is padded by 1 all round,
      // which reads exactly the pixels (and the one padded row and column) the unpadded conv of the
      // right/bottom-padded input reads, at every output position and for odd sizes too.
      data = growKernel(data, spec.out * spec.in, k);
      shape[2] = shape[3] = k + 1;
      padding = 1;
    }
    const weight = engine.tensor(data, shape);
    const bias = spec.bias ?? true ? await this.ckpt.tensor(`${name}.bias`, [spec.out]) : null;
    try {
      return packConv2dWeight(engine.runtime, weight, { bias, stride: spec.stride ?? 1, padding });
    } finally {
      weight.dispose();
      bias?.dispose();
    }
  }
}

/** (count, k, k) kernels -> (count, k + 1, k + 1) with a zero first row and column. */
function growKernel(data: Float32Array, count: number, k: number): Float32Array {
  const g = k + 1;
  const out = new Float32Array(count * g * g);
  for (let c = 0; c < count; c++) {
    for (let i = 0; i < k; i++) out.set(data.subarray((c * k + i) * k, (c * k + i + 1) * k), c * g * g + (i + 1) * g + 1);
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** `F.linear` with an activation fused into the product, on a (rows, in) input. */
export function linear2d(x: Tensor, layer: Linear, activation: GemmActivation = 'none'): Tensor {
  const [outFeatures, inFeatures] = layer.weight.value.shape as [number, number];
  return gemm(x.runtime, {
    a: x, b: layer.weight.value, m: x.shape[0]!, n: outFeatures, k: inFeatures, transB: true,
    bias: layer.bias?.value ?? null, activation, label: 'linear',
  });
}
