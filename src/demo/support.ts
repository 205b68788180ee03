/**
 * Can this browser run the demo? WebGPU must exist, give an adapter, and that adapter must reach the limits
 * synthe's kernels are written for (WebGPU's core defaults; compatibility-mode adapters fall short).
 */

const BROWSERS =
  'Use a current Chrome or Edge (WebGPU is on by default on Windows, macOS, ChromeOS and Android; on Linux turn on chrome://flags/#enable-unsafe-webgpu), Safari 26 or later, or Firefox 141 or later on Windows.';

/** The limits synthe's kernels rely on, and why. */
const NEEDED_LIMITS: { name: keyof GPUSupportedLimits; min: number; why: string }[] = [
  { name: 'maxComputeInvocationsPerWorkgroup', min: 256, why: '16×16 matmul workgroups' },
  { name: 'maxComputeWorkgroupSizeX', min: 256, why: 'row-wide workgroups' },
  { name: 'maxComputeWorkgroupStorageSize', min: 16384, why: 'tiles kept in workgroup memory' },
  { name: 'maxStorageBuffersPerShaderStage', min: 8, why: 'fused convolution epilogues' },
  { name: 'maxStorageBufferBindingSize', min: 128 * 1024 * 1024, why: 'feature maps of image tiles' },
];

export type Support = { ok: true; adapterName: string; timestamps: boolean } | { ok: false; title: string; detail: string };

export async function checkWebGpu(): Promise<Support> {
  if (!window.isSecureContext) {
    return { ok: false, title: 'This page needs a secure context', detail: `WebGPU is only offered to pages served over https or from localhost; this one came from ${location.origin}.` };
  }
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    return { ok: false, title: 'This browser has no WebGPU', detail: `synthe runs its networks on the GPU through WebGPU, and navigator.gpu is missing here. ${BROWSERS}` };
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch {
    adapter = null;
  }
  if (!adapter) {
    return {
      ok: false,
      title: 'WebGPU is present but found no GPU adapter',
      detail: `WebGPU may be turned off in the browser settings or blocklisted for this graphics driver (see chrome://gpu). ${BROWSERS}`,
    };
  }
  const short = NEEDED_LIMITS.filter((l) => ((adapter.limits[l.name] as number | undefined) ?? 0) < l.min);
  if (short.length > 0) {
    const list = short.map((l) => `${l.name} is ${adapter.limits[l.name] as number}, ${l.min} needed (${l.why})`).join('; ');
    return { ok: false, title: 'This GPU adapter lacks limits synthe needs', detail: `${list}. ${BROWSERS}` };
  }
  const info = adapter.info;
  return { ok: true, adapterName: info.description || [info.vendor, info.architecture].filter(Boolean).join(' ') || 'unknown adapter', timestamps: adapter.features.has('timestamp-query') };
}
