/**
 * The workload registry, in the order they run. Sizes follow the layers synthe's models spend their time in:
 * the conv set is the one from the convolution issue (3×3 at two resolutions, strided, 1×1, depthwise, and
 * the two transposed convolutions generators upsample with).
 */
import { attentionWorkload } from './attention';
import { conv2dWorkload, convTranspose2dWorkload } from './conv';
import { addWorkload } from './elementwise';
import { matmulWorkload } from './matmul';
import { groupNormWorkload } from './norm';
import type { Workload } from './types';

export const WORKLOADS: readonly Workload[] = [
  matmulWorkload(512, 512, 512),
  addWorkload(4 * 2 ** 20),
  conv2dWorkload({ cin: 64, cout: 64, size: 64, k: 3, padding: 1 }),
  conv2dWorkload({ cin: 64, cout: 64, size: 128, k: 3, padding: 1 }),
  conv2dWorkload({ cin: 64, cout: 128, size: 128, k: 3, stride: 2, padding: 1 }),
  conv2dWorkload({ cin: 256, cout: 64, size: 64, k: 1 }),
  conv2dWorkload({ cin: 128, cout: 128, size: 64, k: 3, padding: 1, groups: 128 }),
  convTranspose2dWorkload({ cin: 128, cout: 64, size: 16, k: 4, stride: 2, padding: 1 }),
  convTranspose2dWorkload({ cin: 64, cout: 32, size: 32, k: 3, stride: 2, padding: 1, outputPadding: 1 }),
  attentionWorkload({ batch: 1, heads: 4, lq: 256, d: 32 }),
  attentionWorkload({ batch: 1, heads: 8, lq: 1024, d: 40 }),
  attentionWorkload({ batch: 1, heads: 8, lq: 4096, lk: 77, d: 40 }),
  attentionWorkload({ batch: 1, heads: 8, lq: 4096, d: 40 }),
  groupNormWorkload({ groups: 32, channels: 320, size: 64 }),
];

/**
 * Workloads matching any of the filters (case-insensitive substrings of the name or a tag); all when there
 * are none.
 */
export function selectWorkloads(filters: readonly string[]): Workload[] {
  if (filters.length === 0) return [...WORKLOADS];
  const wanted = filters.map((f) => f.toLowerCase());
  return WORKLOADS.filter((w) => wanted.some((f) => w.name.toLowerCase().includes(f) || w.tags.some((t) => t.toLowerCase().includes(f))));
}
