/**
 * The `bisenet serve` page (served as /lib/web/app.js): pick or drop an image, see the mask and the
 * overlay on the chosen backend with the time per frame, and "check this device": the model's golden
 * set through this browser's backend, compared as `bisenet verify` compares (../verify/compare.ts).
 */
import { compareOutputs, type OutputStats, type Tolerance } from '../verify/compare.js';
import type { NdArray } from '../util/ndarray.js';
import { indexPalette } from '../util/palette.js';
import { openEngine, type Backend, type Engine } from './engine.js';

interface Config {
  model: { name: string; url: string; kind: 'tfjs' | 'onnx' | 'tflite' };
  backends: Backend[];
  /** backends this install lacks, with the line that adds each */
  missing: { id: Backend; label: string; install: string }[];
  preprocessing: { color_order?: 'RGB' | 'BGR'; scale: number; mean: number[]; std: number[]; size_multiple: number };
  /** one colour per class (the model's palette); extended with the indexed palette where the model outputs more */
  palette: number[][];
  numClasses: number | null;
  /** the palette for a model that records none and outputs 19 classes (Cityscapes'), as segment draws it */
  palette19: number[][] | null;
  classNames: string[] | null;
  golden: { url: string } | null;
  tolerances: Record<string, Tolerance>;
}
interface GoldenIndex { name: string; cases: { name: string; input: { shape: number[] }; references: { name: string; dtype: 'float32' | 'int32'; shape: number[] }[] }[] }

/** Longest image side fed to the model: keeps a phone responsive (the mask is drawn at the image's size). */
const MAX_SIDE = 1024;
const LABELS: Record<Backend, string> = { 'tfjs-webgl': 'WebGL (tfjs)', 'tfjs-webgpu': 'WebGPU (tfjs)', 'tfjs-wasm': 'wasm (tfjs)', 'ort-wasm': 'wasm (onnxruntime-web)', 'ort-webgpu': 'WebGPU (onnxruntime-web)',
  'litert-wasm': 'wasm (LiteRT.js)', 'litert-webgpu': 'WebGPU (LiteRT.js)' };

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const status = (text: string): void => { $('status').textContent = text; };
const message = (e: unknown): string => ((e as Error)?.message ?? String(e)).split('\n')[0]!;

let config: Config;
let engine: Engine | null = null;
let opening: Promise<Engine> | null = null;
let image: ImageBitmap | null = null;

async function currentEngine(): Promise<Engine> {
  const backend = ($('backend') as HTMLSelectElement).value as Backend;
  if (engine?.backend === backend) return engine;
  opening ??= (async () => {
    await engine?.dispose();
    engine = null;
    status(`opening the model on ${LABELS[backend]}…`);
    const e = await openEngine({ backend, modelUrl: config.model.url });
    $('device').textContent = `runs on: ${e.device}`;
    engine = e;
    return e;
  })().finally(() => { opening = null; });
  return opening;
}

/** The image as the model's 1×3×H×W input (H, W multiples of the model's size multiple), preprocessed as recorded. */
function toInput(img: ImageBitmap, fixed?: number[]): { x: NdArray; w: number; h: number } {
  const pre = config.preprocessing;
  // Channel ch of the input takes the image's channel src[ch]: RGB, or BGR where the model records it.
  const src = pre.color_order === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const m = pre.size_multiple || 32;
  const k = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
  // A model of one fixed size (TFLite) takes every image resized to it; the mask is drawn back at the image's size.
  const w = fixed ? fixed[3]! : Math.max(m, Math.ceil((img.width * k) / m) * m);
  const h = fixed ? fixed[2]! : Math.max(m, Math.ceil((img.height * k) / m) * m);
  const c = new OffscreenCanvas(w, h);
  const g = c.getContext('2d')!;
  g.imageSmoothingQuality = 'high';
  g.drawImage(img, 0, 0, w, h);
  const rgba = g.getImageData(0, 0, w, h).data;
  const data = new Float32Array(3 * w * h);
  for (let ch = 0; ch < 3; ch++) {
    for (let p = 0; p < w * h; p++) data[ch * w * h + p] = (rgba[4 * p + src[ch]!]! * pre.scale - pre.mean[ch]!) / pre.std[ch]!;
  }
  return { x: { dtype: 'float32', shape: [1, 3, h, w], data }, w, h };
}

/** One colour per class for C classes: the model's palette, extended with the indexed one past its end. */
function paletteOf(c: number): number[][] {
  if (!config.palette.length && c === 19 && config.palette19) config.palette = config.palette19;
  if (config.palette.length < c) config.palette = [...config.palette, ...indexPalette(c, config.palette.length)];
  return config.palette;
}

const nameOf = (k: number): string => config.classNames?.[k] ?? `class ${k}`;

/** Argmax over classes of 1×C×H×W logits, as an RGBA mask in the palette, with each class's pixel count. */
function maskOf(logits: NdArray): { mask: ImageData; counts: Float64Array } {
  const [, c, h, w] = logits.shape as [number, number, number, number];
  const x = logits.data as Float32Array;
  const out = new ImageData(w, h);
  const counts = new Float64Array(c);
  const palette = paletteOf(c);
  const hw = h * w;
  for (let p = 0; p < hw; p++) {
    let best = 0;
    let v = x[p]!;
    for (let k = 1; k < c; k++) if (x[k * hw + p]! > v) { v = x[k * hw + p]!; best = k; }
    counts[best]!++;
    const [r, g, b] = palette[best]!;
    out.data[4 * p] = r!; out.data[4 * p + 1] = g!; out.data[4 * p + 2] = b!; out.data[4 * p + 3] = 255;
  }
  return { mask: out, counts };
}

/** Legends list every class up to this many; beyond, only the classes in the image. */
const FULL_LEGEND = 40;

/**
 * The class legend: colour, name and (after an image) its share of the mask, the classes in the image
 * first, largest first; the other classes follow greyed where the model has few enough to list.
 */
function drawLegend(counts: Float64Array | null): void {
  const c = counts?.length ?? config.numClasses ?? 0;
  const palette = paletteOf(c);
  const total = counts ? counts.reduce((a, b) => a + b, 0) : 0;
  const order = [...Array(c).keys()];
  if (counts) order.sort((a, b) => counts[b]! - counts[a]! || a - b);
  const shown = order.filter((k) => (counts ? counts[k]! > 0 : true) || c <= FULL_LEGEND);
  $('legend').replaceChildren(...shown.map((k) => {
    const item = document.createElement('span');
    item.className = counts && !counts[k] ? 'cls absent' : 'cls';
    item.dataset.class = String(k);
    item.dataset.rgb = palette[k]!.join(',');
    const sw = document.createElement('span');
    sw.className = 'sw';
    sw.style.background = `rgb(${palette[k]!.join(',')})`;
    const share = counts && counts[k] ? ` ${((100 * counts[k]!) / total).toFixed(1)} %` : '';
    item.append(sw, `${nameOf(k)}${share}`);
    return item;
  }));
}

async function segment(): Promise<void> {
  if (!image) return;
  try {
    const e = await currentEngine();
    const { x } = toInput(image, e.fixedInput);
    status(`running on ${LABELS[e.backend]}…`);
    const t0 = performance.now();
    let out = await e.run(x);
    const first = performance.now() - t0;
    // The first run compiles shaders and allocates; the second is the time per frame.
    const t1 = performance.now();
    out = await e.run(x);
    const ms = performance.now() - t1;
    const logits = out.logits ?? out[e.outputNames[0]!]!;
    $('ms').textContent = `${ms.toFixed(1)} ms at ${x.shape[2]}×${x.shape[3]} (first run ${first.toFixed(0)} ms)`;
    const { mask, counts } = maskOf(logits);
    drawLegend(counts);
    const maskCanvas = $<HTMLCanvasElement>('mask');
    const overlay = $<HTMLCanvasElement>('overlay');
    const small = new OffscreenCanvas(mask.width, mask.height);
    small.getContext('2d')!.putImageData(mask, 0, 0);
    for (const cv of [maskCanvas, overlay]) { cv.width = image.width; cv.height = image.height; }
    maskCanvas.getContext('2d')!.drawImage(small, 0, 0, image.width, image.height);
    const g = overlay.getContext('2d')!;
    g.drawImage(image, 0, 0);
    g.globalAlpha = 0.5;
    g.drawImage(small, 0, 0, image.width, image.height);
    g.globalAlpha = 1;
    overlay.dataset.ready = 'true';
    status(`done on ${LABELS[e.backend]}`);
  } catch (err) {
    status(`error: ${message(err)}`);
  }
}

async function fetchArray(url: string, dtype: 'float32' | 'int32', shape: number[]): Promise<NdArray> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  const buf = await r.arrayBuffer();
  return { dtype, shape, data: dtype === 'int32' ? new Int32Array(buf) : new Float32Array(buf) };
}

const exp = (v: number): string => (Number.isFinite(v) ? v.toExponential(2) : Number.isNaN(v) ? '–' : 'inf');

/** The golden set through this browser's backend, as a table like `bisenet verify` prints. */
async function checkDevice(): Promise<void> {
  const box = $('parity');
  if (!config.golden) { box.textContent = 'no golden set: start the server with --golden DIR to check this device'; return; }
  const button = $<HTMLButtonElement>('check');
  button.disabled = true;
  try {
    const e = await currentEngine();
    const tol = config.tolerances[e.backend]!;
    const index = await (await fetch(config.golden.url)).json() as GoldenIndex;
    const rows: { c: string; s: OutputStats }[] = [];
    for (const [i, c] of index.cases.entries()) {
      status(`golden case ${c.name} on ${LABELS[e.backend]}…`);
      const input = await fetchArray(`/golden/${i}/input.bin`, 'float32', c.input.shape);
      const outputs = await e.run(input);
      const refs = new Map<string, NdArray>();
      for (const r of c.references) refs.set(r.name, await fetchArray(`/golden/${i}/${r.name}.bin`, r.dtype, r.shape));
      const { stats } = compareOutputs(outputs, new Map([...refs].map(([k, v]) => [k, () => v])), tol);
      for (const s of stats) rows.push({ c: c.name, s });
    }
    const pass = rows.length > 0 && rows.every((r) => r.s.pass);
    const head = ['case', 'output', 'max|Δ|', 'max|Δ|/max|ref|', 'labels agree', 'result'];
    const table = document.createElement('table');
    table.id = 'parity-table';
    table.insertRow().append(...head.map((h) => Object.assign(document.createElement('th'), { textContent: h })));
    for (const { c, s } of rows) {
      const tr = table.insertRow();
      for (const v of [c, s.name, exp(s.maxAbs), exp(s.relMax), s.labelAgreement === null ? '–' : `${(100 * s.labelAgreement).toFixed(3)}%`, s.pass ? 'ok' : `FAIL${s.problem ? `: ${s.problem}` : ''}`]) tr.insertCell().textContent = v;
      tr.lastElementChild!.className = s.pass ? 'ok' : 'fail';
    }
    const summary = document.createElement('p');
    summary.id = 'parity-result';
    summary.className = pass ? 'ok' : 'fail';
    summary.textContent = `${pass ? 'PASS' : 'FAIL'}: golden set ${index.name} on ${e.device}, within max|Δ| ≤ ${tol.rel} × max|ref| and ≥ ${(100 * tol.minAgreement).toFixed(2)}% labels`;
    box.replaceChildren(summary, table);
    status(`checked on ${LABELS[e.backend]}`);
  } catch (err) {
    box.textContent = `error: ${message(err)}`;
    status(`error: ${message(err)}`);
  } finally {
    button.disabled = false;
  }
}

async function takeFile(f: File | undefined): Promise<void> {
  if (!f) return;
  try {
    image = await createImageBitmap(f);
  } catch {
    status(`${f.name}: not an image this browser can decode`);
    return;
  }
  await segment();
}

/** Backends this install lacks, and the line that adds each (the server checked the packages at start). */
function showMissing(): void {
  const byLine = new Map<string, string[]>();
  for (const m of config.missing) byLine.set(m.install, [...(byLine.get(m.install) ?? []), m.label]);
  $('more').replaceChildren(...[...byLine].map(([line, labels]) => {
    const p = document.createElement('div');
    const code = document.createElement('code');
    code.textContent = line;
    p.append(`not installed: ${labels.join(', ')}; add with `, code, ' and restart bisenet serve');
    return p;
  }));
}

async function main(): Promise<void> {
  config = await (await fetch('/config.json')).json() as Config;
  $('model').textContent = `${config.model.name} (${config.model.kind === 'onnx' ? 'ONNX' : config.model.kind === 'tflite' ? 'TFLite' : 'TensorFlow.js'})`;
  const select = $<HTMLSelectElement>('backend');
  for (const b of config.backends) select.add(new Option(LABELS[b], b));
  select.addEventListener('change', () => { $<HTMLCanvasElement>('overlay').dataset.ready = ''; void segment(); });
  $<HTMLInputElement>('file').addEventListener('change', (ev) => void takeFile((ev.target as HTMLInputElement).files?.[0]));
  const drop = $('drop');
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => { ev.preventDefault(); drop.classList.remove('over'); void takeFile(ev.dataTransfer?.files[0]); });
  $('check').addEventListener('click', () => void checkDevice());
  showMissing();
  drawLegend(null);
  if (!config.golden) $<HTMLButtonElement>('check').title = 'start bisenet serve with --golden DIR to enable';
  status('choose or drop an image');
}

main().catch((e: unknown) => status(`error: ${message(e)}`));
