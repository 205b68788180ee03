/**
 * Embedding synthe in a WebGPU app. The app creates the device, the canvas context, the texture and the
 * render pipeline; synthe borrows the device, runs the DCGAN and writes the digit into the app's texture.
 * Order on the shared queue is the app's to decide: `engine.submit()` first, then the app's render pass.
 */
import { createEngine } from '../index';
import quadCode from './embed-quad.wgsl?raw';

const status = document.getElementById('embed-status')!;
const canvas = document.getElementById('scene') as HTMLCanvasElement;
const another = document.getElementById('another') as HTMLButtonElement;

/** The host app's own GPU setup: nothing here is synthe's. */
async function hostSetup() {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) throw new Error('this page needs WebGPU (a recent Chrome, Edge, Safari 26+ or Firefox 141+)');
  const device = await adapter.requestDevice({ label: 'host app' });
  const context = canvas.getContext('webgpu')!;
  const format = navigator.gpu.getPreferredCanvasFormat();
  context.configure({ device, format, alphaMode: 'opaque' });
  // rgba8unorm with STORAGE_BINDING so synthe can write it, TEXTURE_BINDING so the app can sample it.
  const texture = device.createTexture({ size: [28, 28], format: 'rgba8unorm', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING, label: 'digit' });
  const module = device.createShaderModule({ code: quadCode, label: 'quad' });
  const pipeline = device.createRenderPipeline({
    layout: 'auto',
    vertex: { module, entryPoint: 'vertex_main' },
    fragment: { module, entryPoint: 'fragment_main', targets: [{ format }] },
    primitive: { topology: 'triangle-list' },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: texture.createView() },
      { binding: 1, resource: device.createSampler({ magFilter: 'nearest', minFilter: 'nearest' }) },
    ],
  });
  const draw = () => {
    const encoder = device.createCommandEncoder({ label: 'host frame' });
    const pass = encoder.beginRenderPass({
      colorAttachments: [{ view: context.getCurrentTexture().createView(), loadOp: 'clear', storeOp: 'store', clearValue: { r: 0.13, g: 0.15, b: 0.18, a: 1 } }],
    });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.draw(6);
    pass.end();
    device.queue.submit([encoder.finish()]);
  };
  return { device, texture, draw };
}

/** A standard normal latent; any source of randomness will do for the app. */
function gaussianLatent(dim: number): Float32Array {
  const z = new Float32Array(dim);
  for (let i = 0; i < dim; i++) z[i] = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return z;
}

async function main(): Promise<void> {
  const host = await hostSetup();
  const engine = await createEngine({ device: host.device });
  const model = await engine.loadModel(new URL('weights/dcgan-mnist.safetensors', document.baseURI));
  const latentDim = Number(model.config.latentDim);
  let frames = 0;

  const render = async () => {
    const { image } = engine.tidy(() => model.forward({ latent: engine.tensor(gaussianLatent(latentDim), [1, latentDim]) }));
    engine.writeTexture(image!, host.texture, { range: '-1-1' });
    image!.dispose();
    engine.submit();
    host.draw();
    await host.device.queue.onSubmittedWorkDone();
    frames += 1;
    status.textContent = `Digit ${frames} drawn by the app's render pass from its own texture.`;
    canvas.dataset.frames = String(frames);
  };

  another.addEventListener('click', () => void render().catch(fail));
  await render();
}

function fail(error: unknown): void {
  status.textContent = `Error: ${(error as Error).message}`;
  another.disabled = true;
}

main().catch(fail);
