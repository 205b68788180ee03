/**
 * Measured variant selection, shared by every op family that has more than one kernel for a problem.
 *
 * Ops are synchronous, so measuring happens in an explicit async step (`await tune(...)`, called by a
 * model at load time or by an op's `tuneX` helper); eager calls afterwards look the winner up with
 * {@link tunedVariant} and otherwise use their fixed fallback order. Winners are kept in memory and
 * persisted per adapter: in `localStorage` in browsers, in a JSON file in Node (`SYNTHE_AUTOTUNE_CACHE`, or
 * `~/.cache/synthe/autotune.json`). `SYNTHE_AUTOTUNE=0` turns measuring off: `tune` then returns the first
 * candidate and eager calls ignore stored winners, which keeps runs reproducible.
 */
import type { Runtime } from '../gpu/runtime';

/** One way to compute the op: `run` encodes its dispatches (and frees whatever it allocates). */
export interface TuneCandidate {
  name: string;
  run: () => void;
}

/** Options of {@link tune}. */
export interface TuneOptions {
  /** Timed runs per candidate after the warm-up; the fastest counts. Default 1. */
  repeats?: number;
  /** Measure again even when a winner is stored. Default false. */
  force?: boolean;
}

const STORAGE_KEY = 'synthe.autotune.v1';
const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Winners by key; null until the persisted store has been read. */
let winners: Map<string, string> | null = null;
let loading: Promise<Map<string, string>> | null = null;

/** False when `SYNTHE_AUTOTUNE=0` (or `false`/`off`) is set in the environment. */
export function autotuneEnabled(): boolean {
  const flag = isNode ? process.env.SYNTHE_AUTOTUNE : undefined;
  return !(flag !== undefined && /^(0|false|off|no)$/i.test(flag.trim()));
}

/**
 * The key a winner is stored under: the op, the sizes that decide the variant, and the adapter, since the
 * fastest kernel on a software rasterizer is rarely the fastest on a GPU.
 */
export function tuneKey(rt: Runtime, op: string, problem: string): string {
  const { vendor, architecture, device, description } = rt.ctx.info;
  return `${op}|${problem}|${[vendor, architecture, device, description].filter(Boolean).join(' ')}`;
}

/** The stored winner for `key`, if the store is loaded, measuring is enabled and one was recorded. */
export function tunedVariant(key: string): string | undefined {
  if (!autotuneEnabled()) return undefined;
  return winners?.get(key);
}

/**
 * The variant an eager call runs: the stored winner for `key` when it is eligible, else the first of
 * `eligible` (the fixed order). While `engine.tune` runs a function, a problem with more than one eligible
 * variant and no winner is remembered with `measure`, which times the variants on inputs of the same shapes;
 * the engine runs those jobs when the function returns.
 */
export function pickVariant<V extends string>(rt: Runtime, key: string, eligible: readonly V[], measure: () => Promise<unknown>): V {
  const stored = tunedVariant(key) as V | undefined;
  if (stored && eligible.includes(stored)) return stored;
  if (eligible.length > 1 && rt.untuned && !rt.untuned.has(key)) rt.untuned.set(key, measure);
  return eligible[0]!;
}

/** Reads the persisted winners (once); later eager calls then use them without measuring anything. */
export async function loadTuned(): Promise<void> {
  await store();
}

/**
 * Times every candidate once after one warm-up run (which also compiles its pipelines) and returns the
 * fastest's name, remembering and persisting it. GPU time comes from timestamp queries when the device has
 * them, wall-clock time around a full sync otherwise. A stored winner that is still a candidate is returned
 * without measuring unless `force` is set.
 */
export async function tune(rt: Runtime, key: string, candidates: readonly TuneCandidate[], options: TuneOptions = {}): Promise<string> {
  const first = candidates[0];
  if (!first) throw new Error(`autotune ${key}: no candidates`);
  if (!autotuneEnabled() || candidates.length === 1) return first.name;
  const known = await store();
  const stored = known.get(key);
  if (stored && !options.force && candidates.some((c) => c.name === stored)) return stored;

  const repeats = Math.max(1, options.repeats ?? 1);
  for (const c of candidates) c.run();
  await rt.sync();
  let best = first.name;
  let bestTime = Infinity;
  for (const c of candidates) {
    for (let r = 0; r < repeats; r++) {
      const t = await measure(rt, c.run);
      if (t < bestTime) {
        bestTime = t;
        best = c.name;
      }
    }
  }
  known.set(key, best);
  await persist(key, best);
  return best;
}

/** Seconds one run takes. */
async function measure(rt: Runtime, run: () => void): Promise<number> {
  if (rt.ctx.features['timestamp-query']) {
    rt.beginProfiling();
    try {
      run();
    } finally {
      rt.flush();
    }
    const timings = await rt.endProfiling();
    return timings.reduce((sum, t) => sum + t.ns, 0) / 1e9;
  }
  await rt.sync();
  const start = performance.now();
  run();
  await rt.sync();
  return (performance.now() - start) / 1000;
}

async function store(): Promise<Map<string, string>> {
  if (winners) return winners;
  loading ??= readStore().then((m) => (winners = m));
  return loading;
}

async function readStore(): Promise<Map<string, string>> {
  try {
    const text = isNode ? await readCacheFile() : globalThis.localStorage?.getItem(STORAGE_KEY);
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (parsed && typeof parsed === 'object') {
      return new Map(Object.entries(parsed as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
    }
  } catch {
    // A missing or corrupt store only means measuring again.
  }
  return new Map();
}

async function persist(key: string, name: string): Promise<void> {
  try {
    if (isNode) {
      // Merge with what other processes stored since we read the file.
      const merged = { ...JSON.parse((await readCacheFile()) ?? '{}'), [key]: name };
      await writeCacheFile(JSON.stringify(merged, null, 1));
    } else {
      const merged = { ...JSON.parse(globalThis.localStorage?.getItem(STORAGE_KEY) ?? '{}'), [key]: name };
      globalThis.localStorage?.setItem(STORAGE_KEY, JSON.stringify(merged));
    }
  } catch {
    // Persisting is an optimisation; the winner stays in memory for this process.
  }
}

async function cachePath(): Promise<string> {
  const explicit = process.env.SYNTHE_AUTOTUNE_CACHE;
  if (explicit) return explicit;
  const [{ homedir }, { join }] = await Promise.all([import('node:os'), import('node:path')]);
  return join(homedir(), '.cache', 'synthe', 'autotune.json');
}

async function readCacheFile(): Promise<string | null> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(await cachePath(), 'utf8');
  } catch {
    return null;
  }
}

async function writeCacheFile(text: string): Promise<void> {
  const [{ mkdir, rename, writeFile }, { dirname }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  const path = await cachePath();
  await mkdir(dirname(path), { recursive: true });
  // Write then rename, so a concurrent reader never sees half a file.
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}
