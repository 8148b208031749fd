/** Reads onnxruntime's profiling trace (its `enableProfiling` JSON) into kernel time per `session.run`. */

/** One event of the trace (Chrome trace format: `ts` and `dur` in microseconds). */
export interface OrtTraceEvent { cat?: string; name?: string; ts?: number; dur?: number; args?: { op_name?: string; provider?: string } }

export interface OrtRunProfile {
  /** `model_run` as onnxruntime times it, ms. */
  runMs: number;
  /** Sum of the kernels' own times within that run, ms. */
  kernelMs: number;
  kernels: number;
}

export interface OrtProfile {
  runs: OrtRunProfile[];
  /** Kernel time per op type over all runs, ms, largest first. */
  byOp: { op: string; ms: number; count: number }[];
}

/**
 * Kernel events (`cat: "Node"`, name `<node>_kernel_time`) are assigned to the `model_run` session event
 * whose span holds them; `_fence_before/_after` and executor events are not kernel time. Kernels run one
 * after another here (interOpNumThreads 1; intra-op threads work inside one kernel), so their sum is the
 * time spent computing, and `model_run − kernels` is onnxruntime's own overhead.
 */
export function parseOrtProfile(trace: unknown): OrtProfile {
  if (!Array.isArray(trace)) throw new Error('not an onnxruntime profile: expected a JSON array of trace events');
  const events = trace as OrtTraceEvent[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run' && typeof e.ts === 'number' && typeof e.dur === 'number')
    .sort((a, b) => a.ts! - b.ts!)
    .map((e) => ({ start: e.ts!, end: e.ts! + e.dur!, kernelUs: 0, kernels: 0 }));
  const byOp = new Map<string, { us: number; count: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || typeof e.ts !== 'number' || typeof e.dur !== 'number') continue;
    const run = runs.find((r) => e.ts! >= r.start && e.ts! <= r.end);
    if (!run) continue;
    run.kernelUs += e.dur;
    run.kernels++;
    const op = e.args?.op_name ?? '?';
    const o = byOp.get(op) ?? { us: 0, count: 0 };
    o.us += e.dur;
    o.count++;
    byOp.set(op, o);
  }
  return {
    runs: runs.map((r) => ({ runMs: (r.end - r.start) / 1000, kernelMs: r.kernelUs / 1000, kernels: r.kernels })),
    byOp: [...byOp].map(([op, o]) => ({ op, ms: o.us / 1000, count: o.count })).sort((a, b) => b.ms - a.ms),
  };
}
