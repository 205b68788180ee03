/**
 * Reading a diffusers `config.json` as diffusers does: the same field names, diffusers' defaults for absent
 * fields, and nothing passed over in silence. Every field is either used, known to have no effect on inference
 * (`sample_size`, `dropout`, …), or refused by name when it asks for something synthe does not run; a field
 * this reader does not know is refused too. Keys starting with `_` (`_class_name`, `_diffusers_version`) are
 * bookkeeping and pass.
 */
import { SyntheError } from '../../errors';

/** A config.json that asks for something synthe does not run, or that diffusers itself would reject. */
export class DiffusersConfigError extends SyntheError {
  override name = 'DiffusersConfigError';
}

const show = (value: unknown) => JSON.stringify(value);

export class DiffusersConfig {
  private readonly read = new Set<string>();
  /** Every field as the model runs it: given values, and diffusers' defaults for the rest. */
  readonly resolved: Record<string, unknown> = {};

  constructor(
    /** The diffusers class, e.g. `UNet2DModel`: config errors name it. */
    readonly className: string,
    private readonly raw: Readonly<Record<string, unknown>>,
  ) {}

  error(message: string): DiffusersConfigError {
    return new DiffusersConfigError(`${this.className} config: ${message}`);
  }

  /** Whether config.json sets the field (to anything but null). */
  given(name: string): boolean {
    return this.raw[name] !== undefined && this.raw[name] !== null;
  }

  /** The field's value, or `fallback` (diffusers' default) when absent; null counts as given. */
  value(name: string, fallback: unknown): unknown {
    this.read.add(name);
    const value = name in this.raw ? this.raw[name] : fallback;
    this.resolved[name] = value;
    return value;
  }

  int(name: string, fallback: number, min = 1): number {
    const v = this.value(name, fallback);
    if (!isInt(v, min)) throw this.error(`${name} must be an integer >= ${min}, got ${show(v)}`);
    return v;
  }

  optionalInt(name: string, fallback: number | null = null, min = 1): number | null {
    const v = this.value(name, fallback);
    if (v !== null && !isInt(v, min)) throw this.error(`${name} must be null or an integer >= ${min}, got ${show(v)}`);
    return v;
  }

  number(name: string, fallback: number): number {
    const v = this.value(name, fallback);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.error(`${name} must be a finite number, got ${show(v)}`);
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.value(name, fallback);
    if (typeof v !== 'boolean') throw this.error(`${name} must be true or false, got ${show(v)}`);
    return v;
  }

  strings(name: string, fallback: readonly string[]): string[] {
    const v = this.value(name, fallback);
    if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
      throw this.error(`${name} must be a non-empty list of block names, got ${show(v)}`);
    }
    return v as string[];
  }

  ints(name: string, fallback: readonly number[]): number[] {
    const v = this.value(name, fallback);
    if (!Array.isArray(v) || v.length === 0 || !v.every((d) => isInt(d, 1))) {
      throw this.error(`${name} must be a non-empty list of positive integers, got ${show(v)}`);
    }
    return v as number[];
  }

  /**
   * A per-block field that is one value for every block or a list of `count` (diffusers turns an int into
   * `(value,) * count`); `parse` checks one entry.
   */
  perBlock<T>(name: string, fallback: unknown, count: number, parse: (v: unknown) => T | undefined): T[] {
    const v = this.value(name, fallback);
    const list = Array.isArray(v) ? v : new Array<unknown>(count).fill(v);
    const parsed = list.map(parse);
    if (list.length !== count || parsed.some((p) => p === undefined)) {
      throw this.error(`${name} must be one value or a list of ${count} (one per block), got ${show(v)}`);
    }
    return parsed as T[];
  }

  /** A field synthe runs only with the listed values (the first is diffusers' default); others are refused by name. */
  only<T>(name: string, supported: readonly T[], why = ''): T {
    const v = this.value(name, supported[0]);
    if (!supported.some((s) => s === v)) {
      const list = supported.map(show).join(' or ');
      throw this.error(`${name}=${show(v)} is not supported (synthe runs ${list}${why ? `; ${why}` : ''})`);
    }
    return v as T;
  }

  /** Fields that change nothing at inference (sizes for training, dropout, fp16 hints): accepted as they are. */
  inert(...names: string[]): void {
    for (const name of names) if (name in this.raw) this.value(name, undefined);
  }

  /** Refuses every field not read: diffusers would pass it to a constructor argument synthe does not know. */
  finish(): void {
    const unknown = Object.keys(this.raw).filter((k) => !k.startsWith('_') && !this.read.has(k));
    if (unknown.length) throw this.error(`unknown field(s) ${unknown.map((k) => `'${k}'`).join(', ')}: synthe does not know what they change, so it does not guess`);
  }
}

function isInt(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
}

/** A per-block parser for positive integers. */
export const positiveInt = (v: unknown): number | undefined => (isInt(v, 1) ? v : undefined);
