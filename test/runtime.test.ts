import { expect, it } from 'vitest';
import { describeEachDevice } from './devices';
import { createEngine, DeviceLostError, SyntheError } from '../src/index';
import { sizeClass } from '../src/gpu/pool';

it('size classes waste at most a quarter and are multiples of 16 bytes', () => {
  for (const bytes of [1, 255, 256, 257, 1000, 4096, 4097, 123_457, 10_000_000]) {
    const c = sizeClass(bytes);
    expect(c).toBeGreaterThanOrEqual(bytes);
    expect(c % 16).toBe(0);
    if (bytes > 256) expect(c / bytes).toBeLessThanOrEqual(1.25 + 1e-9);
  }
});

describeEachDevice('runtime', (engine) => {
  it('reports the adapter, its limits and optional features', () => {
    const { gpu } = engine();
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(gpu.info.description.length + gpu.info.device.length).toBeGreaterThan(0);
    expect(typeof gpu.features['timestamp-query']).toBe('boolean');
  });

  it('round-trips f32, i32 and (where supported) f16 data', async () => {
    const e = engine();
    const values = [0, 1, -2.5, 3.25, 65504, -1e-3];
    expect(Array.from(await e.tensor(values, [2, 3]).read())).toEqual(values.map((v) => Math.fround(v)));
    expect(Array.from(await e.tensor([1, -7, 2 ** 30], [3], 'i32').readInt())).toEqual([1, -7, 2 ** 30]);
    if (e.gpu.features['shader-f16']) {
      const half = await e.tensor([1, 0.5, -2, 1 / 3], [4], 'f16').read();
      expect(Array.from(half)).toEqual([1, 0.5, -2, 0.333251953125]);
    } else {
      expect(() => e.tensor([1], [1], 'f16')).toThrow(/shader-f16/);
    }
  });

  it('rejects data that does not fit the shape, and use after dispose', () => {
    const e = engine();
    expect(() => e.tensor([1, 2, 3], [2, 2])).toThrow(/3 values but shape \[2, 2\] needs 4/);
    expect(() => e.tensor([1], [-1])).toThrow(/invalid shape/);
    const t = e.tensor([1, 2], [2]);
    t.dispose();
    expect(() => e.ops.relu(t)).toThrow(/after dispose/);
  });

  it('reshape views share the buffer until the last view is disposed', async () => {
    const e = engine();
    const before = e.memory().inUseBuffers;
    const t = e.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const v = t.reshape([3, -1]);
    expect(v.shape).toEqual([3, 2]);
    t.dispose();
    expect(Array.from(await v.read())).toEqual([1, 2, 3, 4, 5, 6]);
    v.dispose();
    expect(e.memory().inUseBuffers).toBe(before);
    expect(() => e.tensor([1, 2, 3], [3]).reshape([2, 2])).toThrow(/cannot reshape/);
  });

  it('tidy frees intermediates, keeps results, and pooled buffers are reused', async () => {
    const e = engine();
    const x = e.tensor(new Float32Array(1000).fill(-1), [10, 100]);
    const step = () => e.tidy(() => e.ops.relu(e.ops.add(e.ops.scale(x, 2), 3)));
    step().dispose();
    const baseline = e.memory();
    for (let i = 0; i < 20; i++) step().dispose();
    const after = e.memory();
    expect(after.inUseBuffers).toBe(baseline.inUseBuffers);
    expect(after.allocatedBytes).toBe(baseline.allocatedBytes);
    const kept = step();
    expect(Array.from(await kept.read()).every((v) => v === 1)).toBe(true);
    expect(() => e.tidy(() => Promise.resolve(1))).toThrow(/synchronous/);
    // A scope that throws frees what it made before the error.
    const before = e.memory().inUseBuffers;
    expect(() => e.tidy(() => e.ops.add(e.ops.scale(x, 2), e.tensor([1, 2], [2])))).toThrow(/broadcast/i);
    expect(e.memory().inUseBuffers).toBe(before);
  });

  it('a recorded plan replays with new inputs and reuses freed buffers inside it', async () => {
    const e = engine();
    const bias = e.tensor([10, 20, 30], [1, 3]);
    const plan = e.record({ x: [2, 3] }, ({ x }) => {
      const a = e.ops.scale(x, 2);
      const b = e.ops.add(a, bias);
      a.dispose();
      const c = e.ops.relu(b);
      b.dispose();
      return { y: c };
    });
    expect(plan.length).toBe(3);
    const first = await plan.run({ x: [1, 2, 3, -40, 5, 6] }).y.read();
    expect(Array.from(first)).toEqual([12, 24, 36, 0, 30, 42]);
    const second = await plan.run({ x: [0, 0, 0, 1, 1, 1] }).y.read();
    expect(Array.from(second)).toEqual([10, 20, 30, 12, 22, 32]);
    // x, y and one reused intermediate: the freed `a` buffer serves `c`.
    expect(plan.allocatedBytes).toBeLessThanOrEqual(3 * 256);
    expect(() => plan.run({} as { x: number[] })).toThrow(/input 'x' was not given/);
    plan.dispose();
  });

  it('constants uploaded while recording survive buffer reuse inside the plan', async () => {
    const e = engine();
    const plan = e.record({ x: [4] }, ({ x }) => {
      const k = e.tensor([1, 2, 3, 4], [4]);
      const y = e.ops.mul(x, k);
      k.dispose();
      const z = e.ops.add(y, 1);
      y.dispose();
      return { z };
    });
    for (let i = 0; i < 2; i++) expect(Array.from(await plan.run({ x: [1, 1, 1, 1] }).z.read())).toEqual([2, 3, 4, 5]);
    plan.dispose();
  });

  it('times dispatches with timestamp queries when the adapter has them', async () => {
    const e = engine();
    if (!e.gpu.features['timestamp-query']) return;
    const x = e.tensor(new Float32Array(4096), [4096]);
    const { timings } = await e.profile(() => e.ops.relu(e.ops.silu(x)));
    expect(timings.map((t) => t.label)).toEqual(['silu', 'relu']);
    expect(timings.every((t) => t.ns >= 0)).toBe(true);
  });

  it('shares a host device and leaves it alive on dispose', async () => {
    const host = engine().device;
    const guest = await createEngine({ device: host });
    expect(await guest.ops.relu(guest.tensor([-1, 2], [2])).read()).toEqual(new Float32Array([0, 2]));
    guest.dispose();
    expect(() => guest.tensor([1], [1])).toThrow(SyntheError);
    const buffer = host.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    buffer.destroy(); // the host device still works
  });

  it('writes results into a buffer the host owns', async () => {
    const e = engine();
    const host = e.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const target = e.wrap(host, [4]);
    const y = e.ops.relu(e.tensor([-1, 2, -3, 4], [4]));
    e.runtime.copy(y.buffer, 0, target.buffer, 0, y.byteLength);
    expect(Array.from(await target.read())).toEqual([0, 2, 0, 4]);
    target.dispose();
    host.destroy();
  });
});

it('a lost device is reported, not swallowed', async () => {
  const lost: string[] = [];
  const e = await createEngine({ onLost: (info) => lost.push(info.reason) });
  const x = e.tensor([1], [1]);
  // destroy() is the one way to lose a device on purpose; it counts as 'destroyed', which onLost skips,
  // but every later use must still fail with DeviceLostError.
  e.device.destroy();
  await e.device.lost;
  expect(() => e.ops.relu(x)).toThrow(DeviceLostError);
  expect(lost).toEqual([]);
});
