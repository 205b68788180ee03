/**
 * Reads test/reference/torch_fixtures.json: inputs and PyTorch outputs written by
 * test/reference/torch_fixtures.py (torch 1.13, CPU, float32). Case names are `family/variant`.
 */
import { readFileSync } from 'node:fs';
import type { CpuTensor } from '../reference/tensor';

interface FixtureFile {
  tensors: Record<string, { shape: number[]; data: (number | string)[] }>;
  cases: Record<string, { inputs: Record<string, string>; params: Record<string, unknown>; output: string }>;
}

/** One recorded case: named input tensors, the op's parameters and torch's output. */
export interface TorchCase {
  name: string;
  inputs: Record<string, CpuTensor>;
  params: Record<string, unknown>;
  expected: CpuTensor;
}

let file: FixtureFile | null = null;

function load(): FixtureFile {
  file ??= JSON.parse(readFileSync(new URL('../reference/torch_fixtures.json', import.meta.url), 'utf8')) as FixtureFile;
  return file;
}

function tensor(id: string): CpuTensor {
  const t = load().tensors[id];
  if (!t) throw new Error(`torch fixtures: no tensor ${id}`);
  // Non-finite values are stored as the strings "NaN", "Infinity", "-Infinity".
  return { shape: t.shape, data: Float32Array.from(t.data, (v) => (typeof v === 'string' ? Number(v) : v)) };
}

/** The case called `name` (e.g. `'sdpa/causal'`). */
export function torchCase(name: string): TorchCase {
  const c = load().cases[name];
  if (!c) throw new Error(`torch fixtures: no case ${name}`);
  const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, id]) => [k, tensor(id)]));
  return { name, inputs, params: c.params, expected: tensor(c.output) };
}

/** Every case of a family (names starting with `family/`), in file order. */
export function torchCases(family: string): TorchCase[] {
  const names = Object.keys(load().cases).filter((n) => n.startsWith(`${family}/`));
  if (names.length === 0) throw new Error(`torch fixtures: no cases for ${family}`);
  return names.map(torchCase);
}
