import { describe, expect, it } from 'vitest';
import { ConfusionMatrix } from '../src/eval/metrics.js';
import { BisenetError } from '../src/util/errors.js';

const score = (C: number, pred: number[], label: number[]) => {
  const m = new ConfusionMatrix(C);
  m.add(Uint8Array.from(pred), Uint8Array.from(label));
  return m.scores();
};

describe('eval metrics (Cityscapes conventions)', () => {
  it('computes IoU = TP / (TP + FP + FN) per class and their mean, worked by hand', () => {
    // labels:      0 0 0 1 1 2
    // predictions: 0 0 1 1 2 2
    // class 0: TP 2, FN 1 (→1), FP 0 → 2/3; class 1: TP 1, FP 1, FN 1 → 1/3; class 2: TP 1, FP 1 → 1/2
    const s = score(3, [0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 2]);
    expect(s.perClass[0]).toBeCloseTo(200 / 3, 10);
    expect(s.perClass[1]).toBeCloseTo(100 / 3, 10);
    expect(s.perClass[2]).toBeCloseTo(50, 10);
    expect(s.miou).toBeCloseTo((200 / 3 + 100 / 3 + 50) / 3, 10);
    expect(s.pixelAccuracy).toBeCloseTo(400 / 6, 10);
    expect(s.pixels).toBe(6);
  });

  it('leaves classes absent from both labels and predictions out of the mean (null), but counts a class only predicted (IoU 0)', () => {
    // 4 classes: 0 and 1 labelled; 3 predicted but never labelled; 2 nowhere.
    const s = score(4, [0, 0, 1, 3], [0, 0, 1, 1]);
    expect(s.perClass).toEqual([100, 50, null, 0]);
    expect(s.miou).toBeCloseTo((100 + 50 + 0) / 3, 10);
  });

  it('ignores pixels labelled 255 whatever is predicted there', () => {
    const a = score(2, [0, 1, 1, 1], [0, 1, 255, 255]);
    expect(a.perClass).toEqual([100, 100]);
    expect(a.pixels).toBe(2);
    expect(a.ignored).toBe(2);
    // A class predicted only on ignored pixels is absent, not a false positive.
    const b = score(3, [0, 2], [0, 255]);
    expect(b.perClass).toEqual([100, null, null]);
  });

  it('accumulates one confusion matrix over images (not a mean of per-image scores)', () => {
    const m = new ConfusionMatrix(2);
    m.add(Uint8Array.from([0, 0]), Uint8Array.from([0, 0])); // image 1: class 0 perfect
    m.add(Uint8Array.from([1, 0, 0, 0]), Uint8Array.from([1, 1, 1, 1])); // image 2: class 1 1/4, class 0 0/3 TP
    const s = m.scores();
    // class 0: TP 2, FP 3 → 2/5; class 1: TP 1, FN 3 → 1/4. Per-image means would give something else.
    expect(s.perClass[0]).toBeCloseTo(40, 10);
    expect(s.perClass[1]).toBeCloseTo(25, 10);
  });

  it('gives no mIoU when nothing is labelled, and refuses labels outside the classes', () => {
    const s = score(2, [0, 1], [255, 255]);
    expect(s.miou).toBeNull();
    expect(s.pixelAccuracy).toBeNull();
    const m = new ConfusionMatrix(19);
    expect(() => m.add(Uint8Array.from([0]), Uint8Array.from([26]), 'x.png')).toThrow(BisenetError);
    expect(() => m.add(Uint8Array.from([0]), Uint8Array.from([26]), 'x.png')).toThrow(/x\.png: holds label 26.*label ids rather than train ids/);
    expect(() => m.add(Uint8Array.from([0, 0]), Uint8Array.from([0]))).toThrow(/1 labels for 2 predictions/);
  });

  it('agrees with a direct count on random data', () => {
    let seed = 7;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
    const C = 5;
    const pred = Uint8Array.from({ length: 5000 }, () => rnd(C));
    const label = Uint8Array.from({ length: 5000 }, () => (rnd(10) === 0 ? 255 : rnd(C)));
    const m = new ConfusionMatrix(C);
    m.add(pred, label);
    const s = m.scores();
    for (let k = 0; k < C; k++) {
      let tp = 0; let fp = 0; let fn = 0;
      for (let p = 0; p < pred.length; p++) {
        if (label[p] === 255) continue;
        if (pred[p] === k && label[p] === k) tp++; else if (pred[p] === k) fp++; else if (label[p] === k) fn++;
      }
      expect(s.perClass[k]).toBeCloseTo((100 * tp) / (tp + fp + fn), 10);
    }
  });
});
