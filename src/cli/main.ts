#!/usr/bin/env node
/**
 * The `synthe` command. Every failure the user can cause (a bad file, a bad argument, no adapter) is printed
 * as one line and exits with code 1; a stack trace means a bug in synthe.
 */
import { SyntheError } from '../errors';
import { UsageError } from './errors';
import { forward } from './forward';
import { generate } from './generate';
import { info } from './info';
import { inspect } from './inspect';
import { op } from './op';
import { upscale } from './upscale';

const COMMANDS: Record<string, { run: (args: string[]) => Promise<void>; summary: string }> = {
  info: { run: info, summary: 'show the WebGPU adapter, driver, features and limits' },
  inspect: { run: inspect, summary: 'list the tensors of a safetensors file and recognise its architecture' },
  op: { run: op, summary: 'run one engine op on tensors from a safetensors file (parity checks)' },
  generate: { run: generate, summary: 'sample images from a GAN generator or a diffusion model (dcgan-mnist, ddpm-mnist, …)' },
  upscale: { run: upscale, summary: 'upscale a PNG or JPEG with a super-resolution model, in tiles' },
  forward: { run: forward, summary: 'run a model on tensors from a safetensors file and write its outputs' },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return ['usage: synthe <command> [options]', '', 'commands:', ...rows, '', 'Run `synthe <command> --help` for its options.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command '${name}'; commands: ${Object.keys(COMMANDS).join(', ')}`);
  await command.run(rest);
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const known = error instanceof SyntheError || error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  if (!known) throw error;
  console.error(`synthe: ${(error as Error).message.split('\n')[0]}`);
  process.exitCode = 1;
}
// A live Dawn device keeps the process running; commands are done here.
process.exit(process.exitCode ?? 0);
