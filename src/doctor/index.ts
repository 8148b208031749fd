/**
 * Every runtime on this machine, checked the same way: which are available (and on which GPU
 * adapter), parity on a golden set, and optionally median inference time at given sizes. Used by
 * `bisenet doctor` and `npm run gpu-check` (scripts/gpu-check.mjs, also inside the GPU bundle).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { convertCheckpoint } from '../convert/index.js';
import type { Target } from '../emit/targets.js';
import { probeRuntime, RUNTIMES, runtimeById, type RuntimeProbe } from '../runtime/index.js';
import { listAdapters } from '../runtime/webgpu.js';
import { isBisenetError } from '../util/errors.js';
import { readFilePrefix, writeDirAtomic, writeFileAtomic } from '../util/fs.js';
import { makeTempDir } from '../util/temp.js';
import type { NdArray } from '../util/ndarray.js';
import { manifestCheckpoint } from '../verify/golden.js';
import { verifyGolden, type VerifyReport } from '../verify/index.js';
import { toleranceFor } from '../verify/tolerance.js';

/**
 * Settings of a runtime that change its arithmetic, checked beside it by doctor. `reportOnly`:
 * measured and printed, not held to the tolerance (float16 textures cannot reach 1e-3 on every model).
 */
export const ARITHMETIC_VARIANTS: Record<string, { label: string; flags: Record<string, boolean>; reportOnly?: string }[]> = {
  'chromium-webgl': [
    { label: 'float16 textures', flags: { WEBGL_FORCE_F16_TEXTURES: true }, reportOnly: 'float16 textures (WEBGL_FORCE_F16_TEXTURES, what many phones get) are reported, not held to the tolerance' },
    { label: 'unpacked', flags: { WEBGL_PACK: false } },
  ],
};

/** Configurations known to fail parity (from the registry): reported as failures, with the reason, without failing the check. */
export const KNOWN_FAILURES: Record<string, string> = Object.fromEntries(RUNTIMES.filter((r) => r.knownFailure).map((r) => [r.id, r.knownFailure!]));

export type Probe = RuntimeProbe;

/** Which runtimes can run here, without loading a model. */
export async function probeRuntimes(opts: { device?: string; ids?: string[] } = {}): Promise<Probe[]> {
  const out: Probe[] = [];
  for (const r of RUNTIMES) if (!opts.ids || opts.ids.includes(r.id)) out.push(await probeRuntime(r, { device: opts.device }));
  return out;
}

export { listAdapters };

export interface CheckRow {
  runtime: string;
  device: string;
  available: boolean;
  /** parity on the golden set: null where it did not run */
  pass: boolean | null;
  relMax: number | null;
  labelAgreement: number | null;
  knownFailure?: string;
  /** where optional packages are missing: the line that installs them */
  install?: string;
  /** a variant measured and printed, not held to the tolerance (ARITHMETIC_VARIANTS) */
  reportOnly?: string;
  error?: string;
  /** size "HxW" → median ms (null: not timed) */
  times: Record<string, number | null>;
  report?: VerifyReport;
}

export interface CheckOptions {
  checkpoint: string;
  golden: string;
  runtimes?: string[];
  device?: string;
  /** sizes to time, [H, W]; none: parity only */
  sizes?: [number, number][];
  runs?: number;
  /** time tfjs-cpu too (slow) */
  timeAll?: boolean;
  /** keep the converted models in this folder (default: a temporary one, removed) */
  keepDir?: string;
  log?: (line: string) => void;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

function benchInput(h: number, w: number): NdArray {
  const n = 3 * h * w;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.001) * 2;
  return { dtype: 'float32', shape: [1, 3, h, w], data };
}

/** The checkpoint a golden set names in its manifest, relative to the working directory or the repository. */
export function goldenCheckpoint(goldenDir: string): string | null {
  return manifestCheckpoint(goldenDir);
}

/** Converts once per format, runs the golden set through each runtime, and times it where asked. */
export async function checkRuntimes(opts: CheckOptions): Promise<CheckRow[]> {
  const log = opts.log ?? (() => {});
  const ids = opts.runtimes ?? RUNTIMES.map((r) => r.id);
  for (const id of ids) runtimeById(id);
  const probes = await probeRuntimes({ device: opts.device });
  const temp = opts.keepDir ? null : makeTempDir('bisenet-check-');
  const work = opts.keepDir ?? temp!.dir;
  if (opts.keepDir) fs.mkdirSync(work, { recursive: true });
  const models = new Map<Target, string>();
  const sizes = opts.sizes ?? [];
  const modelFor = (target: Target, tfliteShape?: number[]): string => {
    // TFLite: one model per input size (fixed when converting); by default the golden input's.
    const shape = target === 'tflite' ? (tfliteShape ?? goldenInputShapes(opts.golden)[0] ?? [1, 3, 512, 1024]).join('x') : '';
    const key = `${target}${shape}` as Target;
    let p = models.get(key);
    if (p) return p;
    p = path.join(work, target === 'onnx' ? 'model.onnx' : target === 'tflite' ? `model-${shape}.tflite` : target);
    // TensorRT: one profile covering the golden input and every timed size.
    const shapes = target === 'tensorrt' ? trtProfile(opts.golden, sizes) : target === 'tflite' ? shape : undefined;
    const c = convertCheckpoint(opts.checkpoint, { to: target, shapes });
    if (c.files) writeDirAtomic(p, c.files); else writeFileAtomic(p, c.chunks ?? c.bytes);
    models.set(key, p);
    return p;
  };
  const rows: CheckRow[] = [];
  try {
    const jobs = ids.flatMap((id) => [{ id, variant: undefined as (typeof ARITHMETIC_VARIANTS)[string][number] | undefined }, ...(ARITHMETIC_VARIANTS[id] ?? []).map((variant) => ({ id, variant }))]);
    for (const { id, variant } of jobs) {
      const probe = probes.find((p) => p.id === id)!;
      const name = variant ? `${id} [${variant.label}]` : id;
      const row: CheckRow = { runtime: name, device: probe.detail, available: probe.available, pass: null, relMax: null, labelAgreement: null, times: {} };
      if (KNOWN_FAILURES[id]) row.knownFailure = KNOWN_FAILURES[id];
      if (probe.install) row.install = probe.install;
      if (variant?.reportOnly) row.reportOnly = variant.reportOnly;
      rows.push(row);
      if (!probe.available) { log(`${name}: not available (${probe.detail})`); continue; }
      let runner;
      try {
        const rt = runtimeById(id);
        const model = rt.model === 'checkpoint' ? opts.checkpoint : modelFor(rt.model); // the reference runs the checkpoint itself
        const t0 = performance.now();
        runner = await runtimeById(id).load(model, { device: opts.device, flags: variant?.flags });
        row.device = runner.device;
        log(`${name}: loaded on ${runner.device} in ${(performance.now() - t0).toFixed(0)} ms; golden set…`);
        const report = await verifyGolden(runner, model, opts.golden, toleranceFor(id));
        const logits = report.cases.flatMap((c) => c.outputs).filter((o) => o.name === 'logits');
        row.report = report;
        row.pass = report.pass;
        row.relMax = logits.length ? Math.max(...logits.map((o) => o.relMax)) : null;
        row.labelAgreement = logits.length ? Math.min(...logits.map((o) => o.labelAgreement ?? 1)) : null;
        log(`${name}: parity ${report.pass ? 'ok' : 'FAIL'} (max|Δ|/max|ref| ${row.relMax?.toExponential(2)}, labels ${(100 * (row.labelAgreement ?? NaN)).toFixed(3)}%)`);
        for (const [h, w] of sizes) {
          const key = `${h}x${w}`;
          if (!runtimeById(id).timed && !opts.timeAll) { row.times[key] = null; continue; }
          const x = { [runner.inputNames[0]!]: benchInput(h, w) };
          // A model of one fixed size (TFLite) is converted and loaded again for each timed size.
          const sized: typeof runner = runner.fixedInput ? await runtimeById(id).load(modelFor(rt.model as Target, [1, 3, h, w]), { device: opts.device }) : runner;
          const times: number[] = [];
          let warm = 0;
          try {
            const tw = performance.now();
            await sized.run(x); // warm-up: shader compilation, engine build, allocation
            warm = performance.now() - tw;
            for (let i = 0; i < (opts.runs ?? 5); i++) {
              const t = performance.now();
              await sized.run(x);
              times.push(performance.now() - t);
            }
          } finally {
            if (sized !== runner) await sized.dispose();
          }
          row.times[key] = median(times);
          log(`${name}: ${key} median ${median(times).toFixed(1)} ms of ${times.length} (first run ${warm.toFixed(0)} ms)`);
        }
      } catch (e) {
        row.error = isBisenetError(e) ? e.message : `${(e as Error)?.message ?? String(e)}`;
        log(`${name}: error: ${row.error}`);
      } finally {
        await runner?.dispose().catch(() => {});
      }
    }
  } finally {
    temp?.remove();
  }
  return rows;
}

/** The input shapes of a golden set's cases (from their .npy headers). */
function goldenInputShapes(golden: string): number[][] {
  const goldenShapes: number[][] = [];
  try {
    for (const d of [golden, ...fs.readdirSync(golden).map((x) => path.join(golden, x))]) {
      const f = path.join(d, 'input.npy');
      if (fs.existsSync(f)) {
        const header = Buffer.from(readFilePrefix(f, 256, 'golden input')).toString('latin1'); // the header only, never the whole file
        const m = /'shape': \(([^)]*)\)/.exec(header);
        if (m) goldenShapes.push(m[1]!.split(',').filter((s) => s.trim()).map((s) => Number(s)));
      }
    }
  } catch { /* no golden shapes: sizes only */ }
  return goldenShapes;
}

function trtProfile(golden: string, sizes: [number, number][]): string {
  const goldenShapes = goldenInputShapes(golden);
  const all = [...goldenShapes.map((s) => [s[2]!, s[3]!]), ...sizes];
  if (all.length === 0) all.push([512, 1024]);
  const hs = all.map((s) => s[0]!);
  const ws = all.map((s) => s[1]!);
  const opt = sizes[0] ?? all[0]!;
  return `1x3x${Math.min(...hs)}x${Math.min(...ws)}:1x3x${opt[0]}x${opt[1]}:1x3x${Math.max(...hs)}x${Math.max(...ws)}`;
}

const exp = (v: number | null): string => (v === null ? '-' : Number.isFinite(v) ? v.toExponential(2) : 'inf');

/** Widest line of doctor's table: long adapter names are cut, install lines and errors go below it. */
const TABLE_WIDTH = 100;
const cut = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, Math.max(1, n - 1))}…`);

/** One plain-text table of check rows, at most 100 columns, then a line per runtime that needs more words. */
export function formatCheck(rows: CheckRow[], sizes: [number, number][] = []): string {
  const head = ['runtime', 'parity', 'max|Δ|/max|ref|', 'labels agree', ...sizes.map(([h, w]) => `median ${h}×${w}`), 'adapter / device'];
  const notes: string[] = [];
  const body = rows.map((r) => {
    const parity = r.install ? 'not installed' : !r.available ? 'not available' : r.error ? 'error' : r.pass === null ? '-'
      : r.reportOnly ? `${r.pass ? 'ok' : 'outside'} (reported)`
        : r.pass ? (r.knownFailure ? 'ok (known bug gone?)' : 'ok') : r.knownFailure ? 'FAIL (known bug)' : 'FAIL';
    if (r.install) notes.push(`${r.runtime}: ${r.install}`);
    if (r.error) notes.push(`${r.runtime}: ${r.error}`);
    return [r.runtime, parity, exp(r.relMax), r.labelAgreement === null ? '-' : `${(100 * r.labelAgreement).toFixed(3)}%`,
      ...sizes.map(([h, w]) => { const t = r.times[`${h}x${w}`]; return t === undefined || t === null ? '-' : `${t.toFixed(1)} ms`; }),
      r.install ? '-' : r.available ? r.device : r.device.split(':')[0]!];
  });
  const all = [head, ...body];
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const last = head.length - 1;
  const room = Math.max(16, TABLE_WIDTH - widths.slice(0, last).reduce((a, b) => a + b + 2, 0));
  const lines = all.map((row) => row.map((c, i) => (i === last ? cut(c, room) : c.padEnd(widths[i]!))).join('  ').trimEnd());
  return [...lines, ...notes].join('\n');
}

/** Whether the check passed: every available runtime matches, except the known failures. */
export const checkPassed = (rows: CheckRow[]): boolean => rows.every((r) => !r.available || r.knownFailure !== undefined || (r.reportOnly !== undefined && !r.error) || (r.pass === true && !r.error));
