/**
 * A checkpoint being loaded into a model: hands out tensors by name, remembers which ones the model used, and
 * at the end names every missing or unexpected key at once, so a wrong file gets one clear error.
 */
import type { Engine } from '../engine';
import { SyntheError } from '../errors';
import type { SafetensorsFile } from '../io/safetensors';
import type { Tensor } from '../tensor/tensor';
import { formatShape } from '../tensor/shape';

/** A checkpoint that does not fit the architecture: missing keys, unexpected keys, or wrong shapes. */
export class CheckpointError extends SyntheError {
  override name = 'CheckpointError';
}

/** Keys that PyTorch saves but no inference needs. */
const ALWAYS_IGNORED = /(^|\.)num_batches_tracked$/;

export class Checkpoint {
  private readonly used = new Set<string>();
  private readonly missing: string[] = [];

  constructor(
    readonly engine: Engine,
    readonly file: SafetensorsFile,
    /** Label for messages, e.g. the file name. */
    readonly label: string,
  ) {}

  get metadata(): Readonly<Record<string, string>> {
    return this.file.metadata;
  }

  names(): string[] {
    return this.file.names();
  }

  has(name: string): boolean {
    return this.file.has(name);
  }

  /** The shape of a tensor, or undefined (and remembered as missing) when the file lacks it. */
  shape(name: string): readonly number[] | undefined {
    if (!this.file.has(name)) {
      this.missing.push(name);
      return undefined;
    }
    return this.file.info(name).shape;
  }

  /** The shape of a tensor that must exist and (optionally) have this rank. */
  requireShape(name: string, rank?: number): readonly number[] {
    const shape = this.shape(name);
    if (!shape) throw this.error();
    if (rank !== undefined && shape.length !== rank) throw new CheckpointError(`${this.label}: '${name}' should be ${rank}-D, it is ${formatShape(shape)}`);
    return shape;
  }

  /** A tensor's values as f32 on the CPU (for packing and folding before upload). */
  async array(name: string, expectedShape?: readonly number[]): Promise<Float32Array> {
    const shape = this.requireShape(name);
    if (expectedShape && (shape.length !== expectedShape.length || shape.some((d, i) => d !== expectedShape[i]))) {
      throw new CheckpointError(`${this.label}: '${name}' has shape ${formatShape(shape)}, expected ${formatShape(expectedShape)}`);
    }
    this.used.add(name);
    return this.file.float32(name);
  }

  /** A tensor uploaded to the GPU as f32. */
  async tensor(name: string, expectedShape?: readonly number[]): Promise<Tensor> {
    const data = await this.array(name, expectedShape);
    return this.engine.tensor(data, this.file.info(name).shape);
  }

  /** Marks keys as deliberately unused (e.g. training-only buffers). */
  ignore(pattern: RegExp): void {
    for (const name of this.file.names()) if (pattern.test(name)) this.used.add(name);
  }

  /** Throws if any key was missing, or if keys remain that the architecture did not use. */
  finish(): void {
    const unexpected = this.file.names().filter((n) => !this.used.has(n) && !ALWAYS_IGNORED.test(n));
    if (this.missing.length > 0 || unexpected.length > 0) throw this.error(unexpected);
  }

  private error(unexpected: string[] = []): CheckpointError {
    const parts: string[] = [];
    const list = (names: string[]) => names.slice(0, 8).join(', ') + (names.length > 8 ? `, … (${names.length} in all)` : '');
    if (this.missing.length) parts.push(`missing key(s): ${list([...new Set(this.missing)])}`);
    if (unexpected.length) parts.push(`unexpected key(s): ${list(unexpected)}`);
    return new CheckpointError(`${this.label} does not fit the architecture: ${parts.join('; ')}`);
  }
}
