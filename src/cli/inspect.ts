import { parseArgs } from 'node:util';
import { openSafetensors } from '../io/safetensors';
import { recognizeArchitecture } from '../models/recognize';
import { UsageError } from './errors';

/** `synthe inspect FILE [--json]`: one row per tensor, totals, and the recognised architecture. */
export async function inspect(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log('usage: synthe inspect FILE.safetensors|INDEX.safetensors.index.json|URL [--json]');
    return;
  }
  if (positionals.length !== 1) throw new UsageError('inspect takes exactly one file');
  const file = await openSafetensors(positionals[0]!);
  try {
    const rows = file.names().map((name) => file.info(name));
    const params = rows.reduce((n, r) => n + r.shape.reduce((p, d) => p * d, 1), 0);
    const bytes = rows.reduce((n, r) => n + r.byteLength, 0);
    const arch = recognizeArchitecture(file.names(), file.metadata);
    if (values.json) {
      console.log(JSON.stringify({ tensors: rows, parameters: params, bytes, architecture: arch?.arch ?? null, metadata: Object.fromEntries(Object.entries(file.metadata)) }, null, 2));
      return;
    }
    const width = Math.min(72, Math.max(4, ...rows.map((r) => r.name.length)));
    for (const r of rows) console.log(`${r.name.padEnd(width)}  ${r.dtype.padEnd(4)}  [${r.shape.join(', ')}]`);
    console.log(`${rows.length} tensors, ${params.toLocaleString('en-US')} parameters, ${bytes.toLocaleString('en-US')} bytes`);
    console.log(`architecture: ${arch ? `${arch.arch} (${arch.description})` : 'not recognised'}`);
  } finally {
    await file.close();
  }
}
