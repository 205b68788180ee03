/**
 * The variant names an op family exports (`MATMUL_VARIANTS`, `CONV2D_VARIANTS`, ...), found by export name in
 * src/kernels/ so the harness follows the kernels as they change and keeps no list of its own.
 */
const kernelModules: Record<string, Record<string, unknown>> = import.meta.glob('../src/kernels/*.ts', { eager: true });

/** Names in the export `name` of any kernel module (an array of names or an object keyed by name); [] if none. */
export function exportedNames(name: string): string[] {
  for (const mod of Object.values(kernelModules)) {
    const value = mod[name];
    if (Array.isArray(value)) return value.map(String);
    if (value && typeof value === 'object') return Object.keys(value);
  }
  return [];
}
