import { describe, expect, it } from 'vitest';
import { entropyBins, HIST_BINS, RangeHistogram } from '../../src/quant/histogram.js';

/** A deterministic pseudo-random stream (xorshift), so the tests never depend on Math.random. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}
function gaussian(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(1e-12, r()); const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

describe('RangeHistogram', () => {
  it('records min/max and counts, and grows its range by merging bins without losing counts', () => {
    const h = new RangeHistogram();
    h.add(Float32Array.from([0.5, -0.25, 0]));
    expect(h.range).toBe(0.5);
    h.add(Float32Array.from([3.9, -1]));
    expect(h.range).toBe(4); // 0.5 doubled three times
    expect(h.min).toBe(-1);
    expect(h.max).toBeCloseTo(3.9, 6);
    expect(h.count).toBe(5);
    const total = h.pos.reduce((a, b) => a + b, 0) + h.neg.reduce((a, b) => a + b, 0);
    expect(total).toBe(5);
    // 0.5 was the top bin of [0, 0.5] (2047); three merges take it to bin 255 of [0, 4], whose upper edge is 0.5
    expect(h.pos[255]).toBe(1);
    expect(h.pos[256]).toBe(0);
  });

  it('percentiles of a Gaussian land near the known quantiles', () => {
    const h = new RangeHistogram();
    for (let k = 0; k < 4; k++) h.add(gaussian(100_000, 7 + k));
    // P(|x| ≤ 2.5758) = 0.99; the 0.995 quantile is 2.5758 too
    expect(h.absPercentile(0.99)).toBeGreaterThan(2.5);
    expect(h.absPercentile(0.99)).toBeLessThan(2.65);
    expect(h.quantile(0.995)).toBeGreaterThan(2.5);
    expect(h.quantile(0.005)).toBeLessThan(-2.5);
    expect(h.quantile(0.5)).toBeLessThan(0.05);
  });

  it('NaN and Inf are counted apart, never binned', () => {
    const h = new RangeHistogram();
    h.add(Float32Array.from([1, NaN, -2, Infinity]));
    expect(h.nonfinite).toBe(2);
    expect(h.count).toBe(2);
    expect(h.max).toBe(1);
    expect(h.min).toBe(-2);
  });
});

describe('entropy threshold (TensorRT EntropyCalibration2 algorithm)', () => {
  it('keeps the whole range of a uniform distribution', () => {
    const hist = new Float64Array(HIST_BINS).fill(100);
    expect(entropyBins(hist)).toBe(HIST_BINS);
  });

  it('clips the rare outliers of a Gaussian: a threshold well below max |x|, well above the bulk', () => {
    const h = new RangeHistogram();
    const g = gaussian(400_000, 3);
    g[0] = 40; // one far outlier sets the histogram's range
    h.add(g);
    const t = h.entropyThreshold();
    expect(t).toBeLessThan(10);
    expect(t).toBeGreaterThan(2.5);
  });

  it('a tensor of zeros has threshold 0', () => {
    const h = new RangeHistogram();
    h.add(new Float32Array(100));
    expect(h.entropyThreshold()).toBe(0);
  });
});
