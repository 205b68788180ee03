/** GAN controls: a seeded batch laid out as a contact sheet, and a slerp strip between the latents of two seeds. */
import { contactSheet, type RgbaImage } from '../../io/image';
import type { Model } from '../../models/model';
import { generateImages, sampleLatents, slerpLatents } from '../../pipelines/gan';
import { makeRng } from '../../random';
import type { App, JobContext, Panel } from '../app';
import type { GenerationParameters } from '../download';
import { byId, intValue, randomSeed } from '../ui';

/** Images per forward: enough to keep the GPU busy, few enough to show progress on slow adapters. */
const BATCH = 16;

export function ganPanel(app: App): Panel {
  const form = byId<HTMLFormElement>('gan-panel');
  const seed = byId<HTMLInputElement>('gan-seed');
  const seedTo = byId<HTMLInputElement>('gan-seed-to');
  const batch = byId<HTMLInputElement>('gan-batch');
  const frames = byId<HTMLInputElement>('gan-frames');
  const buttons = [byId<HTMLButtonElement>('gan-generate'), byId<HTMLButtonElement>('gan-interpolate')];
  byId('gan-seed-random').addEventListener('click', () => (seed.value = String(randomSeed())));
  byId('gan-seed-to-random').addEventListener('click', () => (seedTo.value = String(randomSeed())));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const s = intValue(seed);
    const n = intValue(batch);
    void app.run({
      kind: 'gan',
      title: `Generating ${n} digit${n === 1 ? '' : 's'}`,
      stepName: 'batch',
      cancellable: n > BATCH,
      work: async (ctx) => {
        const model = ctx.loaded.model;
        const latents = sampleLatents(makeRng(s), n, latentDim(model));
        const images = await generate(ctx, model, latents);
        if (images.length === 0) return;
        const sheet = contactSheet(images, Math.ceil(Math.sqrt(images.length)));
        ctx.show(sheet, { model: app.entry.id, seed: s, batch: n, ...(images.length < n ? { cancelledAfter: images.length } : {}) });
      },
    });
  });

  byId('gan-interpolate').addEventListener('click', () => {
    const from = intValue(seed);
    const to = intValue(seedTo);
    const k = intValue(frames);
    void app.run({
      kind: 'gan',
      title: `Interpolating seed ${from} → ${to}`,
      stepName: 'batch',
      cancellable: k > BATCH,
      work: async (ctx) => {
        const model = ctx.loaded.model;
        const dim = latentDim(model);
        // The same first draw of each seed as a batch of one, so the strip's ends are those digits.
        const latents = slerpLatents(makeRng(from).randn(dim), makeRng(to).randn(dim), k);
        const images = await generate(ctx, model, latents);
        if (images.length === 0) return;
        const parameters: GenerationParameters = { model: app.entry.id, seed: from, seedTo: to, interpolationFrames: k };
        ctx.show(contactSheet(images, images.length), parameters);
      },
    });
  });

  return {
    element: form,
    setBusy: (busy) => buttons.forEach((b) => (b.disabled = busy)),
  };
}

function latentDim(model: Model): number {
  return Number(model.config.latentDim);
}

/** The generator over (count, dim) latents, with progress; stops early, keeping what is done, when cancelled. */
function generate(ctx: JobContext, model: Model, latents: Float32Array): Promise<RgbaImage[]> {
  return generateImages(ctx.engine, model, latents, {
    batchSize: BATCH,
    cancelled: ctx.cancelled,
    onProgress: (done, total) => {
      ctx.timer.step();
      ctx.progress(done, total, `Generated ${done} of ${total}`);
    },
  });
}
