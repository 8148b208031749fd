import * as path from 'node:path';
import type { Family } from '../models/bisenetv2.js';
import type { Dataset } from '../model-file/presets.js';
import { classShares, encodeOverlay, encodeSegmentation, probeImage, segmentImage, segmentMany } from '../segment/index.js';
import { fail } from '../util/errors.js';
import { pathExists, writeFileAtomic, writeFilesAtomic } from '../util/fs.js';
import { checkOutputs, modelInputs } from '../util/outputs.js';
import { escapeText } from '../util/render.js';

interface Opts {
  image?: string; out?: string; outDir?: string; overlay?: string | boolean; raw?: boolean; batch?: number; quiet?: boolean;
  runtime?: string; threads?: number; device?: string; tfjsFlags?: Record<string, boolean | number | string>; family?: Family; dataset?: Dataset; force?: boolean;
  json?: string | boolean;
}

/** The classes of a histogram, largest first: index, name (where the model records names), pixels, share. */
function classHistogram(counts: ArrayLike<number>, names: string[] | null): { class: number; name: string | null; pixels: number; share: number }[] {
  let total = 0;
  for (let k = 0; k < counts.length; k++) total += counts[k]!;
  const rows = [];
  for (let k = 0; k < counts.length; k++) if (counts[k]! > 0) rows.push({ class: k, name: names?.[k] ?? null, pixels: counts[k]!, share: Number((counts[k]! / total).toFixed(6)) });
  return rows.sort((a, b) => b.pixels - a.pixels || a.class - b.class);
}

const roundTimes = (t: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Number(v.toFixed(1))]));

/** `--json`: the summary on stdout instead of the text (bare), or to a file beside the text. */
function emitJson(json: string | boolean | undefined, summary: () => unknown, text: string): void {
  if (json === undefined || json === false) { process.stdout.write(text); return; }
  const body = `${JSON.stringify(summary(), null, 2)}\n`;
  if (json === true) { process.stdout.write(body); return; }
  if (typeof json === 'string') writeFileAtomic(json, body);
  process.stdout.write(text);
}

const ms = (total: number, n: number): string => `${(total / Math.max(1, n)).toFixed(total / n < 10 ? 1 : 0)} ms`;

/**
 * `bisenet segment`: one image (`--image x --out mask.png`, optionally `--overlay o.png`) or many
 * (`<images, dirs, globs…> --out-dir DIR [--overlay]`).
 */
export async function segmentCommand(model: string, images: string[], o: Opts): Promise<void> {
  if (o.outDir !== undefined) return segmentManyCommand(model, images, o);
  if (o.out === undefined) fail('usage', 'name the output: --out mask.png for one image, or --out-dir DIR for many');
  const inputs = [...(o.image ? [o.image] : []), ...images];
  if (inputs.length !== 1) fail('usage', `--out writes one mask; ${inputs.length ? `${inputs.length} images were given` : 'no image was given (--image x.png)'}: use --out-dir DIR for many`);
  const image = inputs[0]!;
  const out = o.out!;
  if (!out.toLowerCase().endsWith('.png')) fail('usage', `--out ${out}: the segmentation is written as a .png`);
  const overlay = o.overlay === true ? out.replace(/\.png$/i, '.overlay.png') : o.overlay || undefined;
  if (overlay !== undefined && !overlay.toLowerCase().endsWith('.png')) fail('usage', `--overlay ${overlay}: the overlay is written as a .png`);
  if (overlay !== undefined && path.resolve(overlay) === path.resolve(out)) fail('usage', '--overlay and --out name the same file');
  // What is missing among the inputs is said before what is in the way among the outputs.
  if (!pathExists(model)) fail('io', `model not found: ${model}`);
  await probeImage(image, image);
  checkOutputs([{ path: out, what: '--out' }, ...(overlay ? [{ path: overlay, what: '--overlay' }] : []), ...(typeof o.json === 'string' ? [{ path: o.json, what: '--json' }] : [])],
    [...modelInputs(model), image], Boolean(o.force));
  const t0 = performance.now();
  const s = await segmentImage(model, image, { runtime: o.runtime, threads: o.threads, device: o.device, flags: o.tfjsFlags, family: o.family, dataset: o.dataset });
  const [mask, blended] = await Promise.all([encodeSegmentation(s, o.raw), overlay ? encodeOverlay(s.image, s.labels, s.palette) : null]);
  // One group: the mask and its overlay are both written, or neither.
  writeFilesAtomic(new Map<string, Uint8Array>([[out, mask], ...(overlay ? [[overlay, blended!] as [string, Uint8Array]] : [])]));
  const total = performance.now() - t0;
  emitJson(o.json, () => ({
    tool: 'bisenet segment', version: 1, model: s.model, runtime: s.runtime, device: s.device, numClasses: s.numClasses, classNames: s.classNames,
    images: [{ input: image, outputs: [out, ...(overlay ? [overlay] : [])], width: s.width, height: s.height, classes: classHistogram(s.counts, s.classNames),
      ms: Number(total.toFixed(1)), stagesMs: roundTimes({ ...s.times }) }],
  }), `${image}: ${s.width}×${s.height}, ${s.numClasses} classes → ${out}${overlay ? ` + ${overlay}` : ''} (${o.raw ? 'class indices' : 'palette'}; `
    + `${classShares(s.counts, s)}) in ${total.toFixed(0)} ms\n`);
  noteRandomWeights(model, s.weights);
}

/** A model converted from a checkpoint whose card says its weights are random (the shipped parity fixtures) segments nothing real. */
export function noteRandomWeights(model: string, weights: string | null): void {
  if (weights === 'random') process.stderr.write(`note: ${escapeText(model)} records random weights (a parity fixture, not a trained model): its masks show no real classes\n`);
}

async function segmentManyCommand(model: string, images: string[], o: Opts): Promise<void> {
  if (o.out !== undefined) fail('usage', '--out and --out-dir: give one (--out for one image, --out-dir for many)');
  // With --out-dir, --overlay is a switch; commander's optional value then swallowed an image name.
  const args = [...(o.image ? [o.image] : []), ...(typeof o.overlay === 'string' ? [o.overlay] : []), ...images];
  if (typeof o.json === 'string') checkOutputs([{ path: o.json, what: '--json' }], [...modelInputs(model), ...args], Boolean(o.force));
  const r = await segmentMany(model, args, {
    perImage: o.json !== undefined && o.json !== false,
    outDir: o.outDir!, overlay: o.overlay !== undefined && o.overlay !== false, raw: o.raw, batch: o.batch, force: o.force, progress: { quiet: o.quiet },
    runtime: o.runtime, threads: o.threads, device: o.device, flags: o.tfjsFlags, family: o.family, dataset: o.dataset,
  });
  const t = r.times;
  const n = r.images;
  const outside = (r.seconds * 1000 - t.inference) / n;
  emitJson(o.json, () => ({
    tool: 'bisenet segment', version: 1, model: r.model, runtime: r.runtime, device: r.device, numClasses: r.counts.length, classNames: r.classNames,
    outDir: o.outDir, seconds: Number(r.seconds.toFixed(3)), framesPerSecond: Number(r.framesPerSecond.toFixed(3)),
    // Stage times summed over the frames: decoding and encoding overlap inference, so they do not add up to the run.
    stagesMs: roundTimes({ ...t }),
    images: r.perImage!.map((x) => ({ input: x.input, outputs: x.outputs.map((f) => path.join(o.outDir!, f)), width: x.width, height: x.height,
      classes: classHistogram(x.counts, r.classNames), doneMs: x.doneMs })),
    classes: classHistogram(r.counts, r.classNames),
  }),
    `segmented ${n} image${n > 1 ? 's' : ''} → ${o.outDir} (${r.outputs} files: ${o.raw ? 'class indices' : 'palette masks'}${o.overlay ? ' and overlays' : ''}) `
    + `with ${r.model} on ${r.runtime} [${r.device}] in ${r.seconds.toFixed(1)} s: ${r.framesPerSecond.toFixed(2)} frames/s\n`
    + `per frame: decode ${ms(t.decode, n)} (waited for; decoding runs beside inference), preprocess ${ms(t.preprocess, n)}, inference ${ms(t.inference, n)}, `
    + `postprocess ${ms(t.postprocess, n)}, encode ${ms(t.encode, n)} (on the path; PNG encoding and writing run beside inference)\n`
    + `outside the runtime: ${outside.toFixed(0)} ms per frame (${(100 * outside / (t.inference / n)).toFixed(1)} % of the runtime's ${ms(t.inference, n)})\n`
    + `classes: ${classShares(r.counts, r)}\n`);
  noteRandomWeights(model, r.weights);
}
