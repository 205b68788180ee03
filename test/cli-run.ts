/** Runs the built CLI (`dist/cli.js`, which npm test builds first) as a user would: one process per call. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const CLI = join(process.cwd(), 'dist/cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function synthe(...args: string[]): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build:lib` first (npm test does)');
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 300_000, maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** stderr without Dawn's harmless driver warnings and without progress lines. */
export const errorLines = (stderr: string) =>
  stderr.split(/[\n\r]/).filter((l) => l.trim() && !/^Warning: |XDG_RUNTIME_DIR|^tile \d+\/\d+|^step \d+\/\d+/.test(l));
