/**
 * Per-dispatch GPU timings from timestamp queries: each profiled dispatch gets its own compute pass with a
 * begin and an end timestamp; query sets are resolved at each submit and read back once at the end.
 */

/** One dispatch's GPU time. */
export interface KernelTiming {
  label: string;
  /** Nanoseconds between the pass's begin and end timestamps. */
  ns: number;
}

const CAPACITY = 512; // dispatches per query set

interface Chunk {
  set: GPUQuerySet;
  labels: string[];
  resolved: GPUBuffer | null;
  /** The QUERY_RESOLVE target, kept alive until the copy out of it has run. */
  scratch: GPUBuffer | null;
}

export class Profiler {
  private chunks: Chunk[] = [];

  constructor(private readonly device: GPUDevice) {}

  /** The timestampWrites for the next dispatch's pass. */
  next(label: string): GPUComputePassTimestampWrites {
    let chunk = this.chunks.at(-1);
    if (!chunk || chunk.labels.length === CAPACITY || chunk.resolved) {
      chunk = { set: this.device.createQuerySet({ type: 'timestamp', count: CAPACITY * 2 }), labels: [], resolved: null, scratch: null };
      this.chunks.push(chunk);
    }
    const index = chunk.labels.length;
    chunk.labels.push(label);
    return { querySet: chunk.set, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 };
  }

  /** Resolves the queries written so far into a readable buffer; called before each submit. */
  resolve(encoder: GPUCommandEncoder): void {
    for (const chunk of this.chunks) {
      if (chunk.resolved || chunk.labels.length === 0) continue;
      const bytes = chunk.labels.length * 16;
      const resolve = this.device.createBuffer({ size: bytes, usage: 0x0200 /* QUERY_RESOLVE */ | 0x0004 /* COPY_SRC */ });
      const read = this.device.createBuffer({ size: bytes, usage: 0x0001 /* MAP_READ */ | 0x0008 /* COPY_DST */ });
      encoder.resolveQuerySet(chunk.set, 0, chunk.labels.length * 2, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, read, 0, bytes);
      chunk.resolved = read;
      chunk.scratch = resolve;
    }
  }

  /** Reads every resolved chunk and frees the query sets. */
  async collect(): Promise<KernelTiming[]> {
    const out: KernelTiming[] = [];
    for (const chunk of this.chunks) {
      if (!chunk.resolved) continue;
      await chunk.resolved.mapAsync(1 /* GPUMapMode.READ */);
      const stamps = new BigUint64Array(chunk.resolved.getMappedRange().slice(0));
      chunk.resolved.destroy();
      chunk.scratch?.destroy();
      chunk.labels.forEach((label, i) => {
        const ns = Number(stamps[2 * i + 1]! - stamps[2 * i]!);
        out.push({ label, ns: Math.max(0, ns) });
      });
      chunk.set.destroy();
    }
    this.chunks = [];
    return out;
  }
}
