/**
 * `bisenet bench`: per runtime and input size, end-to-end time after a warm-up (median, min, max), frames/s,
 * GFLOP/s from the IR's multiply-adds, kernel time where the runtime reports it, and each runtime's own
 * ceiling measured on a dense conv stack (./ceiling.ts). The report is data; ./format.ts prints it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertCheckpoint, type Target } from '../convert.js';
import { emitOnnx } from '../emit/onnx.js';
import { emitTfjsGraph } from '../emit/tfjs-graph.js';
import { emitTflite } from '../emit/tflite.js';
import { checkTflite } from '../model-check/tflite.js';
import { convMacs, gflops } from '../ir/cost.js';
import type { Graph } from '../ir/graph.js';
import { bisenetv2, VARIANTS, type Family } from '../models/bisenetv2.js';
import { loadRunner, runtimeById, type Runner } from '../runtime/index.js';
import type { GpuPhases } from '../runtime/types.js';
import { fail } from '../util/errors.js';
import { readFileChecked, writeDirAtomic } from '../util/fs.js';
import type { NdArray } from '../util/ndarray.js';
import { onnxProto } from '../util/onnx-proto.js';
import { CEILING, convStackGraph, convStackWeights } from './ceiling.js';
import { inputData, timeOrtCpu, type OrtCase } from './ort.js';

export const DEFAULT_RUNTIMES = ['ort-cpu', 'tfjs-wasm'];
export const DEFAULT_SIZES: [number, number][] = [[512, 1024]];
/** Largest H×W bench takes (4096×4096): a 19-class 1×19×H×W float32 output is then 1.2 GiB. */
export const MAX_PIXELS = 4096 * 4096;
/** Largest bytes of one frame's input and outputs together, checked before anything runs. */
export const MAX_FRAME_BYTES = 4 * 2 ** 30;

export interface BenchOptions {
  model?: string;
  checkpoint?: string;
  runtimes?: string[];
  sizes?: [number, number][];
  runs?: number;
  warmup?: number;
  /** CPU threads (default: all cores). */
  threads?: number;
  /** WebGPU adapter. */
  device?: string;
  /** Measure each runtime's conv-stack ceiling (default true). */
  ceiling?: boolean;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface Stats { median: number; min: number; max: number }

export interface BenchRow {
  runtime: string;
  device: string;
  /** [H, W] of the 1×3×H×W input. */
  size: [number, number];
  /** Outputs fetched each run. */
  fetch: string[];
  runs: number;
  e2eMs: Stats;
  fps: number;
  /** Conv multiply-adds of one frame, in G (null when the model records no family/class count). */
  gmacs: number | null;
  /** 2 × MACs / median end-to-end time. */
  gflops: number | null;
  /** onnxruntime's own kernel time for the same runs, and its `model_run` span. */
  kernelMs?: Stats;
  ortRunMs?: Stats;
  kernelGflops?: number | null;
  /** Median end-to-end minus median kernel time: what is spent outside the kernels. */
  outsideMs?: number;
  /** gflops (or kernelGflops, against the kernel ceiling) as a share of this runtime's ceiling. */
  ofCeiling?: number | null;
  ofCeilingKernel?: number | null;
  /** GPU runtimes that split a run (Runner.phases): upload, compute and read-back of the fetched outputs, per run. */
  gpuPhasesMs?: { upload: Stats; compute: Stats; readback: Stats };
}

export interface CeilingRow {
  runtime: string;
  device: string;
  shape: number[];
  gmacs: number;
  runs: number;
  e2eMs: Stats;
  gflops: number;
  kernelMs?: Stats;
  kernelGflops?: number;
}

export interface BenchReport {
  tool: 'bisenet bench';
  version: 1;
  date: string;
  machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string; loadavgAtStart: number[]; loadavgAtEnd: number[] };
  model: { source: 'checkpoint' | 'model'; path: string; family: string | null; numClasses: number | null; converted: string[] };
  runs: number;
  warmup: number;
  ceilingModel: string;
  rows: BenchRow[];
  ceilings: CeilingRow[];
  notes: string[];
}

export function stats(xs: number[]): Stats {
  if (!xs.length) return { median: NaN, min: NaN, max: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/** `512x1024,1024x2048` → [[512, 1024], [1024, 2048]]; each H and W a multiple of 32, within MAX_PIXELS. */
export function parseSizes(spec: string): [number, number][] {
  const sizes = spec.split(',').map((s) => s.trim()).filter(Boolean).map((s): [number, number] => {
    const m = /^(\d{1,5})[x×](\d{1,5})$/i.exec(s);
    if (!m) fail('usage', `--size ${s}: expected HxW, e.g. 512x1024`);
    const h = Number(m![1]);
    const w = Number(m![2]);
    if (h < 32 || w < 32 || h % 32 || w % 32) fail('usage', `--size ${s}: H and W must be multiples of 32 (BiSeNetV2 downsamples by 32)`);
    if (h * w > MAX_PIXELS) fail('usage', `--size ${s}: ${h * w} pixels is more than bench takes (${MAX_PIXELS}, 4096×4096)`);
    return [h, w];
  });
  if (!sizes.length) fail('usage', '--size: no size given');
  return sizes;
}

/** Which model format each runtime loads (a runtime missing here gets the first format it accepts). */
const FORMAT_OF: Record<string, Target> = {
  'ort-cpu': 'onnx', 'ort-webgpu': 'onnx', 'ort-webgpu-default': 'onnx',
  'tfjs-wasm': 'tfjs-graph', 'tfjs-cpu': 'tfjs-graph', 'tfjs-webgpu': 'tfjs-graph', tensorrt: 'tensorrt', 'litert-wasm': 'tflite', 'chromium-litert-wasm': 'tflite', 'chromium-litert-webgpu': 'tflite',
  'chromium-ort-wasm': 'onnx', 'chromium-wasm': 'tfjs-graph',
};
const FORMAT_ORDER: Target[] = ['onnx', 'tfjs-graph', 'tensorrt'];

/** What the MAC count needs from a model: the family and class count it records, and whether it has booster outputs. */
function modelFacts(modelPath: string): { family: Family | null; numClasses: number | null; aux: boolean } {
  let meta: Record<string, unknown> = {};
  let outputs: string[] = [];
  const st = fs.statSync(modelPath, { throwIfNoEntry: false });
  if (!st) fail('io', `model not found: ${modelPath}`);
  if (st!.isDirectory() || modelPath.toLowerCase().endsWith('.json')) {
    const file = st!.isDirectory() ? path.join(modelPath, 'model.json') : modelPath;
    try {
      const json = JSON.parse(readFileChecked(file, 'model.json').toString('utf8')) as { userDefinedMetadata?: { bisenet?: Record<string, unknown> } };
      meta = json.userDefinedMetadata?.bisenet ?? {};
      outputs = Array.isArray(meta.outputs) ? (meta.outputs as string[]) : [];
    } catch (e) {
      if ((e as Error).name === 'BisenetError') throw e;
      fail('format', `${file}: not valid JSON`);
    }
  } else if (modelPath.toLowerCase().endsWith('.tflite')) {
    const info = checkTflite(readFileChecked(modelPath, 'TFLite model'), modelPath);
    meta = info.metadata;
    outputs = info.outputs.map((x) => x.name);
  } else if (st!.isFile()) {
    try {
      const m = onnxProto.onnx.ModelProto.decode(readFileChecked(modelPath, 'ONNX model'));
      meta = Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
      outputs = (m.graph?.output ?? []).map((o) => o.name ?? '');
    } catch (e) {
      if ((e as Error).name === 'BisenetError') throw e;
      fail('format', `${modelPath}: not an ONNX model`);
    }
  }
  const family = typeof meta.family === 'string' && meta.family in VARIANTS ? meta.family as Family : null;
  const k = Number(meta.num_classes);
  return { family, numClasses: Number.isInteger(k) && k > 0 ? k : null, aux: outputs.includes('aux2') };
}

function machine(): BenchReport['machine'] {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU', cores: os.availableParallelism(), memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`, node: process.version, loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))), loadavgAtEnd: [],
  };
}

const round = (x: number, d = 2): number => (Number.isFinite(x) ? Number(x.toFixed(d)) : x);
const roundStats = (s: Stats): Stats => ({ median: round(s.median), min: round(s.min), max: round(s.max) });

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const log = o.log ?? (() => {});
  if (!o.model === !o.checkpoint) fail('usage', 'give one of --model or --checkpoint');
  const sizes = o.sizes ?? DEFAULT_SIZES;
  const runs = o.runs ?? 5;
  const warmup = o.warmup ?? 1;
  const threads = o.threads ?? os.availableParallelism();
  const source = (o.model ?? o.checkpoint)!;
  if (!fs.existsSync(source)) fail('io', `${o.model ? 'model' : 'checkpoint'} not found: ${source}`);
  const requested = o.runtimes ?? null;
  for (const id of requested ?? []) runtimeById(id); // unknown names fail here, before any work

  const report: BenchReport = {
    tool: 'bisenet bench', version: 1, date: new Date().toISOString(), machine: machine(),
    model: { source: o.model ? 'model' : 'checkpoint', path: source, family: null, numClasses: null, converted: [] },
    runs, warmup,
    ceilingModel: `${CEILING.depth} × (3×3 conv ${CEILING.channels}→${CEILING.channels} + bias + ReLU) on 1×${CEILING.channels}×${CEILING.height}×${CEILING.width}`,
    rows: [], ceilings: [], notes: [],
  };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bisenet-bench-'));
  try {
    // 1. The model each runtime loads, and the graph whose MACs we count.
    let graph: Graph | null = null;
    const modelFor = new Map<string, string>();
    /** A model of one fixed input size (TFLite), converted from the checkpoint for each size timed. */
    let makeSized: ((to: Target, size: [number, number]) => string) | null = null;
    let runtimes: string[];
    if (o.checkpoint) {
      runtimes = requested ?? DEFAULT_RUNTIMES;
      const made = new Map<Target, string>();
      const make = (to: Target, size?: [number, number]): string => {
        const key = (size ? `${to}:${size.join('x')}` : to) as Target;
        if (made.has(key)) return made.get(key)!;
        const t0 = performance.now();
        const labels = to === 'onnx' || to === 'tfjs-graph' || to === 'tflite';
        // TFLite takes one input size: one model per size (the first here; the others as each is timed).
        const [th, tw] = size ?? sizes[0]!;
        const shapes = to === 'tensorrt' ? trtShapes(sizes) : to === 'tflite' ? `1x3x${th}x${tw}` : undefined;
        const c = convertCheckpoint(o.checkpoint!, { to, labels, shapes });
        graph ??= bisenetv2({ numClasses: c.ported.numClasses, family: c.ported.family });
        report.model.family = c.ported.family;
        report.model.numClasses = c.ported.numClasses;
        const out = path.join(work, to === 'onnx' ? 'model.onnx' : to === 'tflite' ? `model-${th}x${tw}.tflite` : to);
        if (c.files) writeDirAtomic(out, c.files); else fs.writeFileSync(out, c.bytes);
        report.model.converted.push(`${to}${to === 'tflite' ? ` ${th}x${tw}` : ''}${labels ? ' (outputs logits, labels)' : ''}`);
        log(`converted ${path.basename(o.checkpoint!)} to ${to} in ${(performance.now() - t0).toFixed(0)} ms`);
        made.set(key, out);
        return out;
      };
      makeSized = (to, size) => make(to, size);
      for (const id of runtimes) {
        const rt = runtimeById(id);
        const first = FORMAT_OF[id];
        const candidates = first ? [first] : FORMAT_ORDER;
        const p = candidates.map((t) => make(t)).find((m) => rt.accepts(m));
        if (!p) fail('usage', `runtime ${id} loads none of the formats bench converts to (${FORMAT_ORDER.join(', ')})`);
        modelFor.set(id, p!);
      }
    } else {
      const facts = modelFacts(o.model!);
      report.model.family = facts.family;
      report.model.numClasses = facts.numClasses;
      if (facts.family && facts.numClasses) graph = bisenetv2({ numClasses: facts.numClasses, family: facts.family, aux: facts.aux });
      else report.notes.push(`${o.model}: records no family and class count (not exported by bisenet-port?), so no MAC count and no GFLOP/s`);
      runtimes = requested ?? DEFAULT_RUNTIMES.filter((id) => runtimeById(id).accepts(o.model!));
      if (!runtimes.length) fail('usage', `${o.model}: none of the default runtimes (${DEFAULT_RUNTIMES.join(', ')}) loads it; name one with --runtime`);
      for (const id of runtimes) {
        if (!runtimeById(id).accepts(o.model!)) fail('usage', `runtime ${id} cannot load ${o.model}`);
        modelFor.set(id, o.model!);
      }
    }
    // Budget: one frame's input and outputs, before anything runs.
    const classes = report.model.numClasses ?? 1000;
    for (const [h, w] of sizes) {
      const bytes = 4 * h * w * (3 + 2 * classes + 2);
      if (bytes > MAX_FRAME_BYTES) fail('usage', `--size ${h}x${w}: one frame's input and outputs would take ${(bytes / 2 ** 30).toFixed(1)} GiB (limit ${MAX_FRAME_BYTES / 2 ** 30} GiB)`);
    }
    const g = graph as Graph | null;
    const macsAt = (h: number, w: number): number | null => (g ? convMacs(g, [1, 3, h, w]) : null);

    // 2. Each runtime: its ceiling, then the model at each size.
    const ceilingGraph = convStackGraph();
    const ceilingWeights = convStackWeights(ceilingGraph);
    const ceilingShape = [1, CEILING.channels, CEILING.height, CEILING.width];
    const ceilingMacs = convMacs(ceilingGraph, ceilingShape);
    const ceilingPath = (id: string): string => {
      const fmt = FORMAT_OF[id] ?? 'onnx';
      if (fmt === 'tflite') {
        const p = path.join(work, 'ceiling.tflite');
        if (!fs.existsSync(p)) fs.writeFileSync(p, emitTflite(ceilingGraph, ceilingWeights, { shapes: ceilingShape.join('x') }));
        return p;
      }
      if (fmt === 'onnx' || fmt === 'tensorrt') {
        const p = path.join(work, 'ceiling.onnx');
        if (!fs.existsSync(p)) fs.writeFileSync(p, emitOnnx(ceilingGraph, ceilingWeights));
        return p;
      }
      const p = path.join(work, 'ceiling-tfjs');
      if (!fs.existsSync(p)) writeDirAtomic(p, emitTfjsGraph(ceilingGraph, ceilingWeights));
      return p;
    };

    for (const id of runtimes) {
      const modelPath = modelFor.get(id)!;
      let ceiling: CeilingRow | null = null;
      if (id === 'ort-cpu') {
        const device = `CPU (${threads} thread${threads > 1 ? 's' : ''})`;
        if (o.ceiling !== false) {
          log(`${id}: ceiling (${report.ceilingModel})`);
          const r = await timeOrtCpu(ceilingPath(id), () => [{ key: 'c', shape: ceilingShape, fetch: ['output'] }], { runs, warmup, threads, workDir: work });
          ceiling = ceilingRow(id, device, ceilingShape, ceilingMacs, r.times.get('c')!.e2eMs, r.times.get('c')!.kernelMs);
          report.ceilings.push(ceiling);
        }
        const casesFor = (outputs: string[]): OrtCase[] => sizes.flatMap(([h, w]) => {
          const all = outputs.filter((n) => n !== 'labels');
          const list: OrtCase[] = [{ key: `${h}x${w}:${all.join(',')}`, shape: [1, 3, h, w], fetch: all }];
          // Fetching only the in-graph argmax is what segmentation needs: 1 int64 a pixel instead of C floats.
          if (outputs.includes('labels')) list.push({ key: `${h}x${w}:labels`, shape: [1, 3, h, w], fetch: ['labels'] });
          return list;
        });
        log(`${id}: ${modelPath} at ${sizes.map(([h, w]) => `${h}×${w}`).join(', ')}`);
        const r = await timeOrtCpu(modelPath, casesFor, { runs, warmup, threads, workDir: work });
        for (const c of casesFor(r.outputNames)) {
          const t = r.times.get(c.key)!;
          const [h, w] = [c.shape[2]!, c.shape[3]!];
          report.rows.push(modelRow(id, device, [h, w], c.fetch, t.e2eMs, t.kernelMs, t.ortRunMs, macsAt(h, w), ceiling));
          log(`${id} ${h}×${w} → ${c.fetch.join(',')}: median ${stats(t.e2eMs).median.toFixed(1)} ms`);
        }
        continue;
      }
      // Every other runtime through its Runner: what a caller of the library sees, end to end.
      if (o.ceiling !== false) {
        log(`${id}: ceiling (${report.ceilingModel})`);
        const runner = await loadRunner(ceilingPath(id), id, { threads: o.threads, device: o.device });
        try {
          const t = await timeRunner(runner, ceilingShape, runs, warmup);
          ceiling = ceilingRow(id, runner.device, ceilingShape, ceilingMacs, t, null);
          report.ceilings.push(ceiling);
        } finally { await runner.dispose(); }
      }
      let runner = await loadRunner(modelPath, id, { threads: o.threads, device: o.device });
      if (runner.fixedInput && !makeSized) {
        const [, , fh, fw] = runner.fixedInput;
        const other = sizes.find(([h, w]) => h !== fh || w !== fw);
        if (other) { await runner.dispose(); fail('usage', `${modelPath} takes ${fh}×${fw} inputs only (fixed when converted); bench it with --size ${fh}x${fw}, or bench the checkpoint`); }
      }
      if (id === 'tfjs-wasm' && !/threaded/.test(runner.device)) {
        report.notes.push('tfjs-wasm ran its single-threaded SIMD build: tfjs-backend-wasm 4.22 never picks its threaded build in Node '
          + '(WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE, tfjs#3830); BISENET_WASM_THREADS=N forces it (experimental: README, "tfjs-wasm and threads")');
      }
      try {
        // As for onnxruntime: every output but the in-graph argmax, then `labels` alone where the model has it (what
        // segmentation reads back: on a GPU runtime the logits then never leave the device).
        const all = runner.outputNames.filter((n) => n !== 'labels');
        const fetches = runner.outputNames.includes('labels') ? [all, ['labels']] : [all];
        for (const [h, w] of sizes) {
          if (runner.fixedInput && makeSized && (runner.fixedInput[2] !== h || runner.fixedInput[3] !== w)) {
            await runner.dispose();
            runner = await loadRunner(makeSized(FORMAT_OF[id]!, [h, w]), id, { threads: o.threads, device: o.device });
          }
          for (const fetch of fetches) {
            log(`${id} ${h}×${w} → ${fetch.join(',')}: ${warmup} warm-up + ${runs} runs`);
            const { times: t, phases } = await timeRunnerPhases(runner, [1, 3, h, w], runs, warmup, fetch);
            const row = modelRow(id, runner.device, [h, w], fetch, t, null, null, macsAt(h, w), ceiling);
            if (phases.length) {
              row.gpuPhasesMs = { upload: roundStats(stats(phases.map((p) => p.uploadMs))), compute: roundStats(stats(phases.map((p) => p.computeMs))),
                readback: roundStats(stats(phases.map((p) => p.readbackMs))) };
            }
            report.rows.push(row);
            log(`${id} ${h}×${w} → ${fetch.join(',')}: median ${stats(t).median.toFixed(1)} ms`);
          }
        }
      } finally { await runner.dispose(); }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  report.machine.loadavgAtEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
  return report;
}

function trtShapes(sizes: [number, number][]): string {
  const by = [...sizes].sort((a, b) => a[0] * a[1] - b[0] * b[1]);
  const s = ([h, w]: [number, number]): string => `1x3x${h}x${w}`;
  return by.length === 1 ? s(by[0]!) : `${s(by[0]!)}:${s(sizes[0]!)}:${s(by[by.length - 1]!)}`;
}

async function timeRunner(runner: Pick<Runner, 'inputNames' | 'run' | 'phases'>, shape: number[], runs: number, warmup: number, fetch?: string[]): Promise<number[]> {
  return (await timeRunnerPhases(runner, shape, runs, warmup, fetch)).times;
}

/** End-to-end times of `runs` runs after `warmup`, and each timed run's GPU phases where the runner reports them. */
async function timeRunnerPhases(runner: Pick<Runner, 'inputNames' | 'run' | 'phases'>, shape: number[], runs: number, warmup: number, fetch?: string[],
): Promise<{ times: number[]; phases: GpuPhases[] }> {
  const x: NdArray = { dtype: 'float32', shape, data: inputData(shape) };
  const feeds = { [runner.inputNames[0]!]: x };
  const times: number[] = [];
  const phases: GpuPhases[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = performance.now();
    const out = await runner.run(feeds, fetch ? { outputs: fetch } : undefined);
    for (const k of fetch ?? []) if (!out[k]) fail('runtime', `the runtime returned no output ${k}`);
    if (i < warmup) continue;
    times.push(performance.now() - t0);
    const p = runner.phases?.();
    if (p) phases.push(p);
  }
  return { times, phases: phases.length === times.length ? phases : [] };
}

function ceilingRow(runtime: string, device: string, shape: number[], macs: number, e2e: number[], kernel: number[] | null): CeilingRow {
  const e = stats(e2e);
  const row: CeilingRow = { runtime, device, shape, gmacs: round(macs / 1e9, 3), runs: e2e.length, e2eMs: roundStats(e), gflops: round(gflops(macs, e.median), 1) };
  if (kernel?.length) {
    const k = stats(kernel);
    row.kernelMs = roundStats(k);
    row.kernelGflops = round(gflops(macs, k.median), 1);
  }
  return row;
}

function modelRow(runtime: string, device: string, size: [number, number], fetch: string[], e2e: number[], kernel: number[] | null, ortRun: number[] | null,
  macs: number | null, ceiling: CeilingRow | null): BenchRow {
  // Frames/s and GFLOP/s from the median as reported, so that the row is consistent with itself.
  const e = roundStats(stats(e2e));
  const row: BenchRow = {
    runtime, device, size, fetch, runs: e2e.length, e2eMs: e, fps: round(1000 / e.median, 2),
    gmacs: macs === null ? null : round(macs / 1e9, 3), gflops: macs === null ? null : round(gflops(macs, e.median), 1),
  };
  if (ceiling) row.ofCeiling = row.gflops === null ? null : round(row.gflops / ceiling.gflops, 3);
  if (kernel?.length) {
    const k = stats(kernel);
    row.kernelMs = roundStats(k);
    row.ortRunMs = roundStats(stats(ortRun ?? []));
    row.kernelGflops = macs === null ? null : round(gflops(macs, k.median), 1);
    row.outsideMs = round(e.median - k.median);
    if (ceiling?.kernelGflops) row.ofCeilingKernel = row.kernelGflops === null ? null : round(row.kernelGflops / ceiling.kernelGflops, 3);
  }
  return row;
}
