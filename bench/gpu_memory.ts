/**
 * GPU memory of the peers, read where every engine must say what a kernel touches: the bind groups its
 * dispatches set. TF.js counts tensors, ORT reports nothing, and both keep freed buffers in caches that outlive
 * a workload (a 5 MiB buffer freed by one workload serves the next), so counting allocations would mix
 * workloads. A run's footprint is instead the total size of the distinct storage buffers its dispatches bind:
 * inputs, weights, intermediates and outputs. A buffer an engine reuses within the run counts once; buffers
 * its cache merely holds count not at all; intermediates that are never alive together are all counted (an
 * engine that frees one before allocating the next could do with less).
 */

/** The storage buffers each bind group holds. */
const buffersOf = new WeakMap<GPUBindGroup, GPUBuffer[]>();
/** Buffers bound since `boundBytes` started, or null when nothing is being recorded. */
let recording: Set<GPUBuffer> | null = null;
let installed = false;

interface Prototypes {
  GPUDevice: { prototype: GPUDevice };
  GPUComputePassEncoder: { prototype: GPUComputePassEncoder };
}

/** Wraps `createBindGroup` and the compute pass's `setBindGroup` on the prototypes, for every device. Idempotent. */
export function trackBindings(): void {
  if (installed) return;
  installed = true;
  const { GPUDevice, GPUComputePassEncoder } = globalThis as unknown as Prototypes;
  const create = GPUDevice.prototype.createBindGroup;
  GPUDevice.prototype.createBindGroup = function (this: GPUDevice, descriptor: GPUBindGroupDescriptor) {
    const group = create.call(this, descriptor);
    const buffers: GPUBuffer[] = [];
    for (const entry of descriptor.entries) {
      const buffer = (entry.resource as GPUBufferBinding).buffer;
      if (buffer && buffer.usage & GPUBufferUsage.STORAGE) buffers.push(buffer);
    }
    buffersOf.set(group, buffers);
    return group;
  };
  const set = GPUComputePassEncoder.prototype.setBindGroup as (...args: unknown[]) => undefined;
  GPUComputePassEncoder.prototype.setBindGroup = function (this: GPUComputePassEncoder, ...args: unknown[]) {
    const group = args[1] as GPUBindGroup | null;
    if (recording && group) for (const buffer of buffersOf.get(group) ?? []) recording.add(buffer);
    return set.apply(this, args);
  } as GPUComputePassEncoder['setBindGroup'];
}

/** Runs `fn` (one run of one engine) and sums the sizes of the distinct storage buffers its dispatches bound. */
export async function boundBytes<T>(fn: () => Promise<T>): Promise<{ value: T; bytes: number }> {
  const bound = new Set<GPUBuffer>();
  recording = bound;
  try {
    const value = await fn();
    return { value, bytes: [...bound].reduce((sum, b) => sum + b.size, 0) };
  } finally {
    recording = null;
  }
}
