import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createEngine, type Engine } from '../engine';
import { openSafetensors, writeSafetensors, type SafetensorsFile } from '../io/safetensors';
import { Tensor } from '../tensor/tensor';
import { UsageError } from './errors';
import { camelCase, OP_SIGNATURES, type Param } from './op-signatures';

const HELP = `usage: synthe op NAME --input in.safetensors --output out.safetensors [--args JSON] [--adapter NAME]

Runs engine.ops.NAME. Tensor arguments come from the input file by their PyTorch parameter names
(input, other, weight, bias, query, key, value, attn_mask, running_mean, …); other arguments come
from --args as a JSON object with PyTorch's names, e.g. '{"stride": 2, "padding": 1}'.
The result is written to the output file as 'output'.`;

/** `synthe op NAME --input F --output F [--args JSON]` */
export async function op(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      input: { type: 'string' },
      output: { type: 'string' },
      args: { type: 'string' },
      adapter: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(`${HELP}\n\nops: ${Object.keys(OP_SIGNATURES).join(', ')}`);
    return;
  }
  const [name] = positionals;
  if (!name || positionals.length > 1) throw new UsageError('op takes exactly one op name; see synthe op --help');
  const signature = OP_SIGNATURES[name];
  if (!signature) throw new UsageError(`unknown op '${name}'; ops: ${Object.keys(OP_SIGNATURES).join(', ')}`);
  if (!values.input) throw new UsageError('--input FILE.safetensors is required');
  if (!values.output) throw new UsageError('--output FILE.safetensors is required');
  const json = parseJsonArgs(values.args);
  const file = await openSafetensors(values.input);
  const engine = await createEngine(values.adapter ? { adapter: values.adapter } : {});
  try {
    const fn = (engine.ops as unknown as Record<string, ((...a: unknown[]) => Tensor) | undefined>)[name];
    if (!fn) throw new UsageError(`op '${name}' is not available in this build`);
    const positional = await resolveArguments(engine, file, signature, json, name);
    const result = fn(...positional);
    const data = await result.read();
    await writeFile(values.output, writeSafetensors({ output: { dtype: 'F32', shape: [...result.shape], data } }, { op: name }));
    console.log(`output [${result.shape.join(', ')}] written to ${values.output}`);
  } finally {
    engine.dispose();
    await file.close();
  }
}

function parseJsonArgs(text: string | undefined): Record<string, unknown> {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--args is not valid JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--args must be a JSON object');
  return parsed as Record<string, unknown>;
}

async function resolveArguments(engine: Engine, file: SafetensorsFile, signature: Param[], json: Record<string, unknown>, op: string): Promise<unknown[]> {
  const used = new Set<string>();
  const load = async (name: string) => {
    const info = file.info(name);
    return engine.tensor(await file.float32(name), info.shape);
  };
  const out: unknown[] = [];
  for (const p of signature) {
    switch (p.kind) {
      case 'tensor':
        if (file.has(p.name)) out.push(await load(p.name));
        else if (p.optional) out.push(undefined);
        else throw new UsageError(`${op}: the input file has no tensor '${p.name}'`);
        break;
      case 'tensor-or-number':
        if (file.has(p.name)) out.push(await load(p.name));
        else if (typeof json[p.name] === 'number') out.push(json[p.name]), used.add(p.name);
        else throw new UsageError(`${op}: '${p.name}' must be a tensor in the input file or a number in --args`);
        break;
      case 'tensors': {
        const names = file.names().filter((n) => n.startsWith(`${p.name}.`)).sort((a, b) => Number(a.slice(p.name.length + 1)) - Number(b.slice(p.name.length + 1)));
        if (names.length === 0) throw new UsageError(`${op}: the input file has no tensors '${p.name}.0', '${p.name}.1', …`);
        out.push(await Promise.all(names.map(load)));
        break;
      }
      case 'value':
        if (p.name in json) out.push(json[p.name]), used.add(p.name);
        else if (p.optional) out.push(undefined);
        else throw new UsageError(`${op}: --args needs '${p.name}'`);
        break;
      case 'options': {
        const opts: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(json)) if (!used.has(key)) opts[camelCase(key)] = value, used.add(key);
        for (const name of p.tensors ?? []) if (file.has(name)) opts[camelCase(name)] = await load(name);
        out.push(opts);
        break;
      }
      default:
        p satisfies never;
    }
  }
  const unused = Object.keys(json).filter((k) => !used.has(k));
  if (unused.length) throw new UsageError(`${op}: unknown argument(s) ${unused.join(', ')}`);
  while (out.length && out[out.length - 1] === undefined) out.pop();
  return out;
}
