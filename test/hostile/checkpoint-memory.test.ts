/**
 * A checkpoint converted in memory (segment, eval, serve, calibrate given a .pth) is held to the model-memory
 * budget from its tensors' shapes, before any weight is read or ported: a checkpoint of very many classes is
 * small on disk (zeros deflate) and must not be converted into gigabytes first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/index.js';
import { runCli } from '../helpers/cli.js';
import { fixture, ROOT, tmpDir, UPSTREAM } from '../helpers/paths.js';
import { LIMITS } from '../../src/util/limits.js';

const work = tmpDir('bisenet-ckpt-memory-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('a checkpoint converted in memory is held to --max-memory before it is converted', () => {
  it('segment: one line naming the weights and the limit, exit 2, nothing written', () => {
    const out = path.join(work, 'mask.png');
    const r = runCli(['segment', fixture(UPSTREAM, 'model.pth'), '--image', path.join(ROOT, 'data/synthetic-val/images/0004.png'), '--out', out, '--max-memory', '30MiB']);
    expect(r.status, r.stderr).toBe(2);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    // 12.9 MiB of weights without the booster heads (19 classes), three copies held: above 30 MiB.
    expect(lines[0]).toMatch(/^error: .*model\.pth: holding the model's weights \(12\.9 MiB as float32, before the checkpoint is converted\) would need about 38\.6 MiB, more than the limit of 30\.0 MiB \(--max-memory\)/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('the library call refuses before porting, and counts the booster heads when the model keeps them', () => {
    const before = LIMITS.modelMemory;
    LIMITS.modelMemory = 45 * 2 ** 20;
    try {
      // Without the heads 38.6 MiB fits 45 MiB; with them (--aux) the weights are larger and do not.
      expect(convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'onnx', inMemory: 'm' }).byteLength).toBeGreaterThan(0);
      expect(() => convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'onnx', aux: true, inMemory: 'm' })).toThrow(/holding the model's weights \(\d+\.\d MiB as float32/);
      // A conversion to a file (no inMemory) is not a run: no model-memory check.
      expect(convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'onnx', aux: true }).byteLength).toBeGreaterThan(0);
    } finally {
      LIMITS.modelMemory = before;
    }
  });
});
