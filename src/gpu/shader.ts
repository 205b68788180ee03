/**
 * Kernels are WGSL files in shaders/, inlined at build time through `?raw` imports. They share code through
 * two directives written as WGSL comments (`//!`), so every file stays WGSL and no text is templated:
 *
 *   //! import "lib/grid.wgsl"      (a line of its own) the library file's code follows here; a file is
 *                                   included once per kernel however often it is imported, and library files
 *                                   may import each other. Paths are relative to shaders/.
 *   alias elem = f32;  //! elem     an alias an element-type variant retypes: `shader(name, code, {elem: 'f16'})`
 *                                   turns each marked alias's f32 into f16 and enables f16; what the kernel
 *                                   computes in f32 (accumulators, softmax) it writes as f32, not as `elem`.
 *
 * The compiler and wgsl_reflect see the composed code (so layouts still come from reflection), and `origin`
 * maps its lines back to the files for error messages. Library files are bundled (vite inlines them as strings)
 * rather than read from disk, so composition works the same in browsers, Node and the library bundle.
 */
import { ShaderError } from '../errors';

/** The files kernels may import, by their path under shaders/ ('lib/grid.wgsl'): every file of shaders/lib. */
const LIBRARY: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(import.meta.glob<string>('../../shaders/lib/*.wgsl', { query: '?raw', import: 'default', eager: true })).map(
    ([path, code]) => [path.replace('../../shaders/', ''), code],
  ),
);

/** The storage element type of a kernel variant: the file as written (f32), or its marked aliases as f16. */
export type ElementType = 'f32' | 'f16';

/** A kernel as compiled: a file from shaders/ with its imports resolved and its variant applied. */
export interface Shader {
  /** The kernel's file name. */
  name: string;
  elem: ElementType;
  /** The shader's identity in pipeline keys and labels: the name, plus `[f16]` for the f16 variant. */
  id: string;
  /** The composed WGSL. */
  code: string;
  /** Where line `line` (1-based) of `code` comes from, as `file:line`. */
  origin(line: number): string;
}

export interface ShaderOptions {
  /** Element-type variant; default 'f32' (the file as written). */
  elem?: ElementType;
}

interface SourceLine {
  file: string;
  /** 1-based; 0 for a line the variant adds. */
  line: number;
}

const DIRECTIVE = /\/\/!\s*(.*?)\s*$/;
const IMPORT = /^import\s+"([^"]+)"$/;
const ELEM_ALIAS = /^(\s*alias\s+\w+\s*=\s*)([^;]*\bf32\b[^;]*)(;.*)$/;

/** Composes kernel `name` (its source text) into the code that is compiled; see the file comment. */
export function shader(name: string, source: string, options: ShaderOptions = {}): Shader {
  const elem = options.elem ?? 'f32';
  const lines: string[] = [];
  const origins: SourceLine[] = [];
  if (elem !== 'f32') {
    lines.push(`enable ${elem};`);
    origins.push({ file: name, line: 0 });
  }
  const included = new Set<string>();
  let marked = 0;
  const include = (file: string, text: string) => {
    included.add(file);
    text.split('\n').forEach((line, i) => {
      const at = `${file}:${i + 1}`;
      const directive = DIRECTIVE.exec(line)?.[1];
      const imported = directive === undefined ? undefined : IMPORT.exec(directive)?.[1];
      lines.push(directive === 'elem' ? retype(line, elem, at) : line);
      origins.push({ file, line: i + 1 });
      if (directive === 'elem') {
        marked++;
      } else if (directive !== undefined && imported === undefined) {
        throw new ShaderError(`${at}: unknown directive '//! ${directive}' (there are '//! import "lib/<file>.wgsl"' and '//! elem')`);
      } else if (imported !== undefined) {
        if (!line.trimStart().startsWith('//!')) throw new ShaderError(`${at}: an import must be a line of its own`);
        if (!included.has(imported)) include(imported, library(imported, at));
      }
    });
  };
  include(name, source);
  if (elem !== 'f32' && marked === 0) {
    throw new ShaderError(`shader '${name}' has no '//! elem' alias, so it has no ${elem} variant`);
  }
  const id = elem === 'f32' ? name : `${name}[${elem}]`;
  return {
    name,
    elem,
    id,
    code: lines.join('\n'),
    origin(line) {
      const o = origins[line - 1];
      if (!o) return `${id}:${line}`;
      return o.line === 0 ? `${id} (variant header)` : `${o.file}:${o.line}`;
    },
  };
}

function library(path: string, at: string): string {
  const code = LIBRARY[path];
  if (code === undefined) throw new ShaderError(`${at}: unknown import "${path}" (known: ${Object.keys(LIBRARY).join(', ')})`);
  return code;
}

/** A `//! elem` line with its alias's f32 replaced by the variant's element type. */
function retype(line: string, elem: ElementType, at: string): string {
  const alias = ELEM_ALIAS.exec(line);
  if (!alias) throw new ShaderError(`${at}: '//! elem' marks a line 'alias <name> = <f32 type>;', not '${line.trim()}'`);
  return `${alias[1]}${alias[2]!.replace(/\bf32\b/g, elem)}${alias[3]}`;
}
