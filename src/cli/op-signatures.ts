/**
 * How `synthe op` maps PyTorch-named arguments onto each engine op's positional parameters: tensors come from
 * the input file by their torch.nn.functional parameter names, everything else from the JSON `--args`
 * (snake_case as in PyTorch, e.g. `output_padding`, `align_corners`, `negative_slope`).
 */

export type Param =
  /** A tensor from the input file; optional ones may be absent. */
  | { name: string; kind: 'tensor'; optional?: boolean }
  /** A tensor from the file, or a number from the JSON. */
  | { name: string; kind: 'tensor-or-number' }
  /** Several tensors, stored in the file as `name.0`, `name.1`, … */
  | { name: string; kind: 'tensors' }
  /** A JSON value passed as it is (number, array, string), with a default when absent. */
  | { name: string; kind: 'value'; optional?: boolean }
  /** The remaining JSON keys, camelCased, as one options object; tensors named in `tensors` come from the file. */
  | { kind: 'options'; tensors?: string[] };

const t = (name: string, optional = false): Param => ({ name, kind: 'tensor', optional });
const v = (name: string, optional = false): Param => ({ name, kind: 'value', optional });
const options = (...tensors: string[]): Param => ({ kind: 'options', tensors });
const either = (name: string): Param => ({ name, kind: 'tensor-or-number' });

export const OP_SIGNATURES: Record<string, Param[]> = {
  add: [either('input'), either('other')],
  sub: [either('input'), either('other')],
  mul: [either('input'), either('other')],
  div: [either('input'), either('other')],
  scale: [t('input'), v('factor')],
  relu: [t('input')],
  leakyRelu: [t('input'), v('negative_slope', true)],
  silu: [t('input')],
  gelu: [t('input'), options()],
  tanh: [t('input')],
  sigmoid: [t('input')],
  exp: [t('input')],
  clamp: [t('input'), v('min', true), v('max', true)],
  prelu: [t('input'), t('weight')],
  embedding: [t('input'), t('weight')],
  matmul: [t('input'), t('other')],
  linear: [t('input'), t('weight'), t('bias', true)],
  softmax: [t('input'), v('dim')],
  concat: [{ name: 'tensors', kind: 'tensors' }, v('dim', true)],
  permute: [t('input'), v('dims')],
  transpose: [t('input'), v('dim0'), v('dim1')],
  pixelShuffle: [t('input'), v('upscale_factor')],
  pixelUnshuffle: [t('input'), v('downscale_factor')],
  depthToSpace: [t('input'), v('block_size')],
  interpolate: [t('input'), options()],
  conv2d: [t('input'), t('weight'), t('bias', true), options('residual')],
  convTranspose2d: [t('input'), t('weight'), t('bias', true), options('residual')],
  scaledDotProductAttention: [t('query'), t('key'), t('value'), options('attn_mask')],
  groupNorm: [t('input'), v('num_groups'), t('weight', true), t('bias', true), v('eps', true)],
  layerNorm: [t('input'), v('normalized_shape'), t('weight', true), t('bias', true), v('eps', true)],
  instanceNorm: [t('input'), t('weight', true), t('bias', true), v('eps', true)],
  batchNorm: [t('input'), t('running_mean'), t('running_var'), t('weight', true), t('bias', true), v('eps', true)],
};

/** `output_padding` → `outputPadding`. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
