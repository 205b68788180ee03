/**
 * Everything positional about a shader comes from the WGSL itself through wgsl_reflect: binding numbers,
 * buffer access modes, uniform member offsets, workgroup sizes and override names. Nothing is written twice.
 */
import { WgslReflect, ResourceType, type VariableInfo, type MemberInfo } from 'wgsl_reflect/wgsl_reflect.module.js';
import { ShaderError } from '../errors';
import type { Shader } from './shader';

/** One binding of an entry point: a buffer, or a storage texture (for writing into a host app's textures). */
export type BindingInfo =
  | { name: string; binding: number; kind: 'uniform' | 'read-only-storage' | 'storage' }
  | { name: string; binding: number; kind: 'storage-texture'; format: GPUTextureFormat; access: GPUStorageTextureAccess };

/** A scalar slot of the uniform struct: where it lives and how it is written. */
export interface UniformField {
  offset: number;
  type: 'f32' | 'u32' | 'i32';
  /** Number of scalars (1 for scalars, 2–4 for vectors, more for arrays). */
  count: number;
  /** Byte distance between consecutive scalars (4 within a vector, the array stride across elements). */
  stride: number;
}

/** What the runtime needs to know about one compute entry point. */
export interface EntryInfo {
  entry: string;
  workgroupSize: [number, number, number];
  bindings: BindingInfo[];
  /** Uniform struct (at most one per entry), keyed by member name. */
  uniform?: { name: string; size: number; fields: Map<string, UniformField> };
  overrides: Set<string>;
}

const cache = new Map<string, Map<string, EntryInfo>>();

/** Reflects every compute entry point of a shader's composed code (cached by that text). */
export function reflectShader(shader: Shader): Map<string, EntryInfo> {
  let entries = cache.get(shader.code);
  if (entries) return entries;
  const shaderName = shader.id;
  let reflect: WgslReflect;
  try {
    reflect = new WgslReflect(shader.code);
  } catch (error) {
    // wgsl_reflect ends its messages with "Line: N" of the composed code.
    const message = (error as Error).message.replace(/Line: (\d+)/, (_, line: string) => `at ${shader.origin(Number(line))}`);
    throw new ShaderError(`shader '${shaderName}' could not be parsed: ${message}`);
  }
  entries = new Map();
  for (const fn of reflect.entry.compute) {
    const bindings: BindingInfo[] = [];
    let uniform: EntryInfo['uniform'];
    for (const res of fn.resources) {
      if (res.group !== 0) throw new ShaderError(`shader '${shaderName}': binding '${res.name}' must be in @group(0)`);
      bindings.push(bindingInfo(res, shaderName));
      if (res.resourceType === ResourceType.Uniform) {
        if (uniform) throw new ShaderError(`shader '${shaderName}' entry '${fn.name}' has more than one uniform buffer`);
        uniform = { name: res.name, size: res.size, fields: uniformFields(res.members ?? [], shaderName) };
      }
    }
    bindings.sort((a, b) => a.binding - b.binding);
    const wg = fn.workgroupSize ?? [1, 1, 1];
    entries.set(fn.name, {
      entry: fn.name,
      workgroupSize: [wg[0] ?? 1, wg[1] ?? 1, wg[2] ?? 1],
      bindings,
      uniform,
      overrides: new Set(reflect.overrides.map((o) => o.name)),
    });
  }
  cache.set(shader.code, entries);
  return entries;
}

const TEXTURE_ACCESS: Record<string, GPUStorageTextureAccess> = { write: 'write-only', read: 'read-only', read_write: 'read-write' };

function bindingInfo(res: VariableInfo, shaderName: string): BindingInfo {
  const base = { name: res.name, binding: res.binding };
  switch (res.resourceType) {
    case ResourceType.Uniform:
      return { ...base, kind: 'uniform' };
    case ResourceType.Storage:
      return { ...base, kind: res.access === 'read' ? 'read-only-storage' : 'storage' };
    case ResourceType.StorageTexture: {
      const format = res.format?.name;
      const access = TEXTURE_ACCESS[res.access];
      if (res.type.name !== 'texture_storage_2d' || !format || !access) {
        throw new ShaderError(`shader '${shaderName}': binding '${res.name}' must be a texture_storage_2d with a format and access mode`);
      }
      return { ...base, kind: 'storage-texture', format: format as GPUTextureFormat, access };
    }
    default:
      throw new ShaderError(`shader '${shaderName}': binding '${res.name}' is neither a buffer nor a storage texture`);
  }
}

const SCALARS = new Set(['f32', 'u32', 'i32']);

function uniformFields(members: MemberInfo[], shaderName: string): Map<string, UniformField> {
  const fields = new Map<string, UniformField>();
  for (const m of members) fields.set(m.name, memberField(m, shaderName));
  return fields;
}

function memberField(m: MemberInfo, shaderName: string): UniformField {
  const typeName = m.type.getTypeName();
  const scalar = (name: string): UniformField['type'] => {
    if (!SCALARS.has(name)) throw new ShaderError(`shader '${shaderName}': uniform member '${m.name}' has unsupported type ${typeName}`);
    return name as UniformField['type'];
  };
  const vector = /^vec([234])<(\w+)>$/.exec(typeName) ?? /^vec([234])([fiu])$/.exec(typeName);
  if (SCALARS.has(typeName)) return { offset: m.offset, type: scalar(typeName), count: 1, stride: 4 };
  if (vector) {
    const base = vector[2]!.length === 1 ? `${vector[2]}32` : vector[2]!;
    return { offset: m.offset, type: scalar(base), count: Number(vector[1]), stride: 4 };
  }
  if (m.isArray) {
    // Arrays of vec4 in uniforms are how WGSL packs small integer arrays (16-byte stride).
    const format = m.format?.getTypeName() ?? '';
    const inner = /^vec4<(\w+)>$/.exec(format) ?? /^vec4([fiu])$/.exec(format);
    if (inner) {
      const base = inner[1]!.length === 1 ? `${inner[1]}32` : inner[1]!;
      return { offset: m.offset, type: scalar(base), count: m.count * 4, stride: 4 };
    }
    return { offset: m.offset, type: scalar(format), count: m.count, stride: m.stride };
  }
  throw new ShaderError(`shader '${shaderName}': uniform member '${m.name}' has unsupported type ${typeName}`);
}

/** Values for a uniform struct: a number per scalar member, an array per vector or array member. */
export type UniformValues = Record<string, number | ArrayLike<number>>;

/** Packs uniform values into the struct's bytes; a missing or unknown member is an error. */
export function packUniforms(info: NonNullable<EntryInfo['uniform']>, values: UniformValues, where: string): ArrayBuffer {
  const bytes = new ArrayBuffer(Math.max(16, Math.ceil(info.size / 16) * 16));
  const view = new DataView(bytes);
  for (const key of Object.keys(values)) {
    if (!info.fields.has(key)) throw new ShaderError(`${where}: uniform '${info.name}' has no member '${key}'`);
  }
  for (const [name, field] of info.fields) {
    const value = values[name];
    if (value === undefined) throw new ShaderError(`${where}: uniform member '${name}' was not given`);
    const list = typeof value === 'number' ? [value] : value;
    if (list.length > field.count) throw new ShaderError(`${where}: uniform member '${name}' holds ${field.count} values, got ${list.length}`);
    for (let i = 0; i < list.length; i++) {
      const at = field.offset + i * field.stride;
      const v = list[i]!;
      switch (field.type) {
        case 'f32':
          view.setFloat32(at, v, true);
          break;
        case 'u32':
          view.setUint32(at, v, true);
          break;
        case 'i32':
          view.setInt32(at, v, true);
          break;
        default:
          field.type satisfies never;
      }
    }
  }
  return bytes;
}
