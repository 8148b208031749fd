/** Emitting with intermediate tensors exposed as extra outputs: main outputs untouched, every exposed tensor NCHW under its IR name. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/index.js';
import { loadRunner } from '../../src/runtime/index.js';
import { isBisenetError } from '../../src/util/errors.js';
import { fixture, tmpDir } from '../helpers/paths.js';
import { randomArray } from '../helpers/tfjs-traps.js';

const CKPT = fixture('coincheung-bisenetv2-n19', 'model.pth');
let work: string;
const x = randomArray([1, 3, 32, 64], 3, -2, 2);
beforeAll(() => { work = tmpDir('bisenet-expose-'); });
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

const write = (name: string, c: ReturnType<typeof convertCheckpoint>): string => {
  const p = path.join(work, name);
  if (c.files) { fs.mkdirSync(p); for (const [f, d] of c.files) fs.writeFileSync(path.join(p, f), d); } else fs.writeFileSync(p, c.bytes);
  return p;
};

describe('--expose', () => {
  for (const to of ['onnx', 'tfjs-graph', 'tfjs-layers'] as const) {
    it(`${to}: the same logits, plus the chosen tensors in NCHW, equal to what the runner exposes from the plain model`, async () => {
      const ext = to === 'onnx' ? '.onnx' : '';
      const plain = write(`plain-${to}${ext}`, convertCheckpoint(CKPT, { to }));
      const names = ['detail.stage1.0.conv', 'semantic.context.bn', 'bga.detail_pool']; // in the IR's order
      const exposed = write(`exposed-${to}${ext}`, convertCheckpoint(CKPT, { to, expose: names }));
      const a = await loadRunner(exposed, undefined);
      const b = await loadRunner(plain, undefined, { expose: names });
      try {
        expect(a.outputNames).toEqual(['logits', ...names]);
        const ya = await a.run({ input: x });
        const yb = await b.run({ input: x });
        expect(ya.logits!.data).toEqual(yb.logits!.data);
        for (const n of names) {
          expect(ya[n]!.shape, n).toEqual(yb[n]!.shape);
          expect(ya[n]!.data, n).toEqual(yb[n]!.data);
        }
        expect(ya['detail.stage1.0.conv']!.shape).toEqual([1, 64, 16, 32]);
      } finally { await a.dispose(); await b.dispose(); }
    }, 180_000);
  }

  it('refuses a tensor the target folds away, naming the rule', () => {
    try { convertCheckpoint(CKPT, { to: 'onnx', expose: ['detail.stage1.0.bn'] }); expect.unreachable(); } catch (e) {
      expect(isBisenetError(e) && e.message).toMatch(/detail\.stage1\.0\.bn is not a tensor of the onnx model \(BatchNorms are folded/);
    }
  });
});
