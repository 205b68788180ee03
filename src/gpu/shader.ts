/** A WGSL file from shaders/, inlined at build time through a `?raw` import. */
export interface Shader {
  /** The file name, for error messages and pipeline keys. */
  name: string;
  code: string;
}

/** Names a shader source; `name` should be the file name so errors point at the file. */
export function shader(name: string, code: string): Shader {
  return { name, code };
}
