/**
 * Finding a WebGPU device: `navigator.gpu` in browsers, Dawn (the `webgpu` npm package) in Node, or a
 * device the host app already owns. In Node, machines without a GPU still get a real adapter from a
 * software Vulkan driver (Mesa lavapipe or Chromium's SwiftShader) when one is installed.
 */
import { SyntheError } from '../errors';

/** Options for {@link acquireDevice}. */
export interface DeviceOptions {
  /** Use this device instead of requesting one; the engine then never destroys it. */
  device?: GPUDevice;
  /**
   * Which adapter to use in Node: `'lavapipe'`, `'swiftshader'`, or a substring of the adapter's name.
   * Defaults to the `SYNTHE_ADAPTER` environment variable, then to whatever the system offers first.
   */
  adapter?: string;
  /** Passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /** Features to leave off even when the adapter has them (e.g. to test the f32-only paths). */
  disableFeatures?: OptionalFeature[];
  /** Called once if the device is lost after creation. */
  onLost?: (info: GPUDeviceLostInfo) => void;
}

/** The optional features synthe can use when the adapter offers them. */
export type OptionalFeature = 'shader-f16' | 'timestamp-query' | 'subgroups';
const OPTIONAL_FEATURES: OptionalFeature[] = ['shader-f16', 'timestamp-query', 'subgroups'];

/** The limits synthe raises to the adapter's maximum, because large models need them. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/** A device plus what synthe learned about it. */
export interface GpuContext {
  device: GPUDevice;
  /** Adapter description (vendor, architecture, device, description); empty fields when unknown. */
  info: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean };
  /** Optional features enabled on the device. */
  features: Record<OptionalFeature, boolean>;
  /** The device's limits, as granted. */
  limits: GPUSupportedLimits;
  /** True when synthe created the device, and so may destroy it. */
  ownsDevice: boolean;
}

/**
 * Whether the adapter emulates a GPU on the CPU (lavapipe, SwiftShader), where workgroup barriers cost more
 * than the memory traffic they save: kernels pick their barrier-free variants there.
 */
export function isCpuAdapter(ctx: GpuContext): boolean {
  const { isFallbackAdapter, vendor, architecture, device, description } = ctx.info;
  return isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/i.test(`${vendor} ${architecture} ${device} ${description}`);
}

/** Raised when no WebGPU adapter or device can be had; the message says what to install. */
export class NoAdapterError extends SyntheError {
  override name = 'NoAdapterError';
}

const SOFTWARE_DRIVERS: Record<string, { icd: string; adapterName: string }> = {
  lavapipe: { icd: '/usr/share/vulkan/icd.d/lvp_icd.json', adapterName: 'llvmpipe' },
  swiftshader: { icd: '/usr/lib/chromium/vk_swiftshader_icd.json', adapterName: 'SwiftShader' },
};

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Gives an engine a device: the host's, the browser's, or Dawn's in Node. */
export async function acquireDevice(options: DeviceOptions = {}): Promise<GpuContext> {
  if (options.device) return describe(options.device, undefined, false);
  const adapter = isNode ? await nodeAdapter(options) : await browserAdapter(options);
  const disabled = new Set(options.disableFeatures ?? []);
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'synthe' });
  } catch (error) {
    throw new NoAdapterError(`the adapter refused a device: ${(error as Error).message}`);
  }
  if (options.onLost) {
    const onLost = options.onLost;
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') onLost(info);
    });
  }
  return describe(device, adapter, true);
}

function describe(device: GPUDevice, adapter: GPUAdapter | undefined, ownsDevice: boolean): GpuContext {
  const info = adapter?.info ?? device.adapterInfo;
  const features = Object.fromEntries(OPTIONAL_FEATURES.map((f) => [f, device.features.has(f)])) as GpuContext['features'];
  return {
    device,
    info: {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
      isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
    },
    features,
    limits: device.limits,
    ownsDevice,
  };
}

async function browserAdapter(options: DeviceOptions): Promise<GPUAdapter> {
  const gpu = (globalThis as { navigator?: Navigator }).navigator?.gpu;
  if (!gpu) {
    throw new NoAdapterError(
      'this browser has no WebGPU (navigator.gpu is missing): use a recent Chrome, Edge or Safari, or Firefox 141+, ' +
        'over https or localhost',
    );
  }
  const adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : {});
  if (!adapter) throw new NoAdapterError('navigator.gpu.requestAdapter() found no adapter: WebGPU may be disabled or blocklisted');
  return adapter;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

let dawn: Promise<DawnModule> | undefined;
const liveInstances = new Set<GPU>();

async function loadDawn(): Promise<DawnModule> {
  dawn ??= (async () => {
    let mod: DawnModule;
    try {
      mod = (await import(/* @vite-ignore */ 'webgpu')) as unknown as DawnModule;
    } catch (error) {
      throw new NoAdapterError(`the 'webgpu' npm package (Dawn for Node) could not be loaded: ${(error as Error).message}; run npm install`);
    }
    // Dawn's constants (GPUBufferUsage, GPUMapMode, ...) are what browser code expects as globals.
    for (const [key, value] of Object.entries(mod.globals)) {
      if (!(key in globalThis)) (globalThis as Record<string, unknown>)[key] = value;
    }
    return mod;
  })();
  return dawn;
}

/** The ICD files of the software drivers present on this machine. */
async function installedSoftwareIcds(): Promise<string[]> {
  const { existsSync } = await import('node:fs');
  return Object.values(SOFTWARE_DRIVERS)
    .map((d) => d.icd)
    .filter((icd) => existsSync(icd));
}

async function nodeAdapter(options: DeviceOptions): Promise<GPUAdapter> {
  const { create } = await loadDawn();
  const wanted = options.adapter ?? process.env.SYNTHE_ADAPTER ?? '';
  const driver = SOFTWARE_DRIVERS[wanted.toLowerCase()];
  const icds = await installedSoftwareIcds();
  // The Vulkan loader only sees the software drivers when VK_ICD_FILENAMES names them; adding them keeps
  // any driver the user listed and lets an explicit choice of either software driver work in one process.
  const original = process.env.VK_ICD_FILENAMES;
  const withSoftware = (): void => {
    const listed = (process.env.VK_ICD_FILENAMES ?? '').split(':').filter(Boolean);
    process.env.VK_ICD_FILENAMES = [...new Set([...listed, ...icds])].join(':');
  };
  if (driver || original) withSoftware();
  const flags = wanted ? [`adapter=${driver ? driver.adapterName : wanted}`] : [];
  const request = async (): Promise<GPUAdapter | null> => {
    try {
      const gpu = create(flags);
      // Dawn stops processing events (promises never settle) once its instance is garbage collected.
      liveInstances.add(gpu);
      return await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : {});
    } catch {
      return null;
    }
  };
  let adapter = await request();
  if (!adapter && !driver && !original && icds.length > 0) {
    withSoftware();
    adapter = await request();
  }
  if (adapter) return adapter;
  const hint =
    'install a Vulkan driver: on Debian, `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1` ' +
    '(lavapipe; bookworm-backports is needed, Mesa 22 is too old for Dawn) or `apt-get install chromium` (SwiftShader)';
  if (wanted) throw new NoAdapterError(`no WebGPU adapter matches '${wanted}'; ${hint}`);
  throw new NoAdapterError(`no WebGPU adapter found in Node; ${hint}`);
}
