/**
 * The result viewer: the image sits in a canvas of its own size, placed on screen by one 2-D affine transform
 * (gl-matrix mat2d, image pixels → viewport CSS pixels) and magnified nearest-neighbour, so single pixels can
 * be inspected. Drag, wheel, pinch and the keyboard pan and zoom; an optional "before" image (the upscaler's
 * input, stretched to the output size) shows left of a split the user moves.
 */
import { mat2d, vec2 } from 'gl-matrix';
import type { RgbaImage } from '../io/image';
import { byId } from './ui';

const MIN_ZOOM = 0.05;
const MAX_ZOOM = 64;
const KEY_PAN = 40;

export class Viewer {
  private readonly viewport = byId<HTMLDivElement>('viewer');
  private readonly stage = byId<HTMLDivElement>('stage');
  private readonly result = byId<HTMLCanvasElement>('result');
  private readonly before = byId<HTMLCanvasElement>('before');
  private readonly split = byId<HTMLDivElement>('split');
  private readonly compare = byId<HTMLInputElement>('compare');
  private readonly compareRow = byId<HTMLDivElement>('compare-row');
  private readonly zoomLevel = byId<HTMLOutputElement>('zoom-level');
  private readonly pixel = byId<HTMLOutputElement>('pixel');
  private readonly placeholder = byId<HTMLParagraphElement>('viewer-placeholder');
  /** Image pixels → viewport pixels. */
  private readonly view = mat2d.create();
  private image: RgbaImage | null = null;
  /** Whether the user panned or zoomed since the last fit (a resize then keeps their view). */
  private touched = false;
  private readonly pointers = new Map<number, vec2>();

  constructor() {
    byId('zoom-in').addEventListener('click', () => this.zoomAtCentre(2));
    byId('zoom-out').addEventListener('click', () => this.zoomAtCentre(0.5));
    byId('zoom-fit').addEventListener('click', () => this.fit());
    byId('zoom-actual').addEventListener('click', () => this.actualSize());
    this.compare.addEventListener('input', () => this.applySplit());
    this.viewport.addEventListener('keydown', (e) => this.onKey(e));
    this.viewport.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    this.viewport.addEventListener('pointerdown', (e) => this.onPointerDown(e));
    this.viewport.addEventListener('pointermove', (e) => this.onPointerMove(e));
    this.viewport.addEventListener('pointerup', (e) => this.pointers.delete(e.pointerId));
    this.viewport.addEventListener('pointercancel', (e) => this.pointers.delete(e.pointerId));
    this.viewport.addEventListener('pointerleave', () => (this.pixel.value = ''));
    new ResizeObserver(() => this.image && this.fitIfUntouched()).observe(this.viewport);
  }

  /** The image on display. */
  get current(): RgbaImage | null {
    return this.image;
  }

  /**
   * Shows a new image, fitted to the viewport unless it has the size of the one on display (live previews
   * and re-runs keep the user's pan and zoom). `before` turns on the before/after split.
   */
  show(image: RgbaImage, before?: RgbaImage): void {
    const sameSize = this.image?.width === image.width && this.image.height === image.height;
    this.image = image;
    draw(this.result, image);
    this.placeholder.hidden = true;
    this.result.hidden = false;
    if (before) {
      draw(this.before, before);
      this.before.style.width = `${image.width}px`;
      this.before.style.height = `${image.height}px`;
    }
    this.before.hidden = !before;
    this.split.hidden = !before;
    this.compareRow.hidden = !before;
    this.applySplit();
    if (!sameSize) this.fit();
    this.viewport.setAttribute('aria-label', `Result, ${image.width}×${image.height} pixels${before ? ', with the original on the left of a split' : ''}. Arrow keys pan, + and − zoom, 0 fits, 1 shows actual pixels.`);
  }

  /** Fits the whole image in the viewport, at an integer magnification when it is smaller. */
  fit(): void {
    if (!this.image) return;
    const { clientWidth: vw, clientHeight: vh } = this.viewport;
    let zoom = Math.min(vw / this.image.width, vh / this.image.height);
    if (zoom > 1) zoom = Math.floor(zoom);
    this.setView(zoom, (vw - this.image.width * zoom) / 2, (vh - this.image.height * zoom) / 2);
    this.touched = false;
  }

  /** One image pixel per CSS pixel, centred. */
  actualSize(): void {
    if (!this.image) return;
    this.setView(1, (this.viewport.clientWidth - this.image.width) / 2, (this.viewport.clientHeight - this.image.height) / 2);
  }

  private fitIfUntouched(): void {
    if (!this.touched) this.fit();
  }

  private setView(zoom: number, tx: number, ty: number): void {
    mat2d.set(this.view, zoom, 0, 0, zoom, tx, ty);
    this.apply();
  }

  /** Scales by `factor` about the viewport point `at`, keeping that point fixed. */
  private zoomAt(factor: number, at: vec2): void {
    const zoom = this.view[0]!;
    const clamped = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom * factor)) / zoom;
    const about = mat2d.fromTranslation(mat2d.create(), at);
    mat2d.scale(about, about, [clamped, clamped]);
    mat2d.translate(about, about, vec2.negate(vec2.create(), at));
    mat2d.multiply(this.view, about, this.view);
    this.touched = true;
    this.apply();
  }

  private zoomAtCentre(factor: number): void {
    this.zoomAt(factor, [this.viewport.clientWidth / 2, this.viewport.clientHeight / 2]);
  }

  private pan(dx: number, dy: number): void {
    mat2d.multiply(this.view, mat2d.fromTranslation(mat2d.create(), [dx, dy]), this.view);
    this.touched = true;
    this.apply();
  }

  private apply(): void {
    const [a, b, c, d, tx, ty] = this.view;
    this.stage.style.transform = `matrix(${a}, ${b}, ${c}, ${d}, ${tx}, ${ty})`;
    this.zoomLevel.value = `${Math.round(a! * 100)}%`;
  }

  private applySplit(): void {
    const at = Number(this.compare.value);
    this.result.style.clipPath = this.before.hidden ? '' : `inset(0 0 0 ${at}%)`;
    this.split.style.left = `${at}%`;
    this.compare.setAttribute('aria-valuetext', `${at}% original, ${100 - at}% upscaled`);
  }

  /** The image pixel under a viewport point. */
  private pixelAt(at: vec2): [number, number] {
    const inverse = mat2d.invert(mat2d.create(), this.view);
    if (!inverse) return [-1, -1];
    const p = vec2.transformMat2d(vec2.create(), at, inverse);
    return [Math.floor(p[0]!), Math.floor(p[1]!)];
  }

  private local(e: { clientX: number; clientY: number }): vec2 {
    const box = this.viewport.getBoundingClientRect();
    return vec2.fromValues(e.clientX - box.left, e.clientY - box.top);
  }

  private onKey(e: KeyboardEvent): void {
    const actions: Record<string, () => void> = {
      ArrowLeft: () => this.pan(KEY_PAN, 0),
      ArrowRight: () => this.pan(-KEY_PAN, 0),
      ArrowUp: () => this.pan(0, KEY_PAN),
      ArrowDown: () => this.pan(0, -KEY_PAN),
      '+': () => this.zoomAtCentre(2),
      '=': () => this.zoomAtCentre(2),
      '-': () => this.zoomAtCentre(0.5),
      '0': () => this.fit(),
      '1': () => this.actualSize(),
    };
    const action = actions[e.key];
    if (!action || !this.image) return;
    e.preventDefault();
    action();
  }

  private onWheel(e: WheelEvent): void {
    if (!this.image) return;
    e.preventDefault();
    this.zoomAt(Math.exp(-e.deltaY * 0.002), this.local(e));
  }

  private onPointerDown(e: PointerEvent): void {
    if (!this.image) return;
    this.viewport.setPointerCapture(e.pointerId);
    this.pointers.set(e.pointerId, this.local(e));
  }

  private onPointerMove(e: PointerEvent): void {
    const at = this.local(e);
    this.showPixel(at);
    const last = this.pointers.get(e.pointerId);
    if (!last) return;
    if (this.pointers.size === 2) {
      // Pinch: scale by the change in distance between the two fingers, about their midpoint.
      const other = [...this.pointers].find(([id]) => id !== e.pointerId)![1];
      const before = vec2.distance(last, other);
      const after = vec2.distance(at, other);
      if (before > 0) this.zoomAt(after / before, vec2.lerp(vec2.create(), at, other, 0.5));
    } else {
      this.pan(at[0]! - last[0]!, at[1]! - last[1]!);
    }
    this.pointers.set(e.pointerId, at);
  }

  private showPixel(at: vec2): void {
    const image = this.image;
    if (!image) return;
    const [x, y] = this.pixelAt(at);
    if (x < 0 || y < 0 || x >= image.width || y >= image.height) {
      this.pixel.value = '';
      return;
    }
    const i = (y * image.width + x) * 4;
    const [r, g, b] = image.data.subarray(i, i + 3);
    this.pixel.value = `x ${x}, y ${y}: rgb(${r}, ${g}, ${b})`;
  }
}

/** Puts an image into a canvas of exactly its size. */
function draw(canvas: HTMLCanvasElement, image: RgbaImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const pixels = new ImageData(new Uint8ClampedArray(image.data.buffer as ArrayBuffer, image.data.byteOffset, image.data.byteLength), image.width, image.height);
  canvas.getContext('2d')!.putImageData(pixels, 0, 0);
}
