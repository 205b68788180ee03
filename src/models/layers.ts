/**
 * Layers that several architectures load the same way: a PyTorch `nn.Conv2d` (`<name>.weight` (O, I, K, K),
 * `<name>.bias` (O)) checked against the shape the architecture expects and packed once for `conv2dPacked`,
 * and the list of keys a loader will read, checked before anything is uploaded so that every missing key is
 * named in one error; and the small helpers their config inference shares.
 */
import { SyntheError } from '../errors';
import type { PixelRange } from '../io/image';
import { packConv2dWeight, type PackedConv2d } from '../kernels/conv2d';
import type { Checkpoint } from './checkpoint';

/** What a conv layer's weight must look like; an omitted count is taken from the checkpoint. */
export interface ConvShape {
  in?: number;
  out?: number;
  /** Square, odd kernel; default 3. Padded by (K − 1) / 2, so the layer keeps the size (`padding=1` for 3×3). */
  kernel?: number;
}

/**
 * Records every key of `layers` that the checkpoint lacks (`<name>.weight`, `<name>.bias`, and any extra key
 * names given), so the first load that meets one throws a CheckpointError naming all of them.
 */
export function expectKeys(ckpt: Checkpoint, layers: readonly string[], extra: readonly string[] = []): void {
  for (const name of layers) {
    ckpt.shape(`${name}.weight`);
    ckpt.shape(`${name}.bias`);
  }
  for (const name of extra) ckpt.shape(name);
}

/** Loads and packs the conv layer `name` ('same' padding, stride 1). */
export async function loadConv2d(ckpt: Checkpoint, name: string, expect: ConvShape = {}): Promise<PackedConv2d> {
  const [o, i] = ckpt.requireShape(`${name}.weight`, 4) as [number, number, number, number];
  const k = expect.kernel ?? 3;
  const shape = [expect.out ?? o, expect.in ?? i, k, k];
  const weight = await ckpt.tensor(`${name}.weight`, shape);
  try {
    const bias = await ckpt.tensor(`${name}.bias`, [shape[0]!]);
    try {
      return packConv2dWeight(ckpt.engine.runtime, weight, { bias, padding: (k - 1) / 2 });
    } finally {
      bias.dispose();
    }
  } finally {
    weight.dispose();
  }
}

/** The largest index the pattern's first group captures among the checkpoint's keys, or −1. */
export function largestIndex(ckpt: Checkpoint, pattern: RegExp): number {
  let largest = -1;
  for (const name of ckpt.names()) {
    const m = pattern.exec(name);
    if (m) largest = Math.max(largest, Number(m[1]));
  }
  return largest;
}

const PIXEL_RANGES: readonly PixelRange[] = ['0-1', '0-255', '-1-1'];

/** `config.pixelRange` when given (one of the image module's ranges), else `fallback`. */
export function pixelRangeOption(ckpt: Checkpoint, config: Record<string, unknown>, fallback: PixelRange): PixelRange {
  const value = config.pixelRange ?? fallback;
  if (!PIXEL_RANGES.includes(value as PixelRange)) {
    throw new SyntheError(`${ckpt.label}: config.pixelRange must be one of ${PIXEL_RANGES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as PixelRange;
}
