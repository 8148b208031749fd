// The segment figure of the README and docs/trained-model.md: one held-out synthetic image, its label, and the mask and overlay that the
// shipped CLI draws (bin/bisenet segment), side by side in a 2×2 grid. The label is coloured with the same
// palette (ignored pixels black). Usage: node scripts/segment-figure.mjs [model] [image name] [out]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { CITYSCAPES_PALETTE } from '../dist/model-file/presets.js';

const [model = 'fixtures/trained-synthetic-n19/model.pth', name = '0000.png', out = 'docs/segment-example.jpg'] = process.argv.slice(2);
const image = path.join('data/synthetic-val/images', name);
const label = path.join('data/synthetic-val/labels', name);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bisenet-figure-'));
const mask = path.join(work, 'mask.png');
const overlay = path.join(work, 'overlay.png');
const r = spawnSync(process.execPath, ['bin/bisenet', 'segment', model, '--image', image, '--out', mask, '--overlay', overlay], { encoding: 'utf8' });
process.stdout.write(`$ bisenet segment ${model} --image ${image} --out mask.png --overlay overlay.png\n${r.stdout}${r.stderr}`);
if (r.status !== 0) process.exit(r.status ?? 1);

const { data, info } = await sharp(label).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
const rgb = Buffer.alloc(info.width * info.height * 3);
for (let p = 0; p < data.length; p++) { const c = CITYSCAPES_PALETTE[data[p]] ?? [0, 0, 0]; rgb.set(c, 3 * p); }
const labelPng = await sharp(rgb, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer();

const { width: w, height: h } = info;
const gap = 4;
const panels = [[image, 0, 0], [labelPng, 1, 0], [mask, 0, 1], [overlay, 1, 1]];
await sharp({ create: { width: 2 * w + gap, height: 2 * h + gap, channels: 3, background: [255, 255, 255] } })
  .composite(await Promise.all(panels.map(async ([input, x, y]) => ({ input: await sharp(input).removeAlpha().png().toBuffer(), left: x * (w + gap), top: y * (h + gap) }))))
  .jpeg({ quality: 88 })
  .toFile(out);
fs.rmSync(work, { recursive: true, force: true });
process.stdout.write(`wrote ${out} (${(fs.statSync(out).size / 1024).toFixed(0)} KiB): image | label / mask | overlay\n`);
