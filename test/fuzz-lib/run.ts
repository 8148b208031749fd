import { isBisenetError } from '../../src/util/errors.js';
import { resetAllocationWatermark } from '../../src/util/limits.js';
import { mutate } from './mutate.js';
import { Rng } from './prng.js';
import { TARGETS, type FuzzTarget } from './targets.js';
import './hostile.js'; // registers the adversarial families

/**
 * Runs fuzz cases. Each case must end normally or in the project's own error (BisenetError, with a
 * message); anything else — another exception type, a wrong error kind where one is required, a case
 * slower than `slowMs`, or a buffer larger than the input justifies — is a finding.
 */
export interface Finding { target: string; seed: number; note: string; problem: string }

export interface FuzzStats { cases: number; rejected: number; accepted: number; findings: Finding[]; ms: number }

export interface CaseSpec { target: FuzzTarget; seed: number }

/** Seed files, built once per target (some take milliseconds to encode). */
const seedCache = new WeakMap<FuzzTarget, Uint8Array[]>();
function seedsOf(target: FuzzTarget): Uint8Array[] {
  let s = seedCache.get(target);
  if (!s) { s = target.seeds(); seedCache.set(target, s); }
  return s;
}

/** The input of one case, reproducible from (target, seed). */
export function makeCase(target: FuzzTarget, seed: number): { bytes: Uint8Array; note: string; expectKind?: string } {
  const rng = new Rng(seed);
  const seeds = seedsOf(target);
  // One case in four is structure-aware where the target has generators.
  if (target.generators.length && rng.int(4) === 0) return rng.pick(target.generators)(rng);
  const base = rng.pick(seeds);
  const m = mutate(base, rng);
  return { bytes: m.bytes, note: m.applied.join('+') };
}

/** Longest error message a reader may build. */
export const MAX_MESSAGE = 20_000;

/** Allowed: twice the input plus 1 MiB for any single buffer a reader allocates. */
export const allocationAllowance = (inputBytes: number): number => 2 * inputBytes + 1024 * 1024;

export function runCase(target: FuzzTarget, seed: number, slowMs = 2000): Finding | null | 'rejected' {
  const c = makeCase(target, seed);
  const at = (problem: string): Finding => ({ target: target.name, seed, note: c.note, problem });
  resetAllocationWatermark();
  const t0 = performance.now();
  let outcome: Finding | null | 'rejected' = null;
  try {
    target.run(c.bytes);
    if (c.expectKind) outcome = at(`accepted, but a ${c.expectKind} error was required`);
  } catch (e) {
    if (!isBisenetError(e)) outcome = at(`foreign exception ${(e as Error)?.name}: ${(e as Error)?.message}`);
    else if (!e.message) outcome = at('error without a message');
    // Messages quote the file: they must stay bounded whatever it holds (the CLI cuts them, but building one must not cost much).
    else if (e.message.length > MAX_MESSAGE) outcome = at(`error message of ${e.message.length} characters`);
    else if (c.expectKind && e.kind !== c.expectKind) outcome = at(`${e.kind} error where ${c.expectKind} was required: ${e.message}`);
    else outcome = 'rejected';
  }
  const ms = performance.now() - t0;
  const peak = resetAllocationWatermark();
  if (outcome === null || outcome === 'rejected') {
    if (ms > slowMs) return at(`took ${ms.toFixed(0)} ms`);
    if (peak > allocationAllowance(c.bytes.length)) return at(`allocated ${peak} bytes for a ${c.bytes.length}-byte input`);
  }
  return outcome;
}

export function fuzz(opts: { seeds?: number[]; perTarget?: number; seconds?: number; targets?: string[]; startSeed?: number; onFinding?: (f: Finding) => void }): FuzzStats {
  const targets = TARGETS.filter((t) => !opts.targets || opts.targets.includes(t.name));
  const stats: FuzzStats = { cases: 0, rejected: 0, accepted: 0, findings: [], ms: 0 };
  const t0 = performance.now();
  const deadline = opts.seconds ? t0 + opts.seconds * 1000 : Infinity;
  let seed = opts.startSeed ?? 1;
  const perTarget = opts.perTarget ?? Infinity;
  for (let i = 0; i < perTarget && performance.now() < deadline; i++, seed++) {
    for (const t of targets) {
      const r = runCase(t, seed);
      stats.cases++;
      if (r === 'rejected') stats.rejected++;
      else if (r === null) stats.accepted++;
      else { stats.findings.push(r); opts.onFinding?.(r); }
    }
  }
  stats.ms = performance.now() - t0;
  return stats;
}
