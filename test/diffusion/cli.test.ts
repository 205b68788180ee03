/**
 * `synthe generate` on a diffusers folder, as a user runs it (the built dist/cli.js): PNGs with their
 * parameters in text chunks, progress on stderr, images that depend on the seed and index only, and one-line
 * errors for bad arguments.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, pngText } from '../../src/io/image';
import { CLI, errorLines, synthe } from '../cli-run';

const TINY = join(process.cwd(), 'weights/diffusion/tiny/unet2d');

describe('synthe generate (diffusion)', () => {
  let dir = '';
  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build:lib` first (npm test does)');
    if (!existsSync(TINY)) throw new Error(`${TINY} is missing`);
    dir = await mkdtemp(join(tmpdir(), 'synthe-diffusion-cli-'));
  });

  const pixels = async (path: string) => decodeImage(await readFile(path)).data;

  it('writes PNGs with their parameters, a contact sheet, and progress on stderr', async () => {
    const out = join(dir, 'run');
    const grid = join(dir, 'grid.png');
    const args = ['--model', TINY, '--class', '3', '--steps', '3', '--scheduler', 'ddim', '--guidance', '2', '--count', '3', '--seed', '5'];
    const { code, stdout, stderr } = await synthe('generate', ...args, '--out', out, '--grid', grid);
    expect(errorLines(stderr)).toEqual([]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/3 image\(s\) written/);
    expect(stderr.split('\n').filter((l) => /^step \d+\/3 /.test(l))).toHaveLength(3);
    expect((await readdir(out)).sort()).toEqual(['0000.png', '0001.png', '0002.png']);
    const text = pngText(await readFile(join(out, '0001.png')));
    expect(JSON.parse(text.Parameters!)).toEqual({ model: TINY, seed: 5, index: 1, steps: 3, scheduler: 'DDIMScheduler', guidance: 2, class: 3 });
    expect(existsSync(grid)).toBe(true);

    // Image i depends on (seed, i) only: a run of one image reproduces the first.
    const single = join(dir, 'single');
    expect((await synthe('generate', ...args.slice(0, -4), '--count', '1', '--seed', '5', '--out', single)).code).toBe(0);
    expect(await pixels(join(single, '0000.png'))).toEqual(await pixels(join(out, '0000.png')));
    expect(await pixels(join(out, '0001.png'))).not.toEqual(await pixels(join(out, '0000.png')));
  });

  it.each([
    [['--scheduler', 'plms'], /--scheduler must be one of ddpm, ddim, euler, euler-a, dpm\+\+2m, lcm/],
    [['--scheduler', 'ddim', '--class', '999'], /class label 999 is outside 0\.\.4/],
    [['--class', '1'], /has no scheduler_config\.json: pass --scheduler/],
    [['--steps', '0'], /--steps must be an integer/],
    [['--interpolate', '4'], /--interpolate is for GAN generators/],
  ])('refuses %j in one line', async (extra, message) => {
    const { code, stderr } = await synthe('generate', '--model', TINY, '--out', join(dir, 'bad'), ...extra);
    expect(code).toBe(1);
    expect(errorLines(stderr)).toEqual([expect.stringMatching(message)]);
  });

  it('refuses diffusion flags for a GAN', async () => {
    const { code, stderr } = await synthe('generate', '--model', 'dcgan-mnist', '--class', '3', '--out', join(dir, 'gan'));
    expect(code).toBe(1);
    expect(errorLines(stderr)).toEqual([expect.stringMatching(/--class is for diffusion models/)]);
  });
});
