import type { Family } from '../models/bisenetv2.js';
import type { Dataset } from '../presets.js';
import { encodeSegmentation, segmentImage } from '../segment.js';
import { fail } from '../util/errors.js';
import { ensureNotExists, writeFileAtomic } from '../util/fs.js';

interface Opts { image: string; out: string; raw?: boolean; runtime?: string; threads?: number; device?: string; tfjsFlags?: Record<string, boolean | number | string>; family?: Family; dataset?: Dataset; force?: boolean }

export async function segmentCommand(model: string, o: Opts): Promise<void> {
  if (!o.out.toLowerCase().endsWith('.png')) fail('usage', `--out ${o.out}: the segmentation is written as a .png`);
  ensureNotExists(o.out, Boolean(o.force));
  const t0 = performance.now();
  const s = await segmentImage(model, o.image, { runtime: o.runtime, threads: o.threads, device: o.device, flags: o.tfjsFlags, family: o.family, dataset: o.dataset });
  writeFileAtomic(o.out, encodeSegmentation(s, o.raw));
  const counts = new Map<number, number>();
  for (const k of s.labels) counts.set(k, (counts.get(k) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, c]) => `class ${k} ${(100 * c / s.labels.length).toFixed(1)}%`).join(', ');
  process.stdout.write(`${o.image}: ${s.width}×${s.height}, ${s.numClasses} classes → ${o.out} (${o.raw ? 'class indices' : 'palette'}; ${top}) in ${(performance.now() - t0).toFixed(0)} ms\n`);
}
