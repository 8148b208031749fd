import { describe, expect, it } from 'vitest';
import { fuzz, makeCase, runCase } from '../fuzz-lib/run.js';
import { TARGETS } from '../fuzz-lib/targets.js';

describe('fuzzing every reader with a fixed seed set', () => {
  it('ends every case in BisenetError or success: no foreign exception, hang or oversized allocation', () => {
    const stats = fuzz({ perTarget: 450, startSeed: 1 });
    expect(stats.cases).toBeGreaterThanOrEqual(2000);
    expect(stats.findings).toEqual([]);
    // The mutations must actually reach the readers' error paths, and some inputs must still parse.
    expect(stats.rejected).toBeGreaterThan(stats.cases / 2);
    expect(stats.accepted).toBeGreaterThan(0);
  }, 300_000); // a fixed workload (450 cases per reader): a loaded machine needs room

  it('refuses every forbidden-global gadget with a security error', () => {
    const pth = TARGETS.find((t) => t.name === 'pth')!;
    let gadgets = 0;
    for (let seed = 1; seed < 400; seed++) {
      const c = makeCase(pth, seed);
      if (c.expectKind !== 'security') continue;
      gadgets++;
      expect(runCase(pth, seed)).toBe('rejected');
    }
    expect(gadgets).toBeGreaterThan(10);
  });

  it('is reproducible from the seed', () => {
    for (const t of TARGETS) expect(makeCase(t, 42).bytes).toEqual(makeCase(t, 42).bytes);
  });
});
