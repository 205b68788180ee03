/**
 * PyTorch outputs recorded by test/reference/torch_fixtures.py (torch 1.13 CPU, float32), for kernel tests that
 * check the GPU against torch itself as well as against the CPU references.
 */
import { readFileSync } from 'node:fs';
import type { CpuTensor } from '../reference/tensor';

interface EncodedTensor {
  shape: number[];
  /** Non-finite values are the strings "NaN", "Infinity", "-Infinity". */
  data: (number | string)[];
}

interface FixtureFile {
  tensors: Record<string, EncodedTensor>;
  cases: Record<string, { inputs: Record<string, string>; params: Record<string, unknown>; output: string }>;
}

export interface TorchCase {
  name: string;
  inputs: Record<string, CpuTensor>;
  params: Record<string, unknown>;
  expected: CpuTensor;
}

let file: FixtureFile | undefined;

function decode(id: string): CpuTensor {
  const e = file!.tensors[id];
  if (!e) throw new Error(`torch fixture tensor ${id} is missing`);
  return { data: Float32Array.from(e.data, Number), shape: [...e.shape] };
}

/** Every case named `<family>/…`; throws when there is none, so a renamed family cannot pass silently. */
export function torchCases(family: string): TorchCase[] {
  file ??= JSON.parse(readFileSync(new URL('../reference/torch_fixtures.json', import.meta.url), 'utf8')) as FixtureFile;
  const out: TorchCase[] = [];
  for (const [name, c] of Object.entries(file.cases)) {
    if (name.split('/')[0] !== family) continue;
    const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, id]) => [k, decode(id)]));
    out.push({ name, inputs, params: c.params, expected: decode(c.output) });
  }
  if (out.length === 0) throw new Error(`no torch fixtures for '${family}'`);
  return out;
}
