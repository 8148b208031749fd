/**
 * Is the machine quiet enough for timings? Measured twice, before the first run and after the last: the
 * load averages, and the CPU time every core spent busy (/proc/stat through os.cpus()) minus this
 * process's own (process.cpuUsage(), its worker threads included): what other processes took meanwhile.
 */
import * as os from 'node:os';

export interface LoadSample {
  /** 1, 5 and 15-minute load averages. */
  loadavg: number[];
  /** Busy CPU time of all cores together, ms (user + nice + sys + irq). */
  busyMs: number;
  /** How many cores busyMs sums over (os.cpus(): may exceed the cores this process may use, in a container). */
  cpus?: number;
  /** This process's CPU time, ms. */
  ownMs: number;
  /** Wall clock, ms. */
  wallMs: number;
}

export interface LoadCheck {
  busy: boolean;
  /** One sentence for the user when busy (also the report's first note). */
  warning: string | null;
  /** Share of all cores other processes used while bench ran (null: runtimes in other processes ran, so not separable). */
  othersShare: number | null;
}

export function sampleLoad(): LoadSample {
  let busyMs = 0;
  const cpus = os.cpus();
  for (const c of cpus) busyMs += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  const u = process.cpuUsage();
  return { loadavg: os.loadavg().map((x) => Number(x.toFixed(2))), busyMs, cpus: cpus.length, ownMs: (u.user + u.system) / 1000, wallMs: performance.now() };
}

/** A 1-minute load average above this share of the cores before bench starts: others are running. */
export const BUSY_LOAD_AT_START = 0.5;
/** Other processes using more than this share of all cores while bench ran. */
export const BUSY_OTHERS_SHARE = 0.25;

/**
 * The verdict from the two samples. Before: the 1-minute load average against the cores (bench has not
 * started, so all of it is others'). During: others' share of the cores where it can be separated from
 * ours; where runtimes ran in other processes (browsers, trtexec), the 1-minute load average at the end
 * above the core count instead.
 */
export function judgeLoad(before: LoadSample, after: LoadSample, cores: number, outOfProcess: boolean): LoadCheck {
  const reasons: string[] = [];
  const l0 = before.loadavg[0] ?? 0;
  if (l0 > BUSY_LOAD_AT_START * cores) reasons.push(`load average ${l0.toFixed(2)} at start`);
  let othersShare: number | null = null;
  const wall = after.wallMs - before.wallMs;
  if (!outOfProcess && wall > 0) {
    const others = (after.busyMs - before.busyMs) - (after.ownMs - before.ownMs);
    othersShare = Number(Math.max(0, others / (wall * (after.cpus || cores))).toFixed(3));
    if (othersShare > BUSY_OTHERS_SHARE) reasons.push(`other processes used ${(100 * othersShare).toFixed(0)} % of the cores while it ran`);
  } else if (outOfProcess && (after.loadavg[0] ?? 0) > cores) {
    reasons.push(`load average ${(after.loadavg[0] ?? 0).toFixed(2)} at end`);
  }
  if (!reasons.length) return { busy: false, warning: null, othersShare };
  return {
    busy: true, othersShare,
    warning: `the machine was busy (${reasons.join('; ')}; ${cores} cores): these timings are unreliable; rerun when it is quiet`,
  };
}
