/**
 * ESRGAN's RRDBNet generator, from either of the two key namings its checkpoints are published in:
 *
 * - `esrgan`: the original ESRGAN code (xinntao/ESRGAN `architecture.py`), one flattened nn.Sequential:
 *   `model.0` conv_first, `model.1.sub.<b>.RDB<r>.conv<c>.0` the blocks, `model.1.sub.<nb>` the trunk conv
 *   (the ShortcutBlock adds conv_first's output back), then per ×2 step an (Upsample, conv, LeakyReLU) triple
 *   (convs `model.3`, `model.6`, …), the HR conv + LeakyReLU and the last conv (`model.8`, `model.10` at ×4).
 * - `esrgan-basicsr`: BasicSR / Real-ESRGAN (`rrdbnet_arch.py`): `conv_first`, `body.<b>.rdb<r>.conv<c>`,
 *   `conv_body`, `conv_up1`, `conv_up2`, `conv_hr`, `conv_last`. Its ×2 and ×1 models pixel-unshuffle the
 *   input by 2 and 4 first (conv_first then takes 4 or 16 times the image channels) and still upsample ×4.
 *
 * Both compute, with LeakyReLU(0.2) and 3×3 convolutions:
 *   RDB(x)  = x + 0.2 · conv5(cat(x, x1, x2, x3, x4)), x_k = lrelu(conv_k(cat(x, x1, …, x_{k−1})))
 *   RRDB(x) = x + 0.2 · RDB3(RDB2(RDB1(x)))
 *   feat = conv_first(x); feat += conv_body(RRDB…(feat)); (nearest ×2, conv, lrelu)…; conv_last(lrelu(conv_hr))
 * Hyper-parameters (widths, block count, scale) come from the tensor shapes; `config.numInCh` settles the
 * image channels when conv_first's input channels are ambiguous. Activations, residuals and the 0.2 scalings
 * run in the convolutions' epilogues.
 */
import type { Engine } from '../engine';
import { SyntheError } from '../errors';
import type { PixelRange } from '../io/image';
import { conv2dPacked, type ConvEpilogue, type PackedConv2d } from '../kernels/conv2d';
import type { Tensor } from '../tensor/tensor';
import { type Checkpoint, CheckpointError } from './checkpoint';
import { expectKeys, largestIndex, loadConv2d, pixelRangeOption } from './layers';
import type { Model } from './model';

export type RrdbNaming = 'esrgan' | 'esrgan-basicsr';

/** Hyper-parameters, as BasicSR names its constructor arguments. */
export interface RrdbNetConfig {
  numInCh: number;
  numOutCh: number;
  numFeat: number;
  numGrowCh: number;
  numBlock: number;
  /** Output size / input size. */
  scale: number;
  /** The pixel-unshuffle factor applied to the input (BasicSR ×2: 2, ×1: 4), else 1. */
  unshuffle: number;
  /** The range of the RGB values in and out: ESRGAN models work in 0–1 (`config.pixelRange` overrides). */
  pixelRange: PixelRange;
  /** The widest feature map in channels at the output resolution, for sizing tiles. */
  maxChannels: number;
}

/** The checkpoint prefixes (before `.weight` / `.bias`) of every convolution. */
interface Layout {
  first: string;
  /** [block][rdb][conv] */
  blocks: string[][][];
  trunk: string;
  ups: string[];
  hr: string;
  last: string;
}

/** (the block's 5 convs) × 3 per RRDB. */
type Rrdb = PackedConv2d[][];

interface Weights {
  first: PackedConv2d;
  blocks: Rrdb[];
  trunk: PackedConv2d;
  ups: PackedConv2d[];
  hr: PackedConv2d;
  last: PackedConv2d;
}

const LRELU: ConvEpilogue = { activation: { kind: 'leakyRelu', slope: 0.2 } };
/** The residual scaling of both the dense blocks and the RRDBs. */
const BETA = 0.2;

/** Loads an RRDBNet saved by the original ESRGAN code (`model.0.weight`, `model.1.sub.…`). */
export function loadEsrgan(ckpt: Checkpoint, config: Record<string, unknown>): Promise<Model> {
  return loadRrdbNet(ckpt, config, 'esrgan');
}

/** Loads an RRDBNet saved by BasicSR / Real-ESRGAN (`conv_first.weight`, `body.…`). */
export function loadEsrganBasicsr(ckpt: Checkpoint, config: Record<string, unknown>): Promise<Model> {
  return loadRrdbNet(ckpt, config, 'esrgan-basicsr');
}

async function loadRrdbNet(ckpt: Checkpoint, config: Record<string, unknown>, naming: RrdbNaming): Promise<Model> {
  const layout = naming === 'esrgan' ? originalLayout(ckpt) : basicsrLayout(ckpt);
  expectKeys(ckpt, [layout.first, ...layout.blocks.flat(2), layout.trunk, ...layout.ups, layout.hr, layout.last]);

  const [numFeat, firstIn] = ckpt.requireShape(`${layout.first}.weight`, 4) as [number, number];
  const [numOutCh] = ckpt.requireShape(`${layout.last}.weight`, 4) as [number];
  const numGrowCh = layout.blocks.length > 0 ? ckpt.requireShape(`${layout.blocks[0]![0]![0]!}.weight`, 4)[0]! : 0;
  const { numInCh, unshuffle } = naming === 'esrgan' ? { numInCh: firstIn, unshuffle: 1 } : inputChannels(ckpt, firstIn, numOutCh, config.numInCh);
  const upsampling = 2 ** layout.ups.length;
  if (upsampling < unshuffle) {
    throw new CheckpointError(`${ckpt.label}: ${layout.ups.length} ×2 upsampling step(s) cannot undo the input's pixel-unshuffle by ${unshuffle}`);
  }
  const pixelRange = pixelRangeOption(ckpt, config, '0-1');
  // The dense blocks' concatenations are the widest maps, at 1/upsampling of the output's size per side.
  const maxChannels = Math.max(numFeat, Math.ceil((numFeat + 4 * numGrowCh) / upsampling ** 2));

  const owned: PackedConv2d[] = [];
  const conv = async (name: string, inCh: number, outCh = numFeat) => {
    const layer = await loadConv2d(ckpt, name, { in: inCh, out: outCh });
    owned.push(layer);
    return layer;
  };
  try {
    const first = await conv(layout.first, firstIn);
    const blocks: Rrdb[] = [];
    for (const block of layout.blocks) {
      const rrdb: Rrdb = [];
      for (const rdb of block) {
        const convs: PackedConv2d[] = [];
        for (let c = 0; c < 4; c++) convs.push(await conv(rdb[c]!, numFeat + c * numGrowCh, numGrowCh));
        convs.push(await conv(rdb[4]!, numFeat + 4 * numGrowCh));
        rrdb.push(convs);
      }
      blocks.push(rrdb);
    }
    const trunk = await conv(layout.trunk, numFeat);
    const ups: PackedConv2d[] = [];
    for (const up of layout.ups) ups.push(await conv(up, numFeat));
    const hr = await conv(layout.hr, numFeat);
    const last = await conv(layout.last, numFeat, numOutCh);
    ckpt.finish();
    return new RrdbNet(ckpt.engine, naming, { first, blocks, trunk, ups, hr, last }, owned, {
      numInCh, numOutCh, numFeat, numGrowCh, numBlock: blocks.length, scale: upsampling / unshuffle, unshuffle, pixelRange, maxChannels,
    });
  } catch (error) {
    for (const layer of owned) layer.dispose();
    throw error;
  }
}

/** Conv names for `<n>` blocks of 3 RDBs of 5 convs. */
function blockNames(count: number, name: (b: number, r: number, c: number) => string): string[][][] {
  return Array.from({ length: count }, (_, b) => [1, 2, 3].map((r) => [1, 2, 3, 4, 5].map((c) => name(b, r, c))));
}

function basicsrLayout(ckpt: Checkpoint): Layout {
  return {
    first: 'conv_first',
    blocks: blockNames(largestIndex(ckpt, /^body\.(\d+)\./) + 1, (b, r, c) => `body.${b}.rdb${r}.conv${c}`),
    trunk: 'conv_body',
    ups: Array.from({ length: Math.max(0, largestIndex(ckpt, /^conv_up(\d+)\./)) }, (_, i) => `conv_up${i + 1}`),
    hr: 'conv_hr',
    last: 'conv_last',
  };
}

/**
 * The original Sequential: after `model.0` and the ShortcutBlock `model.1`, each upconv block takes 3 indices
 * (Upsample, conv, LeakyReLU), then the HR conv and its LeakyReLU, then the last conv.
 */
function originalLayout(ckpt: Checkpoint): Layout {
  const blocks = largestIndex(ckpt, /^model\.1\.sub\.(\d+)\.RDB/) + 1;
  const tail = [...new Set(ckpt.names().map((n) => /^model\.(\d+)\.(?:weight|bias)$/.exec(n)?.[1]).filter((i) => i !== undefined).map(Number))]
    .filter((i) => i >= 2)
    .sort((a, b) => a - b);
  const ups = Math.max(0, tail.length - 2);
  const expected = [...Array.from({ length: ups }, (_, u) => 3 + 3 * u), 2 + 3 * ups, 4 + 3 * ups];
  if (tail.length < 2 || tail.some((index, i) => index !== expected[i])) {
    throw new CheckpointError(
      `${ckpt.label}: the layers after model.1 are at indices ${tail.join(', ') || '(none)'}, expected ${expected.join(', ')}: ` +
        `only upsample_mode='upconv' (nearest ×2, conv, LeakyReLU) ESRGAN models are supported`,
    );
  }
  return {
    first: 'model.0',
    blocks: blockNames(blocks, (b, r, c) => `model.1.sub.${b}.RDB${r}.conv${c}.0`),
    trunk: `model.1.sub.${blocks}`,
    ups: expected.slice(0, ups).map((i) => `model.${i}`),
    hr: `model.${expected[ups]!}`,
    last: `model.${expected[ups + 1]!}`,
  };
}

/**
 * The image channels and BasicSR's pixel-unshuffle factor: conv_first takes numInCh · factor² channels with
 * factor 1, 2 or 4. Unless config.numInCh says, numInCh is the output's channel count, else 3.
 */
function inputChannels(ckpt: Checkpoint, firstIn: number, numOutCh: number, given: unknown): { numInCh: number; unshuffle: number } {
  if (given !== undefined && (!Number.isSafeInteger(given) || (given as number) < 1)) {
    throw new SyntheError(`${ckpt.label}: config.numInCh must be a positive integer, got ${JSON.stringify(given)}`);
  }
  const candidates = given !== undefined ? [given as number] : [numOutCh, 3];
  for (const numInCh of candidates) {
    for (const unshuffle of [1, 2, 4]) if (numInCh * unshuffle * unshuffle === firstIn) return { numInCh, unshuffle };
  }
  throw new CheckpointError(
    `${ckpt.label}: conv_first takes ${firstIn} channels, which is not ${candidates.join(' or ')} image channels × 1, 4 or 16 (pixel-unshuffle 1, 2 or 4); pass config.numInCh`,
  );
}

class RrdbNet implements Model {
  readonly inputNames = ['input'] as const;

  constructor(
    private readonly engine: Engine,
    readonly arch: RrdbNaming,
    private readonly weights: Weights,
    private readonly owned: PackedConv2d[],
    readonly config: Readonly<RrdbNetConfig>,
  ) {}

  /** `input` (N, numInCh, H, W) → `output` (N, numOutCh, H·scale, W·scale). */
  forward(inputs: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    const { numInCh, unshuffle } = this.config;
    const x = inputs.input;
    if (!x) throw new SyntheError(`${this.arch}: forward needs input 'input' (N, ${numInCh}, H, W)`);
    if (x.rank !== 4 || x.shape[1] !== numInCh || x.shape[2]! % unshuffle !== 0 || x.shape[3]! % unshuffle !== 0) {
      const divisible = unshuffle > 1 ? ` with H and W multiples of ${unshuffle}` : '';
      throw new SyntheError(`${this.arch}: 'input' must be (N, ${numInCh}, H, W)${divisible}, got ${x.toString()}`);
    }
    const w = this.weights;
    const shuffled = unshuffle > 1 ? this.engine.ops.pixelUnshuffle(x, unshuffle) : x;
    const first = this.conv(shuffled, w.first);
    if (shuffled !== x) shuffled.dispose();
    let body = first;
    for (const block of w.blocks) body = this.replace(body, first, this.rrdb(body, block));
    let feat = this.conv(body, w.trunk, { residual: first });
    if (body !== first) body.dispose();
    first.dispose();
    for (const up of w.ups) {
      const large = this.engine.ops.interpolate(feat, { scaleFactor: 2, mode: 'nearest' });
      feat.dispose();
      feat = this.conv(large, up, LRELU);
      large.dispose();
    }
    const hr = this.conv(feat, w.hr, LRELU);
    feat.dispose();
    const output = this.conv(hr, w.last);
    hr.dispose();
    return { output };
  }

  dispose(): void {
    for (const layer of this.owned) layer.dispose();
  }

  private conv(x: Tensor, layer: PackedConv2d, epilogue: ConvEpilogue = {}): Tensor {
    return conv2dPacked(this.engine.runtime, x, layer, epilogue);
  }

  /** Returns `next`, disposing `previous` unless it is `keep`. */
  private replace(previous: Tensor, keep: Tensor, next: Tensor): Tensor {
    if (previous !== keep) previous.dispose();
    return next;
  }

  /**
   * x + 0.2 · RDB3(RDB2(RDB1(x))). RDB3's last conv yields 0.2 · RDB3(r2) = 0.04 · conv5 + 0.2 · r2 directly;
   * adding x is the one dispatch outside a convolution.
   */
  private rrdb(x: Tensor, block: Rrdb): Tensor {
    const r1 = this.rdb(x, block[0]!, { residual: x, outputScale: BETA });
    const r2 = this.rdb(r1, block[1]!, { residual: r1, outputScale: BETA });
    r1.dispose();
    const scaled = this.rdb(r2, block[2]!, { residual: r2, outputScale: BETA * BETA, residualScale: BETA });
    r2.dispose();
    const out = this.engine.ops.add(x, scaled);
    scaled.dispose();
    return out;
  }

  /** The dense block: each conv sees the block input and every earlier output, concatenated on channels. */
  private rdb(x: Tensor, convs: PackedConv2d[], last: ConvEpilogue): Tensor {
    let features = x; // (N, numFeat + k · numGrowCh, H, W)
    for (let k = 0; k < 4; k++) {
      const grown = this.conv(features, convs[k]!, LRELU);
      const joined = this.engine.ops.concat([features, grown], 1);
      grown.dispose();
      features = this.replace(features, x, joined);
    }
    const out = this.conv(features, convs[4]!, last);
    features.dispose();
    return out;
  }
}
