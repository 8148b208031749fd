import * as path from 'node:path';
import type { Family } from '../models/bisenetv2.js';
import type { Dataset } from '../presets.js';
import { classShares, encodeOverlay, encodeSegmentation, segmentImage, segmentMany } from '../segment.js';
import { fail } from '../util/errors.js';
import { writeFilesAtomic } from '../util/fs.js';
import { checkOutputs, modelInputs } from '../util/outputs.js';

interface Opts {
  image?: string; out?: string; outDir?: string; overlay?: string | boolean; raw?: boolean; batch?: number; quiet?: boolean;
  runtime?: string; threads?: number; device?: string; tfjsFlags?: Record<string, boolean | number | string>; family?: Family; dataset?: Dataset; force?: boolean;
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
  checkOutputs([{ path: out, what: '--out' }, ...(overlay ? [{ path: overlay, what: '--overlay' }] : [])], [...modelInputs(model), image], Boolean(o.force));
  const t0 = performance.now();
  const s = await segmentImage(model, image, { runtime: o.runtime, threads: o.threads, device: o.device, flags: o.tfjsFlags, family: o.family, dataset: o.dataset });
  const [mask, blended] = await Promise.all([encodeSegmentation(s, o.raw), overlay ? encodeOverlay(s.image, s.labels, s.palette) : null]);
  // One group: the mask and its overlay are both written, or neither.
  writeFilesAtomic(new Map<string, Uint8Array>([[out, mask], ...(overlay ? [[overlay, blended!] as [string, Uint8Array]] : [])]));
  process.stdout.write(`${image}: ${s.width}×${s.height}, ${s.numClasses} classes → ${out}${overlay ? ` + ${overlay}` : ''} (${o.raw ? 'class indices' : 'palette'}; `
    + `${classShares(s.counts, s)}) in ${(performance.now() - t0).toFixed(0)} ms\n`);
}

async function segmentManyCommand(model: string, images: string[], o: Opts): Promise<void> {
  if (o.out !== undefined) fail('usage', '--out and --out-dir: give one (--out for one image, --out-dir for many)');
  // With --out-dir, --overlay is a switch; commander's optional value then swallowed an image name.
  const args = [...(o.image ? [o.image] : []), ...(typeof o.overlay === 'string' ? [o.overlay] : []), ...images];
  const r = await segmentMany(model, args, {
    outDir: o.outDir!, overlay: o.overlay !== undefined && o.overlay !== false, raw: o.raw, batch: o.batch, force: o.force, progress: { quiet: o.quiet },
    runtime: o.runtime, threads: o.threads, device: o.device, flags: o.tfjsFlags, family: o.family, dataset: o.dataset,
  });
  const t = r.times;
  const n = r.images;
  const outside = (r.seconds * 1000 - t.inference) / n;
  process.stdout.write(
    `segmented ${n} image${n > 1 ? 's' : ''} → ${o.outDir} (${r.outputs} files: ${o.raw ? 'class indices' : 'palette masks'}${o.overlay ? ' and overlays' : ''}) `
    + `with ${r.model} on ${r.runtime} [${r.device}] in ${r.seconds.toFixed(1)} s: ${r.framesPerSecond.toFixed(2)} frames/s\n`
    + `per frame: decode ${ms(t.decode, n)} (waited for; decoding runs beside inference), preprocess ${ms(t.preprocess, n)}, inference ${ms(t.inference, n)}, `
    + `postprocess ${ms(t.postprocess, n)}, encode ${ms(t.encode, n)} (on the path; PNG encoding and writing run beside inference)\n`
    + `outside the runtime: ${outside.toFixed(0)} ms per frame (${(100 * outside / (t.inference / n)).toFixed(1)} % of the runtime's ${ms(t.inference, n)})\n`
    + `classes: ${classShares(r.counts, r)}\n`);
}
