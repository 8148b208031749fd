/**
 * Segmentation scores as Cityscapes' scripts compute them: one confusion matrix over the whole set
 * (not a mean of per-image scores), label 255 ignored, IoU = TP / (TP + FP + FN) per class, classes
 * absent from both labels and predictions left out of the mean (null), pixel accuracy over labelled pixels.
 */
import { fail } from '../util/errors.js';

export const IGNORE_LABEL = 255;

export interface Scores {
  /** Mean IoU over the classes present in labels or predictions, in percent; null when none is. */
  miou: number | null;
  /** Correct labelled pixels / labelled pixels, in percent; null when no pixel is labelled. */
  pixelAccuracy: number | null;
  /** IoU per class in percent; null for a class absent from both labels and predictions. */
  perClass: (number | null)[];
  /** Labelled pixels (not 255). */
  pixels: number;
  /** Pixels labelled 255. */
  ignored: number;
}

export class ConfusionMatrix {
  /** counts[label · C + prediction] */
  readonly counts: Float64Array;
  ignored = 0;

  constructor(readonly numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 65535) fail('usage', `cannot score ${numClasses} classes`);
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /**
   * Adds one image: `labels` (0..C−1, or 255 to ignore) against `predictions` of the same length.
   * A label outside those (e.g. Cityscapes label ids where train ids are expected) is an error naming `what`.
   */
  add(predictions: ArrayLike<number>, labels: ArrayLike<number>, what = 'labels'): void {
    if (predictions.length !== labels.length) fail('shape', `${what}: ${labels.length} labels for ${predictions.length} predictions`);
    const C = this.numClasses;
    const m = this.counts;
    let ignored = 0;
    for (let p = 0; p < labels.length; p++) {
      const l = labels[p]!;
      if (l < C) {
        const q = predictions[p]!;
        if (q >= C) fail('usage', `${what}: prediction ${q} is outside the ${C} classes`);
        m[l * C + q] += 1;
      } else if (l === IGNORE_LABEL) {
        ignored++;
      } else {
        fail('format', `${what}: holds label ${l}, but the model has ${C} classes (0–${C - 1}, and ${IGNORE_LABEL} to ignore)${C === 19 && l <= 33 ? '; are these Cityscapes label ids rather than train ids (*_labelTrainIds.png)?' : ''}`);
      }
    }
    this.ignored += ignored;
  }

  scores(): Scores {
    const C = this.numClasses;
    const m = this.counts;
    const rows = new Float64Array(C); // labelled as k
    const cols = new Float64Array(C); // predicted as k
    let correct = 0;
    let total = 0;
    for (let l = 0; l < C; l++) {
      for (let q = 0; q < C; q++) { const v = m[l * C + q]!; rows[l] += v; cols[q] += v; total += v; }
      correct += m[l * C + l]!;
    }
    const perClass = Array.from({ length: C }, (_, k) => {
      const union = rows[k]! + cols[k]! - m[k * C + k]!;
      return union > 0 ? (100 * m[k * C + k]!) / union : null;
    });
    const present = perClass.filter((v): v is number => v !== null);
    return {
      miou: present.length ? present.reduce((a, b) => a + b, 0) / present.length : null,
      pixelAccuracy: total > 0 ? (100 * correct) / total : null,
      perClass,
      pixels: total,
      ignored: this.ignored,
    };
  }
}
