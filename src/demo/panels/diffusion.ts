/**
 * Diffusion controls: digit class, steps, scheduler, guidance and seed; a progress bar that moves every
 * denoising step with a live preview of the sample, and Cancel, which stops between steps.
 */
import type { App, Panel } from '../app';
import { DIGIT_CLASSES, SCHEDULERS } from '../diffusion-digits';
import { contactSheet } from '../../io/image';
import { byId, intValue, randomSeed } from '../ui';

export function diffusionPanel(app: App): Panel {
  const form = byId<HTMLFormElement>('diffusion-panel');
  const digit = byId<HTMLSelectElement>('diffusion-class');
  const steps = byId<HTMLInputElement>('diffusion-steps');
  const scheduler = byId<HTMLSelectElement>('diffusion-scheduler');
  const guidance = byId<HTMLInputElement>('diffusion-guidance');
  const guidanceValue = byId<HTMLOutputElement>('diffusion-guidance-value');
  const count = byId<HTMLInputElement>('diffusion-count');
  const seed = byId<HTMLInputElement>('diffusion-seed');
  const generate = byId<HTMLButtonElement>('diffusion-generate');

  for (let c = 0; c < DIGIT_CLASSES; c++) digit.append(new Option(String(c), String(c), c === 7, c === 7));
  digit.append(new Option('Any digit (unconditional)', 'none'));
  for (const s of SCHEDULERS) scheduler.append(new Option(s.label, s.className));
  const showGuidance = () => {
    guidanceValue.value = Number(guidance.value).toFixed(1);
    guidance.setAttribute('aria-valuetext', guidanceValue.value);
  };
  guidance.addEventListener('input', showGuidance);
  showGuidance();
  byId('diffusion-seed-random').addEventListener('click', () => (seed.value = String(randomSeed())));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const request = {
      classLabel: digit.value === 'none' ? null : Number(digit.value),
      steps: intValue(steps),
      scheduler: scheduler.value,
      guidanceScale: Number(guidance.value),
      count: intValue(count),
      seed: intValue(seed),
    };
    void app.run({
      kind: 'diffusion',
      title: `Denoising ${request.classLabel === null ? 'digits' : `${request.classLabel}s`} in ${request.steps} steps`,
      stepName: 'denoising step',
      cancellable: true,
      work: async (ctx) => {
        const columns = Math.ceil(Math.sqrt(request.count));
        const images = await ctx.loaded.pipeline.generate(request, {
          signal: ctx.signal,
          onStep: (step, total, preview) => {
            ctx.timer.step();
            ctx.progress(step, total, `Denoising step ${step} of ${total}`);
            if (preview) ctx.show(contactSheet(preview, columns));
          },
        });
        if (!images) return;
        ctx.show(contactSheet(images, columns), {
          model: app.entry.id,
          class: request.classLabel ?? 'unconditional',
          steps: request.steps,
          scheduler: request.scheduler,
          guidance: request.guidanceScale,
          seed: request.seed,
          count: request.count,
        });
      },
    });
  });

  return {
    element: form,
    setBusy: (busy) => (generate.disabled = busy),
  };
}
