/**
 * Upscaler controls: the user's PNG or JPEG (file picker or drag and drop, decoded with the library's size
 * limits), tiled super-resolution with a progress bar, and a before/after split in the viewer.
 */
import { decodeImage, type RgbaImage } from '../../io/image';
import { upscaleImage } from '../../pipelines/upscale';
import type { App, Panel } from '../app';
import { SAMPLE_IMAGE } from '../catalogue';
import { byId, formatBytes } from '../ui';

/** Images a tab can hold comfortably: the upscale keeps the output as float planes (12 bytes a pixel) and RGBA. */
const MAX_INPUT_PIXELS = 4 * 1024 * 1024;
const MAX_OUTPUT_PIXELS = 16 * 1024 * 1024;

export function upscalePanel(app: App): Panel {
  const form = byId<HTMLFormElement>('upscale-panel');
  const file = byId<HTMLInputElement>('upscale-file');
  const drop = byId<HTMLLabelElement>('drop-zone');
  const info = byId<HTMLSpanElement>('upscale-file-info');
  const tile = byId<HTMLSelectElement>('upscale-tile');
  const run = byId<HTMLButtonElement>('upscale-run');
  const sample = byId<HTMLButtonElement>('upscale-sample');
  sample.hidden = !app.manifest.has(SAMPLE_IMAGE.path);
  let input: { image: RgbaImage; name: string } | null = null;
  let busy = false;

  const accept = async (name: string, bytes: Promise<ArrayBuffer>) => {
    try {
      const image = decodeImage(new Uint8Array(await bytes), name, MAX_INPUT_PIXELS);
      input = { image, name };
      info.textContent = `${name}: ${image.width}×${image.height}`;
      app.showInput(image);
      run.disabled = busy;
    } catch (error) {
      app.errors.show(`${(error as Error).message}. Choose a PNG or JPEG of at most ${MAX_INPUT_PIXELS / (1024 * 1024)} megapixels.`);
    }
  };

  file.addEventListener('change', () => {
    const chosen = file.files?.[0];
    if (chosen) void accept(chosen.name, chosen.arrayBuffer());
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('dragging');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('dragging');
    const dropped = e.dataTransfer?.files[0];
    if (dropped) void accept(dropped.name, dropped.arrayBuffer());
  });
  sample.addEventListener('click', () => {
    void accept('sample.png', fetch(SAMPLE_IMAGE.path).then((r) => {
      if (!r.ok) throw new Error(`the sample image is not published on this site (HTTP ${r.status})`);
      return r.arrayBuffer();
    }));
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!input) return;
    const { image, name } = input;
    const tileSize = tile.value === 'auto' ? undefined : Number(tile.value);
    void app.run({
      kind: 'upscaler',
      title: `Upscaling ${name}`,
      stepName: 'tile',
      cancellable: true,
      work: async (ctx) => {
        const model = ctx.loaded.model;
        const scale = Number(model.config.scale);
        const outputPixels = image.width * image.height * scale * scale;
        if (outputPixels > MAX_OUTPUT_PIXELS) {
          throw new Error(`${name} would become ${image.width * scale}×${image.height * scale} (${(outputPixels / 1e6).toFixed(0)} MP), more than this page handles (${MAX_OUTPUT_PIXELS / (1024 * 1024)} MP): choose a smaller image or a lower scale`);
        }
        let result: RgbaImage;
        try {
          result = await upscaleImage(ctx.engine, model, image, {
            ...(tileSize ? { tile: tileSize } : {}),
            cancelled: ctx.cancelled,
            onProgress: (done, total) => {
              ctx.timer.step();
              ctx.progress(done, total, `Tile ${done} of ${total}`);
            },
          });
        } catch (error) {
          if (ctx.cancelled()) return;
          throw error;
        }
        ctx.show(result, { model: app.entry.id, scale, input: `${image.width}x${image.height}`, ...(tileSize ? { tile: tileSize } : {}) }, image);
        info.textContent = `${name}: ${image.width}×${image.height} → ${result.width}×${result.height} (${formatBytes(result.data.byteLength)} of pixels)`;
      },
    });
  });

  return {
    element: form,
    setBusy: (b) => {
      busy = b;
      run.disabled = b || !input;
      sample.disabled = b;
      file.disabled = b;
    },
  };
}
