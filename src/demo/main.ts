/**
 * Entry point: checks that WebGPU can run here (and says what is missing when it cannot, never leaving a
 * blank page), fetches the list of published weights, then starts the app.
 */
import { App } from './app';
import { checkWebGpu } from './support';
import { byId } from './ui';
import { fetchManifest } from './weights-cache';

const adapter = byId('adapter');

function unsupported(title: string, detail: string): void {
  adapter.textContent = title;
  byId('unsupported-title').textContent = title;
  byId('unsupported-detail').textContent = detail;
  byId('unsupported').hidden = false;
  byId('app').hidden = true;
}

async function start(): Promise<void> {
  const support = await checkWebGpu();
  if (!support.ok) return unsupported(support.title, support.detail);
  adapter.textContent = `WebGPU on ${support.adapterName}`;
  const manifest = await fetchManifest();
  byId('app').hidden = false;
  const app = new App(manifest, support.timestamps);
  await app.start(support.adapterName);
}

start().catch((error: unknown) => unsupported('The demo could not start', (error as Error).message ?? String(error)));
