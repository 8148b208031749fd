/**
 * Recorded metadata (the first round's class 7): the preprocessing, palette, class count and names a model
 * records are checked against one schema by every reader; a malformed value is one line (exit 2), nothing written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { recordedFrom } from '../../src/model-file/index.js';
import { validatePalette, validatePreprocessing } from '../../src/model-file/presets.js';
import { BisenetError } from '../../src/util/errors.js';
import { bisenet, oneErrorLine } from '../helpers/cli.js';
import { PNG_SIGNATURE, pngChunk } from '../helpers/images.js';
import { upstreamOnnxFolder } from '../helpers/models.js';

let work: string;
let model: string;
upstreamOnnxFolder('bisenet-hostile-metadata-', (dir, m) => { work = dir; model = m; });

describe('7. recorded metadata is validated', () => {
  it('refuses preprocessing that is empty, lacks mean, or asks for a huge size multiple; palettes of numbers', () => {
    const ok = { scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], size_multiple: 32 };
    expect(validatePreprocessing(ok, 'm').size_multiple).toBe(32);
    for (const bad of [{}, { ...ok, mean: undefined }, { ...ok, size_multiple: 1e6 }, { ...ok, size_multiple: 16384 }, { ...ok, std: [0, 1, 1] }, 7, null]) {
      expect(() => validatePreprocessing(bad, 'm')).toThrowError(BisenetError);
    }
    expect(() => validatePalette([1, 2, 3], 'm')).toThrowError(/palette/);
  });
  it('segment refuses a model whose recorded metadata is malformed, in one line, writing nothing (one schema for every reader)', () => {
    const img = path.join(work, 'meta-in.png');
    // A 4×4 RGB PNG, built by hand.
    const chunk = pngChunk;
    const hdr = Buffer.alloc(13); hdr.writeUInt32BE(4); hdr.writeUInt32BE(4, 4); hdr[8] = 8; hdr[9] = 2;
    fs.writeFileSync(img, Buffer.concat([PNG_SIGNATURE, chunk('IHDR', hdr),
      chunk('IDAT', zlib.deflateSync(Buffer.from(Array.from({ length: 4 * 13 }, (_, i) => (i % 13 === 0 ? 0 : 90))))), chunk('IEND', Buffer.alloc(0))]));
    const pre = { color_order: 'RGB', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], size_multiple: 32 };
    const cases: [Record<string, string>, RegExp][] = [
      [{ preprocessing: JSON.stringify({ ...pre, size_multiple: 1e6 }) }, /size_multiple 1000000, not an integer in 1–256/],
      [{ preprocessing: JSON.stringify({ ...pre, size_multiple: 16384 }) }, /size_multiple 16384/],
      [{ preprocessing: '{}' }, /preprocessing has no positive finite scale/],
      [{ palette: '[1, 2, 3]' }, /palette is not a list/],
      [{ class_names: JSON.stringify(['road', 'x\u001b[31mred']) }, /class_names are not a list of printable names/],
      [{ num_classes: '1e9' }, /num_classes is not an integer/],
      [{ preprocessing: '['.repeat(100_000) }, /metadata/],
    ];
    for (const [i, [meta, re]] of cases.entries()) {
      const m = onnxProto.onnx.ModelProto.decode(fs.readFileSync(model));
      for (const [key, value] of Object.entries(meta)) {
        const prop = m.metadataProps.find((p) => p.key === key);
        if (prop) prop.value = value; else m.metadataProps.push(onnxProto.onnx.StringStringEntryProto.create({ key, value }));
      }
      const bad = path.join(work, `meta-${i}.onnx`);
      fs.writeFileSync(bad, onnxProto.onnx.ModelProto.encode(m).finish());
      const out = path.join(work, `meta-${i}.png`);
      oneErrorLine(bisenet('segment', bad, '--image', img, '--out', out), re);
      expect(fs.existsSync(out)).toBe(false);
    }
  }, 600_000);
  it('a palette shorter than the classes, or class names of another count, are refused', () => {
    expect(() => recordedFrom({ palette: '[[1,2,3]]', num_classes: '19' }, 'm')).toThrowError(/palette has 1 colour for 19 classes/);
    expect(() => recordedFrom({ class_names: '["a","b"]', num_classes: '3' }, 'm')).toThrowError(/name 2 classes, the model has 3/);
    expect(recordedFrom({ palette: '[[1,2,3],[4,5,6]]', num_classes: '2' }, 'm').palette).toHaveLength(2);
  });
});
