/**
 * Convolution references (torch.nn.functional.conv2d / conv_transpose2d), zero padding only, f64 accumulation.
 * Weights are OIHW for conv2d and (in, out/groups, kH, kW) for conv_transpose2d, as in PyTorch.
 */
import { type CpuTensor, checkTensor, pair, shapeStr } from './tensor';

type Pair = number | readonly number[]; // a number or [h, w] (length checked at run time)

/** Options of {@link conv2d} (torch.nn.functional.conv2d keyword arguments). */
export interface Conv2dOptions {
  stride?: Pair;
  /** number, [ph, pw], 'valid' (= 0) or 'same' (stride 1 only; odd totals put the extra row/column at the bottom/right). */
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
}

/** Options of {@link convTranspose2d} (torch.nn.functional.conv_transpose2d keyword arguments). */
export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  groups?: number;
  dilation?: Pair;
}

function checkIntPair(v: [number, number], min: number, what: string): void {
  if (!Number.isInteger(v[0]) || !Number.isInteger(v[1]) || v[0] < min || v[1] < min) {
    throw new Error(`${what} must be integers >= ${min}, got [${v[0]}, ${v[1]}]`);
  }
}

/** Accepts (N, C, H, W) or unbatched (C, H, W); returns the 4-D view and whether a batch dim was added. */
function batched(input: CpuTensor, what: string): { x: CpuTensor; unbatched: boolean } {
  checkTensor(input, `${what} input`);
  if (input.shape.length === 4) return { x: input, unbatched: false };
  if (input.shape.length === 3) return { x: { data: input.data, shape: [1, ...input.shape] }, unbatched: true };
  throw new Error(`${what}: expected input (N, C, H, W) or (C, H, W), got shape ${shapeStr(input.shape)}`);
}

/**
 * 2-D cross-correlation exactly like torch.nn.functional.conv2d(input, weight, bias, stride, padding,
 * dilation, groups). input (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in/groups, kH, kW);
 * bias (C_out) -> (N, C_out, H_out, W_out) with H_out = floor((H + pad_top + pad_bottom − d·(kH−1) − 1)/s) + 1.
 * padding 'same' (stride 1): total = d·(k−1), top/left = total//2, bottom/right = the rest (torch's rule).
 */
export function conv2d(input: CpuTensor, weight: CpuTensor, bias?: CpuTensor | null, options: Conv2dOptions = {}): CpuTensor {
  const { x, unbatched } = batched(input, 'conv2d');
  checkTensor(weight, 'conv2d weight');
  if (weight.shape.length !== 4) throw new Error(`conv2d: weight must be 4-D (C_out, C_in/groups, kH, kW), got shape ${shapeStr(weight.shape)}`);
  const [N, Cin, H, W] = x.shape as [number, number, number, number];
  const [Cout, cinG, KH, KW] = weight.shape as [number, number, number, number];
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`conv2d: groups must be a positive integer, got ${groups}`);
  if (cinG * groups !== Cin) {
    throw new Error(`conv2d: input shape ${shapeStr(input.shape)} has ${Cin} channels but weight ${shapeStr(weight.shape)} with groups=${groups} expects ${cinG * groups}`);
  }
  if (Cout % groups !== 0) throw new Error(`conv2d: out channels ${Cout} (weight ${shapeStr(weight.shape)}) not divisible by groups=${groups}`);
  if (bias) {
    checkTensor(bias, 'conv2d bias');
    if (bias.shape.length !== 1 || bias.shape[0] !== Cout) throw new Error(`conv2d: bias shape ${shapeStr(bias.shape)} must be [${Cout}] (weight ${shapeStr(weight.shape)})`);
  }
  const [sh, sw] = pair(options.stride ?? 1, 'conv2d stride');
  const [dh, dw] = pair(options.dilation ?? 1, 'conv2d dilation');
  checkIntPair([sh, sw], 1, 'conv2d: stride');
  checkIntPair([dh, dw], 1, 'conv2d: dilation');
  const pad = options.padding ?? 0;
  let padT: number;
  let padB: number;
  let padL: number;
  let padR: number;
  if (pad === 'valid') {
    padT = padB = padL = padR = 0;
  } else if (pad === 'same') {
    if (sh !== 1 || sw !== 1) throw new Error(`conv2d: padding 'same' is not supported for strided convolutions (stride [${sh}, ${sw}])`);
    const th = dh * (KH - 1);
    const tw = dw * (KW - 1);
    padT = Math.floor(th / 2);
    padB = th - padT;
    padL = Math.floor(tw / 2);
    padR = tw - padL;
  } else {
    const [ph, pw] = pair(pad, 'conv2d padding');
    checkIntPair([ph, pw], 0, 'conv2d: padding');
    padT = padB = ph;
    padL = padR = pw;
  }
  const effH = dh * (KH - 1) + 1;
  const effW = dw * (KW - 1) + 1;
  if (H + padT + padB < effH || W + padL + padR < effW) {
    throw new Error(`conv2d: padded input ${H + padT + padB}x${W + padL + padR} (input ${shapeStr(input.shape)}) is smaller than the dilated kernel ${effH}x${effW} (weight ${shapeStr(weight.shape)})`);
  }
  const Ho = Math.floor((H + padT + padB - effH) / sh) + 1;
  const Wo = Math.floor((W + padL + padR - effW) / sw) + 1;
  const coutG = Cout / groups;

  // For each kernel column kw, the output columns whose input column ow·sw − padL + kw·dw lies in [0, W).
  const owLo = new Int32Array(KW);
  const owHi = new Int32Array(KW);
  for (let kw = 0; kw < KW; kw++) {
    const shift = kw * dw - padL;
    owLo[kw] = Math.max(0, Math.ceil(-shift / sw));
    owHi[kw] = Math.min(Wo, Math.floor((W - 1 - shift) / sw) + 1);
  }

  const xd = x.data;
  const wd = weight.data;
  const out = new Float32Array(N * Cout * Ho * Wo);
  const acc = new Float64Array(Ho * Wo);
  for (let n = 0; n < N; n++) {
    for (let oc = 0; oc < Cout; oc++) {
      const g = Math.floor(oc / coutG);
      acc.fill(bias ? bias.data[oc]! : 0);
      for (let icg = 0; icg < cinG; icg++) {
        const inPlane = (n * Cin + g * cinG + icg) * H * W;
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++) {
            const wv = wd[((oc * cinG + icg) * KH + kh) * KW + kw]!;
            const shift = kw * dw - padL;
            const lo = owLo[kw]!;
            const hi = owHi[kw]!;
            for (let oh = 0; oh < Ho; oh++) {
              const ih = oh * sh - padT + kh * dh;
              if (ih < 0 || ih >= H) continue;
              const row = inPlane + ih * W + shift;
              const orow = oh * Wo;
              for (let ow = lo; ow < hi; ow++) acc[orow + ow]! += wv * xd[row + ow * sw]!;
            }
          }
        }
      }
      out.set(acc, (n * Cout + oc) * Ho * Wo);
    }
  }
  return { data: out, shape: unbatched ? [Cout, Ho, Wo] : [N, Cout, Ho, Wo] };
}

/**
 * Transposed 2-D convolution exactly like torch.nn.functional.conv_transpose2d(input, weight, bias, stride,
 * padding, output_padding, groups, dilation): the adjoint of conv2d. input (N, C_in, H, W) or (C_in, H, W);
 * weight (C_in, C_out/groups, kH, kW); bias (C_out) -> (N, C_out, H_out, W_out) with
 * H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1. output_padding must be < stride or < dilation.
 */
export function convTranspose2d(input: CpuTensor, weight: CpuTensor, bias?: CpuTensor | null, options: ConvTranspose2dOptions = {}): CpuTensor {
  const { x, unbatched } = batched(input, 'convTranspose2d');
  checkTensor(weight, 'convTranspose2d weight');
  if (weight.shape.length !== 4) {
    throw new Error(`convTranspose2d: weight must be 4-D (C_in, C_out/groups, kH, kW), got shape ${shapeStr(weight.shape)}`);
  }
  const [N, Cin, H, W] = x.shape as [number, number, number, number];
  const [wCin, coutG, KH, KW] = weight.shape as [number, number, number, number];
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`convTranspose2d: groups must be a positive integer, got ${groups}`);
  if (wCin !== Cin) {
    throw new Error(`convTranspose2d: input shape ${shapeStr(input.shape)} has ${Cin} channels but weight ${shapeStr(weight.shape)} expects ${wCin}`);
  }
  if (Cin % groups !== 0) throw new Error(`convTranspose2d: in channels ${Cin} (input ${shapeStr(input.shape)}) not divisible by groups=${groups}`);
  const Cout = coutG * groups;
  if (bias) {
    checkTensor(bias, 'convTranspose2d bias');
    if (bias.shape.length !== 1 || bias.shape[0] !== Cout) {
      throw new Error(`convTranspose2d: bias shape ${shapeStr(bias.shape)} must be [${Cout}] (weight ${shapeStr(weight.shape)}, groups=${groups})`);
    }
  }
  const [sh, sw] = pair(options.stride ?? 1, 'convTranspose2d stride');
  const [ph, pw] = pair(options.padding ?? 0, 'convTranspose2d padding');
  const [oph, opw] = pair(options.outputPadding ?? 0, 'convTranspose2d outputPadding');
  const [dh, dw] = pair(options.dilation ?? 1, 'convTranspose2d dilation');
  checkIntPair([sh, sw], 1, 'convTranspose2d: stride');
  checkIntPair([ph, pw], 0, 'convTranspose2d: padding');
  checkIntPair([oph, opw], 0, 'convTranspose2d: outputPadding');
  checkIntPair([dh, dw], 1, 'convTranspose2d: dilation');
  if ((oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) {
    throw new Error(`convTranspose2d: outputPadding [${oph}, ${opw}] must be smaller than either stride [${sh}, ${sw}] or dilation [${dh}, ${dw}]`);
  }
  const Ho = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1;
  const Wo = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1;
  if (Ho <= 0 || Wo <= 0) {
    throw new Error(`convTranspose2d: output size ${Ho}x${Wo} is not positive (input ${shapeStr(input.shape)}, weight ${shapeStr(weight.shape)})`);
  }
  const cinG = Cin / groups;

  // For each kernel column kw, the input columns iw whose output column iw·sw − pw + kw·dw lies in [0, Wo).
  const iwLo = new Int32Array(KW);
  const iwHi = new Int32Array(KW);
  for (let kw = 0; kw < KW; kw++) {
    const shift = kw * dw - pw;
    iwLo[kw] = Math.max(0, Math.ceil(-shift / sw));
    iwHi[kw] = Math.min(W, Math.floor((Wo - 1 - shift) / sw) + 1);
  }

  const xd = x.data;
  const wd = weight.data;
  const out = new Float32Array(N * Cout * Ho * Wo);
  const acc = new Float64Array(Ho * Wo);
  for (let n = 0; n < N; n++) {
    for (let oc = 0; oc < Cout; oc++) {
      const g = Math.floor(oc / coutG);
      const ocg = oc - g * coutG;
      acc.fill(bias ? bias.data[oc]! : 0);
      for (let icg = 0; icg < cinG; icg++) {
        const ic = g * cinG + icg;
        const inPlane = (n * Cin + ic) * H * W;
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++) {
            const wv = wd[((ic * coutG + ocg) * KH + kh) * KW + kw]!;
            const shift = kw * dw - pw;
            const lo = iwLo[kw]!;
            const hi = iwHi[kw]!;
            for (let ih = 0; ih < H; ih++) {
              const oh = ih * sh - ph + kh * dh;
              if (oh < 0 || oh >= Ho) continue;
              const orow = oh * Wo + shift;
              const irow = inPlane + ih * W;
              for (let iw = lo; iw < hi; iw++) acc[orow + iw * sw]! += wv * xd[irow + iw]!;
            }
          }
        }
      }
      out.set(acc, (n * Cout + oc) * Ho * Wo);
    }
  }
  return { data: out, shape: unbatched ? [Cout, Ho, Wo] : [N, Cout, Ho, Wo] };
}
