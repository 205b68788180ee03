/**
 * The models the demo offers, and the files each needs under weights/. Shared by the page (labels, panels)
 * and by the vite plugin that publishes those files, so both agree on what exists.
 */

export type ModelKind = 'gan' | 'diffusion' | 'upscaler';

export interface CatalogueEntry {
  id: string;
  label: string;
  kind: ModelKind;
  /** Paths relative to the project's weights/ folder (and to the published weights/ folder of the site). */
  files: readonly string[];
  /** Where the weights come from, shown under the picker. */
  provenance: string;
}

const UPSCALER_PACKAGES = [
  { name: 'esrgan-slim', label: 'ESRGAN slim' },
  { name: 'esrgan-medium', label: 'ESRGAN medium' },
  { name: 'esrgan-thick', label: 'ESRGAN thick' },
] as const;

export const CATALOGUE: readonly CatalogueEntry[] = [
  {
    id: 'dcgan-mnist',
    label: 'DCGAN digits',
    kind: 'gan',
    files: ['dcgan-mnist.safetensors'],
    provenance: 'A DCGAN generator trained in this project on the mnist package’s 10,000 digits (MIT).',
  },
  {
    id: 'ddpm-mnist',
    label: 'Diffusion digits (DDPM)',
    kind: 'diffusion',
    files: ['ddpm-mnist/config.json', 'ddpm-mnist/diffusion_pytorch_model.safetensors', 'ddpm-mnist/scheduler_config.json'],
    provenance: 'A diffusers UNet2DModel trained in this project on the mnist package’s digits (MIT).',
  },
  ...UPSCALER_PACKAGES.flatMap(({ name, label }) =>
    [2, 3, 4, 8].map((scale) => ({
      id: `${name}-x${scale}`,
      label: `${label} ×${scale}`,
      kind: 'upscaler' as const,
      files: [`upscalerjs/${name}-x${scale}.safetensors`],
      provenance: `UpscalerJS @upscalerjs/${name} (MIT), converted from TF.js by weights/convert-upscalerjs.ts.`,
    })),
  ),
  {
    id: 'rrdn-gans-x4',
    label: 'RRDN GANs ×4 (idealo)',
    kind: 'upscaler',
    files: ['upscalerjs/rrdn-gans-x4.safetensors'],
    provenance: 'idealo’s GAN-trained RRDN from @upscalerjs/models (MIT), converted by weights/convert-upscalerjs.ts.',
  },
];

/** What the published weights/manifest.json says about one file. */
export interface PublishedFile {
  path: string;
  bytes: number;
  /** A content hash: part of the URL, so the browser cache never serves an outdated file. */
  version: string;
}

/** weights/manifest.json: the files of the catalogue that exist on this site. */
export interface WeightsManifest {
  files: PublishedFile[];
}

export const MANIFEST_PATH = 'weights/manifest.json';

/** An image to try the upscalers on without one of your own: the fixture UpscalerJS tests its models with. */
export const SAMPLE_IMAGE = {
  path: 'samples/upscalerjs-fixture.png',
  /** Relative to the project root. */
  source: 'node_modules/@upscalerjs/esrgan-slim/assets/fixture.png',
} as const;
