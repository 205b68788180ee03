/** Puts the latest report into README.md between `<!-- bench:start -->` and `<!-- bench:end -->`. */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

/** Replaces what lies between the markers; leaves the file alone (and says so) when they are missing. */
export async function spliceReadme(path: string, markdown: string): Promise<string> {
  if (!existsSync(path)) return `${path} does not exist; nothing spliced`;
  const text = await readFile(path, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END, start + START.length);
  if (start < 0 || end < 0) return `${path} has no ${START} … ${END} markers; nothing spliced`;
  await writeFile(path, `${text.slice(0, start + START.length)}\n${markdown.trimEnd()}\n${text.slice(end)}`);
  return `spliced the benchmark report into ${path}`;
}
