/**
 * Every GPU test runs on every adapter available: `describeEachDevice('conv2d', (get) => …)` registers the
 * suite once per adapter, with a fresh engine made before and destroyed after it. The adapters are the software
 * drivers installed here (lavapipe, SwiftShader), or those named in SYNTHE_TEST_ADAPTERS (comma-separated).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe } from 'vitest';
import { createEngine, type Engine } from '../src/index';

const KNOWN: Record<string, string> = {
  lavapipe: '/usr/share/vulkan/icd.d/lvp_icd.json',
  swiftshader: '/usr/lib/chromium/vk_swiftshader_icd.json',
};

export function testAdapters(): string[] {
  const listed = process.env.SYNTHE_TEST_ADAPTERS;
  if (listed) return listed.split(',').map((s) => s.trim()).filter(Boolean);
  return Object.entries(KNOWN)
    .filter(([, icd]) => existsSync(icd))
    .map(([name]) => name);
}

/** Registers `body` once per adapter; `engine()` returns that adapter's engine inside tests. */
export function describeEachDevice(name: string, body: (engine: () => Engine, adapter: string) => void): void {
  const adapters = testAdapters();
  if (adapters.length === 0) throw new Error('no WebGPU adapter to test on: install mesa-vulkan-drivers (bookworm-backports) or chromium');
  describe.each(adapters)(`${name} [%s]`, (adapter) => {
    let engine: Engine | undefined;
    beforeAll(async () => {
      engine = await createEngine({ adapter });
    });
    afterAll(() => {
      engine?.dispose();
    });
    body(() => {
      if (!engine) throw new Error(`no engine on ${adapter}`);
      return engine;
    }, adapter);
  });
}
