import { createEngine } from '../index';

const status = document.querySelector<HTMLParagraphElement>('#status')!;

try {
  const engine = await createEngine();
  const { info, features } = engine.gpu;
  const enabled = Object.entries(features).filter(([, on]) => on).map(([name]) => name);
  status.textContent = `WebGPU ready: ${info.description || info.vendor || 'unknown adapter'} (${enabled.join(', ') || 'no optional features'})`;
} catch (error) {
  status.textContent = (error as Error).message;
}
