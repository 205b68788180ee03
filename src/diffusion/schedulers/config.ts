/**
 * Reading a diffusers `scheduler_config.json`: each scheduler class declares its keys with diffusers'
 * defaults; a value synthe does not implement (thresholding, Karras sigmas, learned variances, …) is refused
 * by name instead of being ignored. Keys that belong to other classes are ignored, as diffusers' `from_config`
 * ignores them when one scheduler is built from another's config.
 */
import { SyntheError } from '../../errors';

/** A scheduler config that cannot be used: a wrong type, an unknown option value, or one synthe does not implement. */
export class SchedulerConfigError extends SyntheError {
  override name = 'SchedulerConfigError';
}

/** How one config key is read: its default and a check that returns the problem with a value, if any. */
export interface Field<T> {
  default: T;
  read(value: unknown): { value: T } | { problem: string };
}

const describe = (v: unknown) => JSON.stringify(v) ?? String(v);

export function integer(fallback: number, min = 0): Field<number> {
  return {
    default: fallback,
    read: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min ? { value: v } : { problem: `must be an integer ≥ ${min}, got ${describe(v)}` }),
  };
}

export function number(fallback: number): Field<number> {
  return { default: fallback, read: (v) => (typeof v === 'number' && Number.isFinite(v) ? { value: v } : { problem: `must be a finite number, got ${describe(v)}` }) };
}

/** A number that may also be ±Infinity (diffusers writes `-Infinity` for lambda_min_clipped). */
export function extendedNumber(fallback: number): Field<number> {
  return { default: fallback, read: (v) => (typeof v === 'number' && !Number.isNaN(v) ? { value: v } : { problem: `must be a number, got ${describe(v)}` }) };
}

export function boolean(fallback: boolean): Field<boolean> {
  return { default: fallback, read: (v) => (typeof v === 'boolean' ? { value: v } : { problem: `must be true or false, got ${describe(v)}` }) };
}

/**
 * One of the values synthe implements. `known` lists values diffusers accepts that synthe does not: they are
 * refused as "not supported" rather than "unknown".
 */
export function oneOf<const T extends string | number | null>(fallback: T, supported: readonly T[], known: readonly (string | number | null)[] = []): Field<T> {
  return {
    default: fallback,
    read: (v) => {
      if ((supported as readonly unknown[]).includes(v)) return { value: v as T };
      const list = supported.map(describe).join(', ');
      return { problem: known.includes(v as string) ? `${describe(v)} is not supported by synthe (supported: ${list})` : `must be one of ${list}, got ${describe(v)}` };
    },
  };
}

/** A flag diffusers offers that synthe implements only at its default. */
export function onlyDefault<T extends boolean | null>(fallback: T): Field<T> {
  return {
    default: fallback,
    read: (v) => (v === fallback || (fallback === null && v === undefined) ? { value: fallback } : { problem: `${describe(v)} is not supported by synthe (only ${describe(fallback)})` }),
  };
}

/** trained_betas: null or a list of numbers. */
export function betasList(): Field<number[] | null> {
  return {
    default: null,
    read: (v) => {
      if (v === null) return { value: null };
      if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return { value: [...(v as number[])] };
      return { problem: 'must be null or a non-empty list of numbers' };
    },
  };
}

export type Spec<C> = { [K in keyof C]: Field<C[K]> };

/**
 * The config of class `className` from a parsed JSON object: every declared key takes its given value or
 * diffusers' default; keys starting with `_` (`_class_name`, `_diffusers_version`) and keys of other classes
 * are ignored.
 */
export function readConfig<C>(className: string, spec: Spec<C>, json: unknown): C {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new SchedulerConfigError(`${className}: the config must be a JSON object`);
  const given = json as Record<string, unknown>;
  const out = {} as C;
  const problems: string[] = [];
  for (const key of Object.keys(spec) as (keyof C & string)[]) {
    const field = spec[key];
    if (!(key in given)) {
      out[key] = field.default;
      continue;
    }
    const read = field.read(given[key]);
    if ('problem' in read) problems.push(`'${key}' ${read.problem}`);
    else out[key] = read.value;
  }
  if (problems.length) throw new SchedulerConfigError(`${className}: config ${problems.join('; ')}`);
  return out;
}
