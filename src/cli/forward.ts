import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createEngine } from '../engine';
import { openSafetensors, writeSafetensors } from '../io/safetensors';
import type { Architecture } from '../models/recognize';
import type { Tensor } from '../tensor/tensor';
import { UsageError } from './errors';
import { resolveModel } from './models';

const HELP = `usage: synthe forward --model FILE|DIR [--arch NAME] [--config config.json] [--part NAME]
                      --input in.safetensors --output out.safetensors [--adapter NAME]

Runs a model on the named tensors of the input file (e.g. 'latent', 'input') and writes its named outputs.
DIR is a diffusers model folder (config.json and diffusion_pytorch_model.safetensors); --part runs one part
of a model on its own, e.g. 'encode' or 'decode' of an AutoencoderKL.`;

/** `synthe forward`: one forward pass on tensors from a file, for parity checks against PyTorch. */
export async function forward(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      arch: { type: 'string' },
      config: { type: 'string' },
      input: { type: 'string' },
      output: { type: 'string' },
      part: { type: 'string' },
      adapter: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return void console.log(HELP);
  if (!values.model) throw new UsageError('--model FILE is required');
  if (!values.input) throw new UsageError('--input FILE.safetensors is required');
  if (!values.output) throw new UsageError('--output FILE.safetensors is required');
  const config = values.config ? await readConfig(values.config) : undefined;
  const inputs = await openSafetensors(values.input);
  const engine = await createEngine(values.adapter ? { adapter: values.adapter } : {});
  try {
    const model = await engine.loadModel(resolveModel(values.model), {
      ...(values.arch ? { arch: values.arch as Architecture } : {}),
      ...(config ? { config } : {}),
    });
    const part = values.part;
    const runner = part === undefined ? model : model.parts?.[part];
    if (!runner) throw new UsageError(`this ${model.arch} model has no part '${part}' (parts: ${Object.keys(model.parts ?? {}).join(', ') || 'none'})`);
    const what = `this ${model.arch} model${part === undefined ? '' : `'s ${part}`}`;
    const missing = runner.inputNames.filter((n) => !inputs.has(n));
    if (missing.length) throw new UsageError(`the input file lacks ${missing.map((n) => `'${n}'`).join(', ')} (${what} takes ${runner.inputNames.join(', ')})`);
    const feed: Record<string, Tensor> = {};
    for (const name of runner.inputNames) feed[name] = engine.tensor(await inputs.float32(name), inputs.info(name).shape);
    const outputs = runner.forward(feed);
    const tensors: Record<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array }> = {};
    for (const [name, t] of Object.entries(outputs)) tensors[name] = { dtype: 'F32', shape: t.shape, data: await t.read() };
    await writeFile(values.output, writeSafetensors(tensors, { model: values.model, arch: model.arch, ...(part === undefined ? {} : { part }) }));
    console.log(`${Object.keys(tensors).join(', ')} written to ${values.output}`);
    model.dispose();
  } finally {
    engine.dispose();
    await inputs.close();
  }
}

async function readConfig(path: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--config ${path}: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`--config ${path} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}
