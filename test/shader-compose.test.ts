/**
 * The WGSL composition mechanism (src/gpu/shader.ts): `//! import` resolution, `//! elem` variants, the line
 * map used by error messages, and reflection on the composed code.
 */
import { describe, expect, it } from 'vitest';
import attentionCode from '../shaders/attention.wgsl?raw';
import { ShaderError } from '../src/errors';
import { reflectShader } from '../src/gpu/reflect';
import { shader } from '../src/gpu/shader';
import { describeEachDevice } from './devices';

const kernels: Record<string, string> = import.meta.glob('../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });
const libraries: Record<string, string> = import.meta.glob('../shaders/lib/*.wgsl', { query: '?raw', import: 'default', eager: true });

const count = (text: string, part: string) => text.split(part).length - 1;

describe('shader composition', () => {
  it('inlines each imported file once, after its directive, libraries importing libraries', () => {
    const source = ['// kernel', '//! import "lib/grid.wgsl"', '//! import "lib/conv.wgsl"', '//! import "lib/grid.wgsl"', 'fn tail() {}'].join('\n');
    const s = shader('k.wgsl', source);
    expect(count(s.code, 'fn workgroup_index(')).toBe(1);
    expect(count(s.code, 'struct Conv {')).toBe(1);
    // lib/conv.wgsl imports lib/conv_epilogue.wgsl, which imports lib/activation.wgsl.
    expect(count(s.code, 'fn finish(')).toBe(1);
    expect(count(s.code, 'fn erf_approx(')).toBe(1);
    const lines = s.code.split('\n');
    expect(lines[0]).toBe('// kernel');
    expect(lines[1]).toBe('//! import "lib/grid.wgsl"');
    expect(lines.at(-1)).toBe('fn tail() {}');
    expect(s.id).toBe('k.wgsl');
  });

  it('maps every composed line back to its file and line', () => {
    const s = shader('k.wgsl', ['//! import "lib/grid.wgsl"', 'fn tail() {}'].join('\n'));
    const lines = s.code.split('\n');
    const grid = libraries['../shaders/lib/grid.wgsl']!.split('\n');
    expect(s.origin(1)).toBe('k.wgsl:1');
    expect(s.origin(2)).toBe('lib/grid.wgsl:1');
    expect(lines[1]).toBe(grid[0]);
    expect(s.origin(grid.length + 1)).toBe(`lib/grid.wgsl:${grid.length}`);
    expect(s.origin(lines.length)).toBe('k.wgsl:2');
  });

  it('imports any file of shaders/lib by its path under shaders/', () => {
    for (const path of Object.keys(libraries)) {
      const name = path.replace('../shaders/', '');
      expect(shader('k.wgsl', `//! import "${name}"`).code).toContain(libraries[path]!.split('\n')[0]);
    }
  });

  it('names the file and line of a bad directive', () => {
    expect(() => shader('k.wgsl', '// a\n//! import "lib/nope.wgsl"')).toThrow(ShaderError);
    expect(() => shader('k.wgsl', '// a\n//! import "lib/nope.wgsl"')).toThrow(/k\.wgsl:2: unknown import "lib\/nope\.wgsl" \(known: .*lib\/grid\.wgsl/);
    expect(() => shader('k.wgsl', 'fn f() {} //! import "lib/grid.wgsl"')).toThrow(/k\.wgsl:1: an import must be a line of its own/);
    expect(() => shader('k.wgsl', '//! include "lib/grid.wgsl"')).toThrow(/k\.wgsl:1: unknown directive/);
    expect(() => shader('k.wgsl', 'const x: f32 = 1.0;  //! elem')).toThrow(/k\.wgsl:1: '\/\/! elem' marks/);
  });

  it('builds the f16 variant from the f32 source: marked aliases only, f16 enabled, its own identity', () => {
    const source = ['// kernel', 'alias elem = f32;         //! elem', 'alias elem4 = vec4<f32>;  //! elem', 'alias acc = f32;', 'var<private> sum: f32;'].join('\n');
    const f32 = shader('k.wgsl', source);
    const f16 = shader('k.wgsl', source, { elem: 'f16' });
    expect(f32.code).toBe(source);
    expect(f16.code.split('\n')).toEqual([
      'enable f16;', '// kernel', 'alias elem = f16;         //! elem', 'alias elem4 = vec4<f16>;  //! elem', 'alias acc = f32;', 'var<private> sum: f32;',
    ]);
    expect([f32.id, f16.id]).toEqual(['k.wgsl', 'k.wgsl[f16]']);
    expect(f16.origin(1)).toBe('k.wgsl[f16] (variant header)');
    expect(f16.origin(3)).toBe('k.wgsl:2');
    expect(() => shader('k.wgsl', '// no alias', { elem: 'f16' })).toThrow(/'k\.wgsl' has no '\/\/! elem' alias/);
  });

  it('reflects the composed code: bindings, uniform and overrides declared in a library', () => {
    for (const elem of ['f32', 'f16'] as const) {
      const info = reflectShader(shader('attention.wgsl', attentionCode, { elem })).get('main')!;
      expect(info.bindings.map((b) => b.name)).toEqual(['params', 'q', 'k', 'v', 'k4', 'v4', 'mask', 'out']);
      expect(info.bindings.map((b) => b.kind)).toEqual(['uniform', ...Array(6).fill('read-only-storage'), 'storage']);
      expect(info.uniform?.fields.get('mask_str')).toMatchObject({ type: 'u32', count: 4 });
      expect([...info.overrides].sort()).toEqual(['ROWS', 'STAGED', 'WORKGROUP']);
    }
  });

  it('reports a parse error at the line of the original file', () => {
    const bad = shader('bad.wgsl', ['//! import "lib/grid.wgsl"', 'fn f( {}'].join('\n'));
    expect(() => reflectShader(bad)).toThrow(/shader 'bad\.wgsl' could not be parsed: .*at bad\.wgsl:2/);
  });

  it('composes and reflects every kernel in shaders/', () => {
    for (const [path, code] of Object.entries(kernels)) {
      const s = shader(path.replace('../shaders/', ''), code);
      expect(reflectShader(s).size, s.name).toBeGreaterThan(0);
    }
  });
});

describeEachDevice('shader composition on a device', (engine) => {
  it('names the original file and line of a compile error', async () => {
    const source = ['//! import "lib/grid.wgsl"', '@compute @workgroup_size(1)', 'fn main(grid: Grid) {', '  let x: u32 = workgroup_index(grid) + 1.5;', '}'].join('\n');
    const pending = engine().runtime.pipelines.prepareAsync(shader('broken.wgsl', source), 'main');
    await expect(pending).rejects.toThrow(ShaderError);
    await expect(pending).rejects.toThrow(/broken\.wgsl:4:\d+: /);
  });

  it('keeps the f32 and f16 variants of one file as distinct pipelines', (ctx) => {
    if (!engine().gpu.features['shader-f16']) ctx.skip();
    const pipelines = engine().runtime.pipelines;
    const f32 = pipelines.get(shader('attention.wgsl', attentionCode), 'main');
    const f16 = pipelines.get(shader('attention.wgsl', attentionCode, { elem: 'f16' }), 'main');
    expect(f32.key).toBe('attention.wgsl:main');
    expect(f16.key).toBe('attention.wgsl[f16]:main');
    expect(f16.pipeline).not.toBe(f32.pipeline);
  });
});
