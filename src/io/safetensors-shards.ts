/**
 * Sharded checkpoints: a `*.safetensors.index.json` whose `weight_map` assigns every tensor to one of several
 * shard files next to it, presented as one {@link SafetensorsFile}.
 */
import {
  type Location,
  type OpenSettings,
  type SafetensorsFile,
  openSingleLocation,
  unknownTensor,
} from './safetensors-file';
import { SafetensorsError, type TensorInfo, errorText, isRecord, kind, parseStringMap } from './safetensors-header';
import { locationLabel, readText } from './safetensors-source';

/** Opens every shard an index names and checks that the shards and the weight_map agree. */
export async function openSharded(index: Location, settings: OpenSettings): Promise<SafetensorsFile> {
  const label = locationLabel(index);
  const { metadata, weightMap } = parseIndex(await readText(index, settings.fetch), label);
  const files = [...new Set(weightMap.values())];
  const shards = await openAll(
    files.map((file) => shardLocation(index, file, label)),
    settings,
  );
  try {
    const owners = assignOwners(files, shards, weightMap, label);
    const merged = [...shards.flatMap((shard) => Object.entries(shard.metadata)), ...metadata];
    return new ShardedFile(Object.freeze(Object.fromEntries(merged)), owners, shards, label);
  } catch (error) {
    await closeAll(shards);
    throw error;
  }
}

interface Index {
  /** The index's own metadata, values turned into strings (`total_size` is a number in Hugging Face indexes). */
  metadata: Map<string, string>;
  /** Tensor name → shard file, in index order. */
  weightMap: Map<string, string>;
}

function parseIndex(text: string, label: string): Index {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SafetensorsError(`index is not valid JSON (${errorText(cause)})`, { source: label }, { cause });
  }
  if (!isRecord(json)) throw new SafetensorsError(`index is ${kind(json)}, not a JSON object`, { source: label });
  const fields = new Map(Object.entries(json));
  if (!fields.has('weight_map')) throw new SafetensorsError('index has no "weight_map"', { source: label });
  const weightMap = parseStringMap(fields.get('weight_map'), 'weight_map', label);
  const rawMetadata = fields.get('metadata') ?? {};
  if (!isRecord(rawMetadata)) {
    throw new SafetensorsError(`index metadata must be an object, got ${kind(rawMetadata)}`, { source: label });
  }
  const metadata = new Map(
    Object.entries(rawMetadata).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]),
  );
  return { metadata, weightMap };
}

/**
 * Where a shard lives: next to the index. Absolute paths, other hosts and ".." are refused, so that a hostile
 * index cannot point the loader at arbitrary files or servers.
 */
function shardLocation(index: Location, file: string, label: string): Location {
  const escapes = /^[a-z][a-z0-9+.-]*:|^[\\/]/i.test(file) || file.split(/[\\/]/).includes('..');
  if (file === '' || escapes) {
    throw new SafetensorsError(
      `weight_map names shard ${JSON.stringify(file)}; shards must be relative paths below the index's folder`,
      { source: label },
    );
  }
  if (typeof index === 'string') {
    return index.slice(0, Math.max(index.lastIndexOf('/'), index.lastIndexOf('\\')) + 1) + file;
  }
  // Encoded per segment so that "#", "?" or "%" in a file name stay part of the name.
  return new URL(file.split('/').map(encodeURIComponent).join('/'), index);
}

/** Opens all shards in parallel; if any fails, closes the others before rethrowing. */
async function openAll(locations: Location[], settings: OpenSettings): Promise<SafetensorsFile[]> {
  const results = await Promise.allSettled(locations.map((location) => openSingleLocation(location, settings)));
  const opened = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await closeAll(opened);
    throw failure.reason;
  }
  return opened;
}

async function closeAll(shards: readonly SafetensorsFile[]): Promise<void> {
  await Promise.all(shards.map((shard) => shard.close()));
}

/** Tensor name → the shard holding it, after checking no tensor is in two shards or missing from its shard. */
function assignOwners(
  files: readonly string[],
  shards: readonly SafetensorsFile[],
  weightMap: ReadonlyMap<string, string>,
  label: string,
): Map<string, SafetensorsFile> {
  const owners = new Map<string, SafetensorsFile>();
  const ownerFiles = new Map<string, string>();
  shards.forEach((shard, i) => {
    const file = files[i]!;
    for (const name of shard.names()) {
      const other = ownerFiles.get(name);
      if (other !== undefined) {
        throw new SafetensorsError(`is in both shard ${JSON.stringify(other)} and shard ${JSON.stringify(file)}`, {
          source: label,
          tensor: name,
        });
      }
      owners.set(name, shard);
      ownerFiles.set(name, file);
    }
  });
  for (const [name, file] of weightMap) {
    if (ownerFiles.get(name) !== file) {
      throw new SafetensorsError(`weight_map puts it in shard ${JSON.stringify(file)}, which has no such tensor`, {
        source: label,
        tensor: name,
      });
    }
  }
  return owners;
}

class ShardedFile implements SafetensorsFile {
  constructor(
    readonly metadata: Readonly<Record<string, string>>,
    private readonly owners: ReadonlyMap<string, SafetensorsFile>,
    private readonly shards: readonly SafetensorsFile[],
    private readonly label: string,
  ) {}

  names(): string[] {
    return [...this.owners.keys()];
  }

  has(name: string): boolean {
    return this.owners.has(name);
  }

  info(name: string): TensorInfo {
    return this.owner(name).info(name);
  }

  async bytes(name: string): Promise<Uint8Array> {
    return this.owner(name).bytes(name);
  }

  async float32(name: string): Promise<Float32Array> {
    return this.owner(name).float32(name);
  }

  async int32(name: string): Promise<Int32Array> {
    return this.owner(name).int32(name);
  }

  async close(): Promise<void> {
    await closeAll(this.shards);
  }

  private owner(name: string): SafetensorsFile {
    const shard = this.owners.get(name);
    if (shard === undefined) throw unknownTensor(name, this.names(), this.label);
    return shard;
  }
}
