import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  DTYPES,
  SafetensorsError,
  type SafetensorsSource,
  type OpenSafetensorsOptions,
  type TensorData,
  openSafetensors,
  writeSafetensors,
} from '../../src/io/safetensors';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../src/tensor/f16';

// ---------------------------------------------------------------------------------------------------------
// Helpers

const ALL_BITS = Uint16Array.from({ length: 65536 }, (_, i) => i);

function f32Bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

function fromBits(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

/** The value of an IEEE-style 16-bit float with `exponentBits` exponent bits, from first principles. */
function referenceValue(bits: number, exponentBits: number): number {
  const mantissaBits = 15 - exponentBits;
  const bias = 2 ** (exponentBits - 1) - 1;
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> mantissaBits) & ((1 << exponentBits) - 1);
  const mantissa = bits & ((1 << mantissaBits) - 1);
  if (exponent === (1 << exponentBits) - 1) return mantissa === 0 ? sign * Infinity : NaN;
  if (exponent === 0) return sign * mantissa * 2 ** (1 - bias - mantissaBits);
  return sign * 2 ** (exponent - bias) * (1 + mantissa / 2 ** mantissaBits);
}

/** A safetensors file from a header (object or exact text) and a data area. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array<ArrayBuffer> {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  return withLengthPrefix(BigInt(text.length), text, data);
}

function withLengthPrefix(length: bigint, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(8 + parts.reduce((n, p) => n + p.length, 0));
  new DataView(out.buffer).setBigUint64(0, length, true);
  let offset = 8;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function parseHeaderOf(file: Uint8Array): { length: number; json: Record<string, { data_offsets: number[] }> } {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return { length, json: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length))) };
}

async function openFailure(source: SafetensorsSource, options?: OpenSafetensorsOptions): Promise<SafetensorsError> {
  return expectSafetensorsError(openSafetensors(source, options));
}

async function expectSafetensorsError(promise: Promise<unknown>): Promise<SafetensorsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SafetensorsError);
  const safetensorsError = error as SafetensorsError;
  expect(safetensorsError.name).toBe('SafetensorsError');
  expect(safetensorsError.message).not.toContain('\n');
  return safetensorsError;
}

function syncFailure(fn: () => unknown): SafetensorsError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as Error).message).not.toContain('\n');
    return error as SafetensorsError;
  }
  throw new Error('expected a SafetensorsError');
}

const DTYPE_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

const F32_2 = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };

// ---------------------------------------------------------------------------------------------------------
// f16 / bf16

describe('f16 conversion', () => {
  it('f16ToF32 matches the reference formula for all 65536 bit patterns', () => {
    const values = f16ToF32(ALL_BITS);
    const bits = f32Bits(values);
    for (let h = 0; h < 65536; h++) {
      const expected = referenceValue(h, 5);
      if (Number.isNaN(expected)) {
        // NaN keeps its sign and payload.
        expect(bits[h]).toBe((((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0);
      } else if (!Object.is(values[h], expected)) {
        expect.fail(`f16 ${h.toString(16)}: got ${values[h]}, expected ${expected}`);
      }
    }
  });

  it('f32ToF16 inverts f16ToF32 for every bit pattern; NaNs stay quiet NaNs with their sign', () => {
    const back = f32ToF16(f16ToF32(ALL_BITS));
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      const expected = isNaN ? h | 0x200 : h;
      if (back[h] !== expected) expect.fail(`f16 ${h.toString(16)} came back as ${back[h]!.toString(16)}`);
    }
  });

  it('f32ToF16 rounds to nearest even at every midpoint between neighbouring f16 values', () => {
    const below = f16ToF32(ALL_BITS);
    const cases: number[] = [];
    const expected: number[] = [];
    for (let h = 0; h < 0x7c00; h++) {
      // The midpoint needs 12 significant bits, so it is exact in f32; 65520 is the midpoint to 2^16.
      const mid = h === 0x7bff ? 65520 : (below[h]! + below[h + 1]!) / 2;
      const midBits = f32Bits(Float32Array.of(mid))[0]!;
      const even = (h & 1) === 0 ? h : h + 1;
      for (const sign of [0, 0x80000000]) {
        cases.push((midBits - 1) | sign, midBits | sign, (midBits + 1) | sign);
        expected.push(h | (sign >>> 16), even | (sign >>> 16), (h + 1) | (sign >>> 16));
      }
    }
    const got = f32ToF16(fromBits(cases));
    for (let i = 0; i < cases.length; i++) {
      if (got[i] !== expected[i]) {
        const hex = (n: number) => (n >>> 0).toString(16);
        expect.fail(`f32 bits ${hex(cases[i]!)}: got ${hex(got[i]!)}, want ${hex(expected[i]!)}`);
      }
    }
  });

  it('f32ToF16 sends overflow to infinity and underflow to signed zero', () => {
    const got = f32ToF16(Float32Array.of(1e10, -1e10, Infinity, -Infinity, 3.4e38, 65519.99, 1e-10, -1e-10, 0, -0));
    expect([...got]).toEqual([0x7c00, 0xfc00, 0x7c00, 0xfc00, 0x7c00, 0x7bff, 0, 0x8000, 0, 0x8000]);
    expect(Number.isNaN(f16ToF32(f32ToF16(Float32Array.of(NaN)))[0])).toBe(true);
    // A signaling NaN whose payload sits only in the low bits must not turn into infinity.
    expect(f32ToF16(fromBits([0x7f800001]))[0]).toBe(0x7e00);
  });
});

describe('bf16 conversion', () => {
  it('bf16ToF32 matches the reference formula for all 65536 bit patterns', () => {
    const values = bf16ToF32(ALL_BITS);
    const bits = f32Bits(values);
    for (let h = 0; h < 65536; h++) {
      const expected = referenceValue(h, 8);
      if (Number.isNaN(expected)) expect(bits[h]).toBe((h << 16) >>> 0);
      else if (!Object.is(values[h], expected)) expect.fail(`bf16 ${h.toString(16)}: got ${values[h]}, want ${expected}`);
    }
  });

  it('f32ToBf16 inverts bf16ToF32 and rounds every midpoint to nearest even', () => {
    const back = f32ToBf16(bf16ToF32(ALL_BITS));
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (back[h] !== (isNaN ? h | 0x40 : h)) expect.fail(`bf16 ${h.toString(16)} came back as ${back[h]!.toString(16)}`);
    }
    const cases: number[] = [];
    const expected: number[] = [];
    for (let h = 0; h < 0x7f80; h++) {
      // The midpoint is the bf16 bits followed by a single set bit; above 0x7f7f it rounds up to infinity.
      const mid = (h << 16) | 0x8000;
      for (const sign of [0, 0x80000000]) {
        const s = sign >>> 16;
        cases.push((mid - 1) | sign, mid | sign, (mid + 1) | sign);
        expected.push(h | s, ((h & 1) === 0 ? h : h + 1) | s, (h + 1) | s);
      }
    }
    const got = f32ToBf16(fromBits(cases));
    for (let i = 0; i < cases.length; i++) {
      if (got[i] !== expected[i]) {
        expect.fail(`f32 bits ${(cases[i]! >>> 0).toString(16)}: got ${got[i]}, want ${expected[i]}`);
      }
    }
    expect(f32ToBf16(fromBits([0x7f800001]))[0]).toBe(0x7fc0);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Writing and reading back

const F16_VALUES = Float32Array.of(1, -2, 0.5, 65504);
const SAMPLE: Record<string, TensorData> = {
  f64: { dtype: 'F64', shape: [3], data: Float64Array.of(1.5, -2.25, 1e10) },
  f32: { dtype: 'F32', shape: [2, 2], data: Float32Array.of(1, 2, 3, -4.5) },
  f16: { dtype: 'F16', shape: [4], data: f32ToF16(F16_VALUES) },
  bf16: { dtype: 'BF16', shape: [2, 1], data: f32ToBf16(Float32Array.of(3.5, -0.15625)) },
  i64: { dtype: 'I64', shape: [4], data: BigInt64Array.of(1n, -2n, 2147483647n, -2147483648n) },
  i32: { dtype: 'I32', shape: [3], data: Int32Array.of(7, -8, 1 << 30) },
  i16: { dtype: 'I16', shape: [3], data: Int16Array.of(-32768, 0, 32767) },
  i8: { dtype: 'I8', shape: [1, 3], data: Int8Array.of(-128, 5, 127) },
  u8: { dtype: 'U8', shape: [3], data: Uint8Array.of(0, 128, 255) },
  bool: { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) },
  scalar: { dtype: 'F32', shape: [], data: Float32Array.of(42) },
  empty: { dtype: 'I16', shape: [0, 5], data: new Int16Array(0) },
};
const FLOATS: Record<string, number[]> = {
  f64: [1.5, -2.25, 1e10],
  f32: [1, 2, 3, -4.5],
  f16: [...F16_VALUES],
  bf16: [3.5, -0.15625],
  i64: [1, -2, 2147483647, -2147483648],
  i32: [7, -8, 1 << 30],
  i16: [-32768, 0, 32767],
  i8: [-128, 5, 127],
  u8: [0, 128, 255],
  bool: [1, 0, 1],
  scalar: [42],
  empty: [],
};

describe('writeSafetensors round trip', () => {
  const file = writeSafetensors(SAMPLE, { format: 'pt', note: 'ünïcode ✓' });

  it('covers every dtype', () => {
    expect(new Set(Object.values(SAMPLE).map((t) => t.dtype))).toEqual(new Set(DTYPES));
  });

  it('reads back names, infos, metadata, bytes and converted values', async () => {
    const st = await openSafetensors(file);
    expect(st.names()).toEqual(Object.keys(SAMPLE));
    expect(st.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    for (const [name, tensor] of Object.entries(SAMPLE)) {
      expect(st.has(name)).toBe(true);
      expect(st.info(name)).toEqual({ name, dtype: tensor.dtype, shape: tensor.shape, byteLength: tensor.data.byteLength });
      const original = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
      expect(await st.bytes(name)).toEqual(original);
      // float32() rounds like any f32 conversion: 2147483647 becomes 2^31.
      expect([...(await st.float32(name))]).toEqual(FLOATS[name]!.map(Math.fround));
    }
    expect(st.has('nope')).toBe(false);
    await st.close();
  });

  it('int32() reads every integer dtype and refuses floats and oversized I64 values', async () => {
    const st = await openSafetensors(file);
    for (const name of ['i64', 'i32', 'i16', 'i8', 'u8', 'bool', 'empty']) {
      expect([...(await st.int32(name))]).toEqual(FLOATS[name]);
    }
    const floatError = await expectSafetensorsError(st.int32('f32'));
    expect(floatError.message).toContain('tensor "f32"');
    expect(floatError.message).toContain('needs an integer dtype, not F32');
    const ids = BigInt64Array.of(5n, 5_000_000_000n);
    const big = await openSafetensors(writeSafetensors({ ids: { dtype: 'I64', shape: [2], data: ids } }));
    const overflow = await expectSafetensorsError(big.int32('ids'));
    expect(overflow.message).toContain('tensor "ids": I64 element 1 is 5000000000, which does not fit in int32');
    expect(overflow.tensor).toBe('ids');
    expect([...(await big.float32('ids'))]).toEqual([5, 5e9]);
  });

  it('pads the header to 8 bytes and packs the data with no gaps, every tensor aligned', () => {
    const { length, json } = parseHeaderOf(file);
    expect(length % 8).toBe(0);
    expect(Object.keys(json)).toEqual(['__metadata__', ...Object.keys(SAMPLE)]);
    const ranges = Object.entries(SAMPLE)
      .map(([name, t]) => ({ size: DTYPE_BYTES[t.dtype], range: json[name]!.data_offsets }))
      .sort((a, b) => a.range[0]! - b.range[0]! || a.range[1]! - b.range[1]!);
    let end = 0;
    for (const { size, range } of ranges) {
      // Contiguous offsets are what the reference (Rust/Python) implementation insists on.
      expect(range[0]).toBe(end);
      expect((8 + length + range[0]!) % size).toBe(0);
      end = range[1]!;
    }
    expect(8 + length + end).toBe(file.length);
  });

  it('accepts a Map, raw bytes for any dtype, and __proto__ as a name or metadata key', async () => {
    const raw = new Uint8Array(Float32Array.of(1, 2).buffer);
    const tensors = new Map<string, TensorData>([
      ['z', { dtype: 'F32', shape: [2], data: raw }],
      ['__proto__', { dtype: 'U8', shape: [1], data: Uint8Array.of(9) }],
    ]);
    const st = await openSafetensors(writeSafetensors(tensors, new Map([['__proto__', 'polluted?']])));
    expect(st.names()).toEqual(['z', '__proto__']);
    expect([...(await st.float32('z'))]).toEqual([1, 2]);
    expect([...(await st.int32('__proto__'))]).toEqual([9]);
    expect(Object.getOwnPropertyDescriptor(st.metadata, '__proto__')?.value).toBe('polluted?');
    expect(({} as Record<string, unknown>)['dtype']).toBeUndefined();
  });

  it('writes an empty file that reads back empty', async () => {
    const st = await openSafetensors(writeSafetensors({}));
    expect(st.names()).toEqual([]);
    expect(st.metadata).toEqual({});
    expect(syncFailure(() => st.info('w')).message).toContain('the file has no tensors');
  });

  it('refuses tensors that do not check out, naming them', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ dtype: 'F32', shape: [2, 3], data: new Float32Array(5) }, 'shape [2,3] of F32 needs 24 bytes but data has 20'],
      [
        { dtype: 'F16', shape: [2], data: new Float32Array(2) },
        'F16 data must be a Uint16Array or raw bytes in a Uint8Array, got Float32Array',
      ],
      [{ dtype: 'F8', shape: [1], data: new Uint8Array(1) }, 'unknown dtype "F8" (supported: F64, F32, F16, BF16, I64'],
      [{ dtype: 'F32', shape: [-1], data: new Float32Array(1) }, 'shape must be an array of non-negative safe integers'],
      [{ dtype: 'F32', shape: [1], data: [1] }, 'got an array'],
    ];
    for (const [tensor, message] of cases) {
      const error = syncFailure(() => writeSafetensors({ w: tensor as unknown as TensorData }));
      expect(error.message).toContain('tensor "w": ');
      expect(error.message).toContain(message);
    }
    const reserved = syncFailure(() => writeSafetensors({ __metadata__: SAMPLE['u8']! }));
    expect(reserved.message).toContain('"__metadata__" is reserved');
    const metadata = syncFailure(() => writeSafetensors({}, { n: 1 } as unknown as Record<string, string>));
    expect(metadata.message).toContain('__metadata__ values must be strings, but "n" is a number');
  });

  it('suggests close names for an unknown tensor', async () => {
    const st = await openSafetensors(file);
    const error = syncFailure(() => st.info('f63'));
    expect(error.message).toMatch(/tensor "f63": not found among 12 tensors; closest: "f64", "f32", "f16"/);
    expect((await expectSafetensorsError(st.bytes('i33'))).message).toContain('closest: "i32"');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Malformed files

describe('malformed files', () => {
  const cases: [string, Uint8Array, string[]][] = [
    ['a file shorter than 8 bytes', Uint8Array.of(1, 2, 3), ['file is 3 bytes, shorter than the 8-byte header length']],
    ['a header longer than the file', withLengthPrefix(100n, new Uint8Array(10)), ['header length 100 exceeds the 10']],
    ['a header claiming 2^40 bytes', withLengthPrefix(2n ** 40n, new Uint8Array(16)), ['length 1099511627776 exceeds']],
    ['a header claiming 2^64-1 bytes', withLengthPrefix(2n ** 64n - 1n), ['length 18446744073709551615 exceeds']],
    ['invalid UTF-8', withLengthPrefix(3n, Uint8Array.of(0x7b, 0xff, 0x7d)), ['header is not valid UTF-8']],
    ['invalid JSON', rawFile('{"w": '), ['header is not valid JSON']],
    ['an empty header', rawFile(''), ['header is not valid JSON']],
    ['an array header', rawFile([1, 2]), ['header is an array, not a JSON object']],
    ['a null header', rawFile('null'), ['header is null, not a JSON object']],
    [
      'non-string metadata',
      rawFile({ __metadata__: { a: 1 } }),
      ['__metadata__ must map strings to strings, but "a" is a number'],
    ],
    ['array metadata', rawFile({ __metadata__: ['a'] }), ['__metadata__ must be an object of strings, got an array']],
    ['an entry that is not an object', rawFile({ w: 5 }), ['tensor "w": header entry is a number, not an object']],
    [
      'an entry without data_offsets',
      rawFile({ w: { dtype: 'F32', shape: [1] } }),
      ['tensor "w": header entry has no "data_offsets"'],
    ],
    [
      'an entry without dtype',
      rawFile({ w: { shape: [1], data_offsets: [0, 4] } }),
      ['tensor "w": header entry has no "dtype"'],
    ],
    [
      'an unknown dtype',
      rawFile({ w: { ...F32_2, dtype: 'F8_E4M3' } }),
      ['tensor "w": unknown dtype "F8_E4M3"', '(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)'],
    ],
    ['a prototype key as dtype', rawFile({ w: { ...F32_2, dtype: 'toString' } }), ['unknown dtype "toString"']],
    [
      'a negative dimension',
      rawFile({ w: { ...F32_2, shape: [-2] } }),
      ['tensor "w": shape must be an array of non-negative safe integers, got [-2]'],
    ],
    ['a fractional dimension', rawFile({ w: { ...F32_2, shape: [1.5] } }), ['shape must be']],
    ['an unsafe dimension', rawFile({ w: { ...F32_2, shape: [2 ** 53] } }), ['shape must be']],
    ['a string shape', rawFile({ w: { ...F32_2, shape: '2' } }), ['shape must be an array', 'got "2"']],
    [
      'reversed data_offsets',
      rawFile({ w: { ...F32_2, data_offsets: [8, 0] } }),
      ['tensor "w": data_offsets must be [begin, end]', 'got [8,0]'],
    ],
    ['one data_offset', rawFile({ w: { ...F32_2, data_offsets: [8] } }), ['data_offsets must be']],
    ['negative data_offsets', rawFile({ w: { ...F32_2, data_offsets: [-8, 0] } }), ['data_offsets must be']],
    ['fractional data_offsets', rawFile({ w: { ...F32_2, data_offsets: [0, 7.5] } }), ['data_offsets must be']],
    [
      'a size mismatch',
      rawFile({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(24)),
      ['tensor "w": shape [2,3] of F32 needs 24 bytes but data_offsets [0, 20] hold 20'],
    ],
    [
      'a shape far beyond any file size',
      rawFile({ w: { dtype: 'F64', shape: [2 ** 52, 2 ** 52 + 1], data_offsets: [0, 0] } }),
      ['needs 162259276829213399420375029252096 bytes'],
    ],
    [
      'a range past the end',
      rawFile({ w: F32_2 }, new Uint8Array(4)),
      ['tensor "w": data_offsets [0, 8] run past the 4-byte data area'],
    ],
    [
      'overlapping tensors',
      rawFile({ a: F32_2, b: { ...F32_2, data_offsets: [4, 12] } }, new Uint8Array(12)),
      ['tensor "b": data_offsets [4, 12] overlap tensor "a" [0, 8]'],
    ],
  ];

  for (const [what, file, messages] of cases) {
    it(`rejects ${what}`, async () => {
      const error = await openFailure(file);
      for (const message of messages) expect(error.message).toContain(message);
    });
  }

  it('rejects a header above maxHeaderBytes before reading it', async () => {
    const error = await openFailure(writeSafetensors(SAMPLE), { maxHeaderBytes: 64 });
    expect(error.message).toMatch(/^<buffer>: header length \d+ exceeds maxHeaderBytes \(64\)$/);
  });

  it('reads only the 8-byte prefix of a file whose header length is absurd', async () => {
    const slices: number[] = [];
    class SpyBlob extends Blob {
      override slice(start?: number, end?: number, type?: string): Blob {
        slices.push((end ?? this.size) - (start ?? 0));
        return super.slice(start, end, type);
      }
    }
    const started = performance.now();
    await openFailure(new SpyBlob([withLengthPrefix(2n ** 40n, new Uint8Array(100))]));
    expect(slices).toEqual([8]);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('accepts headers padded with spaces, empty tensors anywhere, and __proto__ keys without pollution', async () => {
    const header =
      '{"__proto__": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}, ' +
      '"e": {"dtype": "F32", "shape": [0], "data_offsets": [1, 1]}, "__metadata__": {"__proto__": "x"}}     ';
    const st = await openSafetensors(rawFile(header, Uint8Array.of(3, 4)));
    expect(st.names()).toEqual(['__proto__', 'e']);
    expect([...(await st.int32('__proto__'))]).toEqual([3, 4]);
    expect(st.info('e').shape).toEqual([0]);
    expect(Object.getPrototypeOf(st.metadata)).toBe(Object.prototype);
    expect(Object.keys(st.metadata)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['shape']).toBeUndefined();
  });

  it('rejects sources it cannot open', async () => {
    expect((await openFailure(42 as unknown as SafetensorsSource)).message).toContain('cannot open [object Number]');
    expect((await openFailure(new Uint8Array(0), { maxHeaderBytes: -1 })).message).toContain('maxHeaderBytes must be');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Sources

describe('Blob and buffer sources', () => {
  const file = writeSafetensors(SAMPLE);

  it('reads from a Blob, a File and a typed-array view with an offset', async () => {
    const padded = new Uint8Array(file.length + 3);
    padded.set(file, 3);
    for (const source of [new Blob([file]), new File([file], 'model.safetensors'), padded.subarray(3), file.buffer]) {
      const st = await openSafetensors(source);
      expect([...(await st.float32('f32'))]).toEqual(FLOATS['f32']);
      expect([...(await st.float32('bf16'))]).toEqual(FLOATS['bf16']);
    }
  });

  it('names a File in its errors', async () => {
    const error = await openFailure(new File([file.subarray(0, 5)], 'broken.safetensors'));
    expect(error.message).toBe('broken.safetensors: file is 5 bytes, shorter than the 8-byte header length');
    expect(error.source).toBe('broken.safetensors');
  });
});

describe('Node file sources', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'synthe-safetensors-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a path and a file: URL, and refuses reads after close', async () => {
    const path = join(dir, 'model.safetensors');
    await writeFile(path, writeSafetensors(SAMPLE, { k: 'v' }));
    for (const source of [path, pathToFileURL(path)]) {
      const st = await openSafetensors(source);
      expect(st.metadata).toEqual({ k: 'v' });
      expect([...(await st.float32('f16'))]).toEqual(FLOATS['f16']);
      await st.close();
      await st.close();
      expect((await expectSafetensorsError(st.bytes('f16'))).message).toContain('tensor "f16": file is closed');
      expect(st.info('f16').dtype).toBe('F16');
    }
  });

  it('validates against the real file size and reports unreadable files', async () => {
    const path = join(dir, 'truncated.safetensors');
    await writeFile(path, writeSafetensors(SAMPLE).subarray(0, 200));
    expect((await openFailure(path)).message).toMatch(/^.*truncated\.safetensors: header length \d+ exceeds the 192 bytes/);
    const missing = await openFailure(join(dir, 'missing.safetensors'));
    expect(missing.message).toContain('cannot open file (ENOENT');
  });

  describe('sharded checkpoints', () => {
    const shard1 = writeSafetensors({ a: SAMPLE['f32']!, b: SAMPLE['i8']! }, { format: 'pt' });
    const shard2 = writeSafetensors({ c: SAMPLE['bf16']! }, { format: 'pt', extra: 'x' });
    const index = (weightMap: Record<string, string>) =>
      JSON.stringify({ metadata: { total_size: 123 }, weight_map: weightMap });

    const [FIRST, SECOND] = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const GOOD = { a: FIRST, c: SECOND, b: FIRST };

    async function writeCheckpoint(name: string, weightMap: Record<string, string>): Promise<string> {
      const folder = await mkdtemp(join(dir, `${name}-`));
      await writeFile(join(folder, FIRST), shard1);
      await writeFile(join(folder, SECOND), shard2);
      const path = join(folder, 'model.safetensors.index.json');
      await writeFile(path, index(weightMap));
      return path;
    }

    it('presents two shards as one file', async () => {
      const st = await openSafetensors(await writeCheckpoint('good', GOOD));
      expect(st.names()).toEqual(['a', 'b', 'c']);
      expect(st.metadata).toEqual({ format: 'pt', extra: 'x', total_size: '123' });
      expect(st.info('c')).toEqual({ name: 'c', dtype: 'BF16', shape: [2, 1], byteLength: 4 });
      expect([...(await st.float32('a'))]).toEqual(FLOATS['f32']);
      expect([...(await st.float32('c'))]).toEqual(FLOATS['bf16']);
      expect([...(await st.int32('b'))]).toEqual(FLOATS['i8']);
      expect([...(await st.bytes('b'))]).toEqual([128, 5, 127]);
      expect(syncFailure(() => st.info('d')).message).toContain('not found among 3 tensors');
      await st.close();
      expect((await expectSafetensorsError(st.bytes('c'))).message).toContain('file is closed');
    });

    it('rejects a tensor in two shards', async () => {
      const path = await writeCheckpoint('dup', GOOD);
      await writeFile(path.replace('model.safetensors.index.json', SECOND), shard1);
      const error = await openFailure(path);
      expect(error.message).toContain(`tensor "a": is in both shard "${FIRST}" and shard "${SECOND}"`);
    });

    it('rejects a weight_map entry missing from its shard', async () => {
      const error = await openFailure(await writeCheckpoint('missing', { ...GOOD, c: FIRST }));
      expect(error.message).toContain(`tensor "c": weight_map puts it in shard "${FIRST}", which has no such tensor`);
    });

    it('rejects shard paths that escape the index folder and malformed indexes', async () => {
      const escape = await openFailure(await writeCheckpoint('escape', { a: '../model.safetensors' }));
      expect(escape.message).toContain('weight_map names shard "../model.safetensors"; shards must be relative paths');
      const absolute = await openFailure(await writeCheckpoint('absolute', { a: 'https://example.com/x.safetensors' }));
      expect(absolute.message).toContain('shards must be relative paths');
      const path = await writeCheckpoint('bad', GOOD);
      for (const [text, message] of [
        ['{"weight_map": ', 'index is not valid JSON'],
        ['{}', 'index has no "weight_map"'],
        ['{"weight_map": {"a": 1}}', 'weight_map must map strings to strings, but "a" is a number'],
        ['{"weight_map": {}, "metadata": 3}', 'index metadata must be an object, got a number'],
      ] as const) {
        await writeFile(path, text);
        expect((await openFailure(path)).message).toContain(message);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// HTTP sources

interface TestServer {
  base: string;
  /** Body bytes sent so far. */
  served: number;
  /** Range header of every request ("" when there was none). */
  ranges: string[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, server: TestServer) => void;

async function listen(handler: Handler): Promise<TestServer> {
  const http = createServer((req, res) => {
    server.ranges.push(req.headers.range ?? '');
    handler(req, res, server);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const server: TestServer = {
    base: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    served: 0,
    ranges: [],
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
  return server;
}

function send(res: ServerResponse, server: TestServer, status: number, headers: Record<string, string>, body: Uint8Array) {
  server.served += body.length;
  res.writeHead(status, headers);
  res.end(body);
}

/** Serves `files` by path, honouring single byte ranges unless `ignoreRange`; `chunked` omits Content-Length. */
function fileServer(files: Record<string, Uint8Array>, options: { ignoreRange?: boolean; chunked?: boolean } = {}): Handler {
  return (req, res, server) => {
    const body = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (body === undefined) return send(res, server, 404, {}, new Uint8Array(0));
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range === null || options.ignoreRange) {
      if (!options.chunked) return send(res, server, 200, { 'Content-Length': String(body.length) }, body);
      res.writeHead(200);
      for (let at = 0; at < body.length; at += 100_000) res.write(body.subarray(at, at + 100_000));
      server.served += body.length;
      return res.end();
    }
    const start = Number(range[1]);
    if (start >= body.length) {
      return send(res, server, 416, { 'Content-Range': `bytes */${body.length}` }, new Uint8Array(0));
    }
    const part = body.subarray(start, Math.min(Number(range[2]) + 1, body.length));
    const contentRange = `bytes ${start}-${start + part.length - 1}/${body.length}`;
    send(res, server, 206, { 'Content-Range': contentRange, 'Content-Length': String(part.length) }, part);
  };
}

describe('URL sources', () => {
  const big = new Float32Array(65536).map((_, i) => i * 0.5);
  const file = writeSafetensors({
    big: { dtype: 'F32', shape: [256, 256], data: big },
    bias: { dtype: 'F16', shape: [4], data: f32ToF16(F16_VALUES) },
  });

  it('reads one tensor by Range requests without downloading the file', async () => {
    const server = await listen(fileServer({ '/model.safetensors': file }));
    try {
      const st = await openSafetensors(`${server.base}/model.safetensors`);
      expect([...(await st.float32('bias'))]).toEqual([...F16_VALUES]);
      const { length } = parseHeaderOf(file);
      expect(server.ranges).toEqual(['bytes=0-7', `bytes=8-${7 + length}`, expect.stringMatching(/^bytes=\d+-\d+$/)]);
      expect(server.served).toBe(8 + length + 8);
      expect(server.served).toBeLessThan(file.length / 100);
      expect(await st.float32('big')).toEqual(big);
    } finally {
      await server.close();
    }
  });

  it('falls back to a streamed download with progress when the server ignores Range', async () => {
    const server = await listen(fileServer({ '/model.safetensors': file }, { ignoreRange: true }));
    try {
      const progress: [number, number | undefined][] = [];
      const st = await openSafetensors(new URL(`${server.base}/model.safetensors?download=1`), {
        onProgress: (loaded, total) => progress.push([loaded, total]),
      });
      expect(progress.at(-1)).toEqual([file.length, file.length]);
      expect(progress.every(([loaded], i) => i === 0 || loaded > progress[i - 1]![0])).toBe(true);
      expect(await st.float32('big')).toEqual(big);
      expect([...(await st.float32('bias'))]).toEqual([...F16_VALUES]);
      expect(server.ranges).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('streams a body of unknown length past its first buffer', async () => {
    const large = writeSafetensors({ x: { dtype: 'F32', shape: [300_000], data: new Float32Array(300_000).fill(2) } });
    const server = await listen(fileServer({ '/large.safetensors': large }, { ignoreRange: true, chunked: true }));
    try {
      const totals = new Set<number | undefined>();
      const st = await openSafetensors(`${server.base}/large.safetensors`, { onProgress: (_, total) => totals.add(total) });
      expect(totals).toEqual(new Set([undefined]));
      const x = await st.float32('x');
      expect(x.length).toBe(300_000);
      expect(x.every((v) => v === 2)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('refuses a header claiming 2^40 bytes after one 8-byte request', async () => {
    const server = await listen((_req, res, self) => {
      const prefix = withLengthPrefix(2n ** 40n);
      send(res, self, 206, { 'Content-Range': `bytes 0-7/${2 ** 41}`, 'Content-Length': '8' }, prefix);
    });
    try {
      const error = await openFailure(`${server.base}/huge.safetensors`);
      const expected = 'header length 1099511627776 exceeds maxHeaderBytes (104857600)';
      expect(error.message).toBe(`${server.base}/huge.safetensors: ${expected}`);
      expect(server.ranges).toEqual(['bytes=0-7']);
    } finally {
      await server.close();
    }
  });

  it('checks data_offsets against the Content-Range total and reports HTTP errors', async () => {
    const short = rawFile({ w: F32_2 }, new Uint8Array(4));
    const server = await listen(fileServer({ '/short.safetensors': short, '/empty.safetensors': new Uint8Array(0) }));
    try {
      expect((await openFailure(`${server.base}/short.safetensors`)).message).toContain('run past the 4-byte data area');
      expect((await openFailure(`${server.base}/empty.safetensors`)).message).toContain('file is 0 bytes');
      const missing = `${server.base}/missing.safetensors`;
      expect((await openFailure(missing)).message).toBe(`${missing}: HTTP 404 Not Found`);
    } finally {
      await server.close();
    }
  });

  it('downloads the whole file when the server does not know the total size', async () => {
    const server = await listen((req, res, self) => {
      if (req.headers.range === undefined) return send(res, self, 200, {}, file);
      send(res, self, 206, { 'Content-Range': 'bytes 0-7/*' }, file.subarray(0, 8));
    });
    try {
      const st = await openSafetensors(`${server.base}/model.safetensors`);
      expect([...(await st.float32('bias'))]).toEqual([...F16_VALUES]);
      expect(server.ranges).toEqual(['bytes=0-7', '']);
    } finally {
      await server.close();
    }
  });

  it('fails cleanly when a server stops honouring ranges or drops a download', async () => {
    const flaky = await listen((req, res, self) => {
      if (req.headers.range === 'bytes=0-7' || self.ranges.length === 2) return fileServer({ '/m': file })(req, res, self);
      send(res, self, 200, { 'Content-Length': String(file.length) }, file);
    });
    const dropping = await listen((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(file.length) });
      res.write(file.subarray(0, 1000));
      setTimeout(() => res.destroy(), 10);
    });
    try {
      const st = await openSafetensors(`${flaky.base}/m`);
      const error = await expectSafetensorsError(st.bytes('bias'));
      expect(error.message).toMatch(/server did not honour the Range request for bytes \d+-\d+ \(HTTP 200\)$/);
      const dropped = await openFailure(`${dropping.base}/m`);
      expect(dropped.message).toContain('download failed after 1000 bytes');
    } finally {
      await flaky.close();
      await dropping.close();
    }
  });

  it('opens a sharded checkpoint relative to its index URL', async () => {
    const files = {
      '/repo/model.safetensors.index.json': new TextEncoder().encode(
        JSON.stringify({ weight_map: { big: 'a b#1.safetensors', bias: 'sub/b.safetensors' } }),
      ),
      '/repo/a%20b%231.safetensors': writeSafetensors({ big: { dtype: 'F32', shape: [256, 256], data: big } }),
      '/repo/sub/b.safetensors': writeSafetensors({ bias: { dtype: 'F16', shape: [4], data: f32ToF16(F16_VALUES) } }),
    };
    const server = await listen(fileServer(files));
    try {
      const st = await openSafetensors(`${server.base}/repo/model.safetensors.index.json`);
      expect(st.names()).toEqual(['big', 'bias']);
      expect([...(await st.float32('bias'))]).toEqual([...F16_VALUES]);
      expect(server.served).toBeLessThan(2000);
    } finally {
      await server.close();
    }
  });

  it('uses a custom fetch and wraps network failures', async () => {
    const seen: string[] = [];
    const server = await listen(fileServer({ '/model.safetensors': file }));
    try {
      const st = await openSafetensors(`${server.base}/model.safetensors`, {
        fetch: (input, init) => {
          seen.push(String(input));
          return fetch(input, init);
        },
      });
      await st.float32('bias');
      expect(seen).toHaveLength(3);
    } finally {
      await server.close();
    }
    const error = await openFailure(`${server.base}/model.safetensors`);
    expect(error.message).toContain('fetch failed');
  });
});
