/**
 * GPU buffers reused by size class. Freed buffers wait in a free list instead of being destroyed, so a loop
 * that allocates the same shapes every step allocates nothing after its first step.
 */

/** Storage buffers every tensor gets: bound to shaders, copied to and from. */
export const STORAGE_USAGE = 0x0080 /* STORAGE */ | 0x0004 /* COPY_SRC */ | 0x0008; /* COPY_DST */

/** Rounds a byte size up to its class: four classes per power of two, so at most 25% is wasted. */
export function sizeClass(bytes: number): number {
  const min = 256;
  if (bytes <= min) return min;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = pow / 4;
  return Math.ceil(bytes / step) * step;
}

/** Counters for memory reports and leak tests. */
export interface PoolStats {
  /** Bytes of all live GPU buffers this pool created (in use or free). */
  allocatedBytes: number;
  /** Bytes handed out and not yet released. */
  inUseBytes: number;
  /** Highest `allocatedBytes` seen since creation or the last `resetPeak()`. */
  peakBytes: number;
  /** Buffers handed out and not yet released. */
  inUseBuffers: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly sizes = new Map<GPUBuffer, number>();
  private readonly stats: PoolStats = { allocatedBytes: 0, inUseBytes: 0, peakBytes: 0, inUseBuffers: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    private readonly usage: number = STORAGE_USAGE,
  ) {}

  /** A buffer of at least `bytes` bytes; its contents are undefined. */
  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const reused = this.free.get(size)?.pop();
    const buffer = reused ?? this.create(size);
    this.stats.inUseBytes += size;
    this.stats.inUseBuffers += 1;
    return buffer;
  }

  /** Returns a buffer to the free list. Work already encoded that uses it still sees its old contents. */
  release(buffer: GPUBuffer): void {
    const size = this.sizes.get(buffer);
    if (size === undefined) throw new Error(`buffer '${buffer.label}' does not belong to pool '${this.label}'`);
    this.stats.inUseBytes -= size;
    this.stats.inUseBuffers -= 1;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
  }

  /** True when the buffer was made by this pool. */
  owns(buffer: GPUBuffer): boolean {
    return this.sizes.has(buffer);
  }

  /** Destroys the free buffers (memory goes back to the driver). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buffer of list) this.destroyBuffer(buffer);
    }
    this.free.clear();
  }

  /** Destroys every buffer, in use or not. */
  destroy(): void {
    for (const buffer of [...this.sizes.keys()]) this.destroyBuffer(buffer);
    this.free.clear();
    this.stats.inUseBytes = 0;
    this.stats.inUseBuffers = 0;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }

  resetPeak(): void {
    this.stats.peakBytes = this.stats.allocatedBytes;
  }

  private create(size: number): GPUBuffer {
    const buffer = this.device.createBuffer({ size, usage: this.usage, label: `${this.label}:${size}` });
    this.sizes.set(buffer, size);
    this.stats.allocatedBytes += size;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.allocatedBytes);
    return buffer;
  }

  private destroyBuffer(buffer: GPUBuffer): void {
    const size = this.sizes.get(buffer) ?? 0;
    this.sizes.delete(buffer);
    this.stats.allocatedBytes -= size;
    buffer.destroy();
  }
}
