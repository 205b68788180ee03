/**
 * Recognises a checkpoint's architecture from its tensor names, so `synthe inspect` and `loadModel` can say
 * what a file is without being told. Each rule names keys that only that architecture has.
 */

/** Architectures synthe knows by their checkpoint key naming. */
export type Architecture = 'dcgan' | 'esrgan' | 'esrgan-basicsr' | 'srvgg' | 'unet2d' | 'unet2d-condition' | 'autoencoder-kl' | 'rdn' | 'rrdn' | 'keras';

interface Rule {
  arch: Architecture;
  description: string;
  matches: (names: ReadonlySet<string>, list: readonly string[]) => boolean;
}

const some = (list: readonly string[], pattern: RegExp) => list.some((n) => pattern.test(n));

const RULES: Rule[] = [
  {
    arch: 'unet2d-condition',
    description: 'diffusers UNet2DConditionModel',
    matches: (s, l) => s.has('conv_in.weight') && s.has('time_embedding.linear_1.weight') && some(l, /\.attn2\.to_k\.weight$/),
  },
  {
    arch: 'unet2d',
    description: 'diffusers UNet2DModel',
    matches: (s) => s.has('conv_in.weight') && s.has('time_embedding.linear_1.weight'),
  },
  {
    arch: 'autoencoder-kl',
    description: 'diffusers AutoencoderKL',
    matches: (s) => s.has('decoder.conv_in.weight') && (s.has('post_quant_conv.weight') || s.has('encoder.conv_in.weight')),
  },
  {
    arch: 'esrgan-basicsr',
    description: 'ESRGAN RRDBNet (BasicSR key names)',
    matches: (s, l) => s.has('conv_first.weight') && s.has('conv_body.weight') && some(l, /^body\.\d+\.rdb1\.conv1\.weight$/),
  },
  {
    arch: 'esrgan',
    description: 'ESRGAN RRDBNet (original key names)',
    matches: (s, l) => s.has('model.0.weight') && some(l, /^model\.1\.sub\.\d+\.RDB1\.conv1\.0\.weight$/),
  },
  {
    arch: 'srvgg',
    description: "Real-ESRGAN SRVGGNetCompact",
    matches: (s, l) => s.has('body.0.weight') && s.has('body.1.weight') && !some(l, /^conv_first/) && some(l, /^body\.\d+\.weight$/),
  },
  {
    arch: 'dcgan',
    description: 'DCGAN generator (transposed-convolution stack)',
    matches: (s, l) => s.has('net.0.weight') && some(l, /^net\.\d+\.running_mean$/),
  },
  // Graphs converted from TF.js carry their topology in metadata; their keys are Keras layer names, so only
  // the converter's `synthe.arch` says what they are.
  { arch: 'rdn', description: 'Residual Dense Network (converted Keras graph)', matches: () => false },
  { arch: 'rrdn', description: 'Residual-in-Residual Dense Network (converted Keras graph)', matches: () => false },
  { arch: 'keras', description: 'Keras functional graph (converted from TF.js)', matches: () => false },
];

/** The architecture a set of tensor names belongs to (or that the file's metadata declares), or undefined. */
export function recognizeArchitecture(
  names: readonly string[],
  metadata: Readonly<Record<string, string>> = {},
): { arch: Architecture; description: string } | undefined {
  const declared = metadata['synthe.arch'] ?? metadata.arch;
  const byMetadata = RULES.find((r) => r.arch === declared);
  if (byMetadata) return { arch: byMetadata.arch, description: byMetadata.description };
  const set = new Set(names);
  const rule = RULES.find((r) => r.matches(set, names));
  return rule && { arch: rule.arch, description: rule.description };
}
