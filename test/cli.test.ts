/**
 * The CLI as a user runs it: the built `dist/cli.js` (npm test builds it first), one process per call.
 * Every malformed input must give one line on stderr and exit code 1, never a stack trace.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors, writeSafetensors } from '../src/io/safetensors';
import { CLI, errorLines, synthe } from './cli-run';

function header(json: unknown, extra = 0): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(8 + text.length + extra);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return out;
}

const MALFORMED: [string, Uint8Array, RegExp][] = [
  ['empty file', new Uint8Array(0), /0 bytes, shorter than the 8-byte header length/],
  ['header longer than the file', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(), /header/i],
  ['header claiming a terabyte', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; })(), /header/i],
  ['header that is not JSON', (() => { const b = new Uint8Array(12); new DataView(b.buffer).setBigUint64(0, 4n, true); b.set([123, 123, 123, 123], 8); return b; })(), /JSON/i],
  ['header that is a JSON array', header([1, 2]), /object/i],
  ['unknown dtype', header({ w: { dtype: 'F128', shape: [1], data_offsets: [0, 4] } }, 4), /w.*dtype|dtype.*w/i],
  ['negative shape', header({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /w.*shape|shape.*w/i],
  ['size mismatch', header({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4), /w/],
  ['range past the end', header({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 4), /w/],
  ['overlapping tensors', header({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /overlap/i],
  ['missing data_offsets', header({ w: { dtype: 'F32', shape: [1] } }, 4), /w.*data_offsets|data_offsets.*w/i],
  ['metadata that is not strings', header({ __metadata__: { a: 1 } }), /metadata/i],
];

describe('synthe CLI', () => {
  let dir = '';
  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build:lib` first (npm test does)');
    dir = await mkdtemp(join(tmpdir(), 'synthe-cli-'));
  });

  it('prints usage and rejects unknown commands in one line', async () => {
    expect((await synthe('--help')).stdout).toMatch(/usage: synthe/);
    const bad = await synthe('frobnicate');
    expect(bad.code).toBe(1);
    expect(errorLines(bad.stderr)).toEqual([expect.stringMatching(/^synthe: unknown command 'frobnicate'/)]);
  });

  it('info reports the adapter and its limits', async () => {
    const { code, stdout } = await synthe('info', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  it('inspect lists tensors, totals and the architecture', async () => {
    const { code, stdout } = await synthe('inspect', 'weights/dcgan-mnist.safetensors');
    expect(code).toBe(0);
    expect(stdout).toMatch(/net\.0\.weight\s+F32\s+\[100, 128, 7, 7\]/);
    expect(stdout).toMatch(/architecture: dcgan/);
    expect(stdout).toMatch(/\d[\d,]* parameters/);
  });

  it.each(MALFORMED)('inspect gives one line and exit 1 for %s', async (name, bytes, pattern) => {
    const path = join(dir, `${name.replace(/\W+/g, '-')}.safetensors`);
    await writeFile(path, bytes);
    const { code, stderr } = await synthe('inspect', path);
    expect(code).toBe(1);
    const lines = errorLines(stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^synthe: /);
    expect(lines[0]).toMatch(pattern);
  });

  it('inspect of a missing file says so', async () => {
    const { code, stderr } = await synthe('inspect', join(dir, 'nope.safetensors'));
    expect(code).toBe(1);
    expect(errorLines(stderr)).toEqual([expect.stringMatching(/nope\.safetensors/)]);
  });

  it('op runs an engine op on named tensors and writes output', async () => {
    const input = join(dir, 'op-in.safetensors');
    const output = join(dir, 'op-out.safetensors');
    await writeFile(input, writeSafetensors({ input: { dtype: 'F32', shape: [2, 3], data: new Float32Array([-1, 2, -3, 4, -5, 6]) } }));
    const { code } = await synthe('op', 'leakyRelu', '--input', input, '--output', output, '--args', '{"negative_slope": 0.5}');
    expect(code).toBe(0);
    const file = await openSafetensors(output);
    expect(file.info('output').shape).toEqual([2, 3]);
    expect(Array.from(await file.float32('output'))).toEqual([-0.5, 2, -1.5, 4, -2.5, 6]);
    await file.close();
  });

  it('op reports bad arguments in one line', async () => {
    const input = join(dir, 'op-in2.safetensors');
    await writeFile(input, writeSafetensors({ input: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } }));
    const out = join(dir, 'x.safetensors');
    for (const args of [
      ['op', 'nosuchop', '--input', input, '--output', out],
      ['op', 'add', '--input', input, '--output', out],
      ['op', 'relu', '--input', input, '--output', out, '--args', '{oops'],
      ['op', 'relu', '--input', input, '--output', out, '--args', '{"bogus": 1}'],
      ['op', 'relu', '--output', out],
      ['op', 'relu', '--input', input, '--output', out, '--nope'],
    ]) {
      const { code, stderr } = await synthe(...args);
      expect(code, args.join(' ')).toBe(1);
      expect(errorLines(stderr), args.join(' ')).toHaveLength(1);
    }
  });
});
