/**
 * `bisenet bench`: per runtime and input size, end-to-end time after a warm-up (median, min, max), frames/s,
 * GFLOP/s from the IR's multiply-adds, kernel time where the runtime reports it, and each runtime's rate on a
 * dense conv stack (./conv-stack.ts) as a reference: not a bound (a model's 1×1 convs, or a smaller output, can run
 * faster), so rows give a ratio to it, not a percentage. Whether the machine was busy is measured before and after
 * (./load.ts). The report is data; ./format.ts prints it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertCheckpoint, type Target } from '../convert/index.js';
import { emitOnnx } from '../emit/onnx.js';
import { emitTfjsGraph } from '../emit/tfjs-graph.js';
import { emitTflite } from '../emit/tflite.js';
import { readModelFile } from '../model-file/index.js';
import { convMacs, gflops } from '../ir/cost.js';
import type { Graph } from '../ir/graph.js';
import { bisenetv2, VARIANTS, type Family } from '../models/bisenetv2.js';
import { cannotLoad, loadRunner, runtimeById, type Runner } from '../runtime/index.js';
import type { GpuPhases } from '../runtime/types.js';
import { fail } from '../util/errors.js';
import { formatBytes } from '../util/limits.js';
import { checkRunMemory, modelFileBytes, modelLoadBytes, modelRunBytes, UNKNOWN_CLASSES } from '../model-file/memory.js';
import { writeDirAtomic } from '../util/fs.js';
import { makeTempDir } from '../util/temp.js';
import type { NdArray } from '../util/ndarray.js';
import { CONV_STACK, convStackGraph, convStackWeights } from './conv-stack.js';
import { judgeLoad, sampleLoad, type LoadCheck, type LoadSample } from './load.js';
import { inputData, timeOrtCpu, type OrtCase } from './ort.js';

export const DEFAULT_RUNTIMES = ['ort-cpu', 'tfjs-wasm'];
export const DEFAULT_SIZES: [number, number][] = [[512, 1024]];
/** Largest H×W bench takes (4096×4096): a 19-class 1×19×H×W float32 output is then 1.2 GiB. */
export const MAX_PIXELS = 4096 * 4096;

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
  /** Measure each runtime's rate on the dense conv stack, the reference rows are compared with (default true). */
  convStack?: boolean;
  /** @deprecated the conv stack's former name: `ceiling: false` is `convStack: false`. */
  ceiling?: boolean;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Reads the machine's load (replaceable for tests). */
  probe?: () => LoadSample;
  /** With --checkpoint: ort-cpu also times the model converted to these precisions, litert-wasm the int8 one (int8 needs `calibration`). */
  precisions?: ('fp32' | 'fp16' | 'int8')[];
  /** calib.json for the int8 row */
  calibration?: string;
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
  /** gflops (or kernelGflops, against the stack's kernel rate) ÷ this runtime's GFLOP/s on the conv stack: a ratio, may exceed 1. */
  vsConvStack?: number | null;
  vsConvStackKernel?: number | null;
  /** GPU runtimes that split a run (Runner.phases): upload, compute and read-back of the fetched outputs, per run. */
  gpuPhasesMs?: { upload: Stats; compute: Stats; readback: Stats };
  /** the model's precision (convert --precision): fp32 unless it records another */
  precision?: 'fp32' | 'fp16' | 'int8';
}

export interface ConvStackRow {
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
  /** 2: the conv stack is a reference (convStack, vsConvStack), no longer called a ceiling; machine.load added. */
  version: 2;
  date: string;
  machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string; loadavgAtStart: number[]; loadavgAtEnd: number[]; load: LoadCheck;
    /** SIMD and int8 dot-product extensions the CPU reports (Linux /proc/cpuinfo), and whether it has int8 dot products (VNNI or AMX) */
    isa?: { flags: string[]; int8Dot: boolean } };
  model: { source: 'checkpoint' | 'model'; path: string; family: string | null; numClasses: number | null; converted: string[] };
  runs: number;
  warmup: number;
  convStackModel: string;
  rows: BenchRow[];
  convStack: ConvStackRow[];
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

/**
 * The format bench converts a checkpoint to for a runtime: the one its catalog entry loads (a tfjs-layers
 * runtime loads a tfjs graph model too, which bench times everywhere); null for the reference interpreter.
 */
function formatOf(id: string): Target | null {
  const m = runtimeById(id).model;
  return m === 'checkpoint' ? null : m === 'tfjs-layers' ? 'tfjs-graph' : m;
}
const FORMAT_ORDER: Target[] = ['onnx', 'tfjs-graph', 'tensorrt'];

/** What the MAC count needs from a model: the family and class count it records, and whether it has booster outputs. */
function modelFacts(modelPath: string): { family: Family | null; numClasses: number | null; aux: boolean; precision: 'fp32' | 'fp16' | 'int8' } {
  const m = readModelFile(modelPath);
  const meta = m.recorded;
  const family = typeof meta.family === 'string' && meta.family in VARIANTS ? meta.family as Family : null;
  const k = Number(meta.num_classes);
  const precision = meta.precision === 'fp16' || meta.precision === 'int8' ? meta.precision : 'fp32';
  return { family, numClasses: Number.isInteger(k) && k > 0 ? k : null, aux: m.outputs.includes('aux2'), precision };
}

/** The extensions that decide int8 and fp16 speed on x86 and Arm, as /proc/cpuinfo names them. */
const ISA_FLAGS = ['avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'avx512_fp16', 'amx_int8', 'amx_bf16', 'asimddp', 'i8mm', 'fphp'];

/** The ISA flags of the first CPU in /proc/cpuinfo text (`flags` on x86, `Features` on Arm). */
export function isaOf(cpuinfo: string): { flags: string[]; int8Dot: boolean } {
  const line = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '';
  const have = new Set(line.split(/\s+/));
  const flags = ISA_FLAGS.filter((f) => have.has(f));
  return { flags, int8Dot: flags.some((f) => f === 'avx512_vnni' || f === 'avx_vnni' || f === 'amx_int8' || f === 'asimddp') };
}

function machine(sample: LoadSample): BenchReport['machine'] {
  let isa: BenchReport['machine']['isa'];
  try { isa = isaOf(fs.readFileSync('/proc/cpuinfo', 'utf8').slice(0, 1 << 20)); } catch { isa = undefined; }
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU', cores: os.availableParallelism(), memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`, node: process.version, loadavgAtStart: sample.loadavg, loadavgAtEnd: [],
    load: { busy: false, warning: null, othersShare: null },
    ...(isa ? { isa } : {}),
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

  const withStack = o.convStack !== false && o.ceiling !== false;
  const probe = o.probe ?? sampleLoad;
  const before = probe();
  const report: BenchReport = {
    tool: 'bisenet bench', version: 2, date: new Date().toISOString(), machine: machine(before),
    model: { source: o.model ? 'model' : 'checkpoint', path: source, family: null, numClasses: null, converted: [] },
    runs, warmup,
    convStackModel: `${CONV_STACK.depth} × (3×3 conv ${CONV_STACK.channels}→${CONV_STACK.channels} + bias + ReLU) on 1×${CONV_STACK.channels}×${CONV_STACK.height}×${CONV_STACK.width}`,
    rows: [], convStack: [], notes: [],
  };
  const temp = makeTempDir('bisenet-bench-');
  const work = temp.dir;
  try {
    // 1. The model each runtime loads, and the graph whose MACs we count.
    let graph: Graph | null = null;
    let modelPrecision: 'fp32' | 'fp16' | 'int8' = 'fp32';
    const modelFor = new Map<string, string>();
    const precisions = o.precisions ?? [];
    if (precisions.includes('int8') && !o.calibration) fail('usage', '--precisions int8 needs --calibration calib.json (write it with bisenet calibrate)');
    if (o.calibration && !precisions.includes('int8')) fail('usage', '--calibration applies with --precisions int8 only');
    const timedIn = o.runtimes ?? DEFAULT_RUNTIMES;
    if (precisions.some((p) => p !== 'fp32') && !timedIn.includes('ort-cpu') && !(precisions.every((p) => p !== 'fp16') && timedIn.includes('litert-wasm'))) {
      fail('usage', '--precisions rows are timed in ort-cpu (int8 also in litert-wasm); include it in --runtimes');
    }
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
        // The budget as soon as the model's size is known: before it is written, converted again or loaded.
        const converted = c.files ? [...c.files.values()].reduce((s, f) => s + f.byteLength, 0) : c.byteLength;
        for (const [h, w] of sizes) {
          checkRunMemory(source, modelLoadBytes(converted) + modelRunBytes(1, h, w, c.ported.numClasses),
            `--size ${h}x${w}: loading the model (${c.ported.numClasses} classes, ${formatBytes(converted)}) and running it once`);
        }
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
        const first = formatOf(id);
        const candidates = first ? [first] : FORMAT_ORDER;
        const p = candidates.map((t) => make(t)).find((m) => rt.accepts(m));
        if (!p) fail('usage', `runtime ${id} loads none of the formats bench converts to (${FORMAT_ORDER.join(', ')})`);
        modelFor.set(id, p!);
      }
    } else {
      if (o.precisions?.length) fail('usage', '--precisions applies with --checkpoint (bench converts the checkpoint to each precision); a --model is timed as it is');
      const facts = modelFacts(o.model!);
      modelPrecision = facts.precision;
      report.model.family = facts.family;
      report.model.numClasses = facts.numClasses;
      if (facts.family && facts.numClasses) graph = bisenetv2({ numClasses: facts.numClasses, family: facts.family, aux: facts.aux });
      else report.notes.push(`${o.model}: records no family and class count (not exported by bisenet-port?), so no MAC count and no GFLOP/s`);
      runtimes = requested ?? DEFAULT_RUNTIMES.filter((id) => runtimeById(id).accepts(o.model!));
      if (!runtimes.length) fail('usage', `${o.model}: none of the default runtimes (${DEFAULT_RUNTIMES.join(', ')}) loads it; name them with --runtimes`);
      for (const id of runtimes) {
        if (!runtimeById(id).accepts(o.model!)) fail('usage', cannotLoad(id, o.model!));
        modelFor.set(id, o.model!);
      }
    }
    // The one budget (--max-memory): the largest model a runtime holds, and a run at each size.
    const classes = report.model.numClasses ?? UNKNOWN_CLASSES;
    const held = Math.max(0, ...[...modelFor.values()].map(modelFileBytes));
    for (const [h, w] of sizes) {
      checkRunMemory(source, modelLoadBytes(held) + modelRunBytes(1, h, w, classes), `--size ${h}x${w}: loading the model (${classes} classes, ${formatBytes(held)}) and running it once`);
    }
    const g = graph as Graph | null;
    const macsAt = (h: number, w: number): number | null => (g ? convMacs(g, [1, 3, h, w]) : null);

    // 2. Each runtime: its rate on the conv stack, then the model at each size.
    const stackGraph = convStackGraph();
    const stackWeights = convStackWeights(stackGraph);
    const stackShape = [1, CONV_STACK.channels, CONV_STACK.height, CONV_STACK.width];
    const stackMacs = convMacs(stackGraph, stackShape);
    const stackPath = (id: string): string => {
      const fmt = formatOf(id) ?? 'onnx';
      if (fmt === 'tflite') {
        const p = path.join(work, 'conv-stack.tflite');
        if (!fs.existsSync(p)) fs.writeFileSync(p, emitTflite(stackGraph, stackWeights, { shapes: stackShape.join('x') }));
        return p;
      }
      if (fmt === 'onnx' || fmt === 'tensorrt') {
        const p = path.join(work, 'conv-stack.onnx');
        if (!fs.existsSync(p)) fs.writeFileSync(p, emitOnnx(stackGraph, stackWeights));
        return p;
      }
      const p = path.join(work, 'conv-stack-tfjs');
      if (!fs.existsSync(p)) writeDirAtomic(p, emitTfjsGraph(stackGraph, stackWeights));
      return p;
    };

    for (const id of runtimes) {
      const modelPath = modelFor.get(id)!;
      let stack: ConvStackRow | null = null;
      if (id === 'ort-cpu') {
        const device = `CPU (${threads} thread${threads > 1 ? 's' : ''})`;
        if (withStack) {
          log(`${id}: conv stack (${report.convStackModel})`);
          const r = await timeOrtCpu(stackPath(id), () => [{ key: 'c', shape: stackShape, fetch: ['output'] }], { runs, warmup, threads, workDir: work });
          stack = convStackRow(id, device, stackShape, stackMacs, r.times.get('c')!.e2eMs, r.times.get('c')!.kernelMs);
          report.convStack.push(stack);
        }
        const casesFor = (outputs: string[]): OrtCase[] => sizes.flatMap(([h, w]) => {
          const all = outputs.filter((n) => n !== 'labels');
          const list: OrtCase[] = [{ key: `${h}x${w}:${all.join(',')}`, shape: [1, 3, h, w], fetch: all }];
          // Fetching only the in-graph argmax is what segmentation needs: 1 int64 a pixel instead of C floats.
          if (outputs.includes('labels')) list.push({ key: `${h}x${w}:labels`, shape: [1, 3, h, w], fetch: ['labels'] });
          return list;
        });
        // The model as converted (fp32, or what a --model records), then each other of --precisions asked for.
        const variants: { precision: 'fp32' | 'fp16' | 'int8'; path: string }[] = [{ precision: modelPrecision, path: modelPath }];
        for (const p of precisions) {
          if (p === 'fp32' || !o.checkpoint) continue;
          const c = convertCheckpoint(o.checkpoint, { to: 'onnx', labels: true, precision: p, calibration: p === 'int8' ? o.calibration : undefined });
          const file = path.join(work, `model.${p}.onnx`);
          fs.writeFileSync(file, c.bytes);
          report.model.converted.push(`onnx ${p}`);
          variants.push({ precision: p, path: file });
        }
        for (const v of variants) {
          log(`${id}: ${v.precision === 'fp32' ? modelPath : `${v.precision} model`} at ${sizes.map(([h, w]) => `${h}×${w}`).join(', ')}`);
          const r = await timeOrtCpu(v.path, casesFor, { runs, warmup, threads, workDir: work });
          for (const c of casesFor(r.outputNames)) {
            const t = r.times.get(c.key)!;
            const [h, w] = [c.shape[2]!, c.shape[3]!];
            const row = modelRow(id, device, [h, w], c.fetch, t.e2eMs, t.kernelMs, t.ortRunMs, macsAt(h, w), stack);
            row.precision = v.precision;
            report.rows.push(row);
            log(`${id} ${v.precision} ${h}×${w} → ${c.fetch.join(',')}: median ${stats(t.e2eMs).median.toFixed(1)} ms`);
          }
        }
        if (precisions.includes('int8') && report.machine.isa && !report.machine.isa.int8Dot) {
          report.notes.push(`this CPU has no int8 dot-product instructions (no VNNI, AMX or Arm dot product: ${report.machine.isa.flags.join(' ') || 'none of the listed flags'}): int8 is not expected to be faster here`);
        }
        continue;
      }
      // Every other runtime through its Runner: what a caller of the library sees, end to end.
      if (withStack) {
        log(`${id}: conv stack (${report.convStackModel})`);
        const runner = await loadRunner(stackPath(id), id, { threads: o.threads, device: o.device });
        try {
          const t = await timeRunner(runner, stackShape, runs, warmup);
          stack = convStackRow(id, runner.device, stackShape, stackMacs, t, null);
          report.convStack.push(stack);
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
          + '(WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE, tfjs#3830); BISENET_WASM_THREADS=N forces it (experimental: docs/performance.md, "tfjs-wasm and threads")');
      }
      try {
        // As for onnxruntime: every output but the in-graph argmax, then `labels` alone where the model has it (what
        // segmentation reads back: on a GPU runtime the logits then never leave the device).
        const all = runner.outputNames.filter((n) => n !== 'labels');
        const fetches = runner.outputNames.includes('labels') ? [all, ['labels']] : [all];
        for (const [h, w] of sizes) {
          if (runner.fixedInput && makeSized && (runner.fixedInput[2] !== h || runner.fixedInput[3] !== w)) {
            await runner.dispose();
            runner = await loadRunner(makeSized(formatOf(id)!, [h, w]), id, { threads: o.threads, device: o.device });
          }
          for (const fetch of fetches) {
            log(`${id} ${h}×${w} → ${fetch.join(',')}: ${warmup} warm-up + ${runs} runs`);
            const { times: t, phases } = await timeRunnerPhases(runner, [1, 3, h, w], runs, warmup, fetch);
            const row = modelRow(id, runner.device, [h, w], fetch, t, null, null, macsAt(h, w), stack);
            if (phases.length) {
              row.gpuPhasesMs = { upload: roundStats(stats(phases.map((p) => p.uploadMs))), compute: roundStats(stats(phases.map((p) => p.computeMs))),
                readback: roundStats(stats(phases.map((p) => p.readbackMs))) };
            }
            if (precisions.length) row.precision = modelPrecision;
            report.rows.push(row);
            log(`${id} ${h}×${w} → ${fetch.join(',')}: median ${stats(t).median.toFixed(1)} ms`);
          }
        }
      } finally { await runner.dispose(); }
      // litert-wasm: the integer TFLite model too (one per size, as TFLite fixes the input size), where int8 is asked for.
      if (id === 'litert-wasm' && precisions.includes('int8') && o.checkpoint) {
        for (const [h, w] of sizes) {
          const file = path.join(work, `model-${h}x${w}.int8.tflite`);
          const c = convertCheckpoint(o.checkpoint, { to: 'tflite', labels: true, shapes: `1x3x${h}x${w}`, precision: 'int8', calibration: o.calibration });
          fs.writeFileSync(file, c.bytes);
          report.model.converted.push(`tflite int8 ${h}x${w}`);
          const r8 = await loadRunner(file, id, { threads: o.threads, device: o.device });
          try {
            for (const fetch of [r8.outputNames.filter((n) => n !== 'labels'), ['labels']]) {
              log(`${id} int8 ${h}×${w} → ${fetch.join(',')}: ${warmup} warm-up + ${runs} runs`);
              const { times: t } = await timeRunnerPhases(r8, [1, 3, h, w], runs, warmup, fetch);
              const row = modelRow(id, r8.device, [h, w], fetch, t, null, null, macsAt(h, w), stack);
              row.precision = 'int8';
              report.rows.push(row);
              log(`${id} int8 ${h}×${w} → ${fetch.join(',')}: median ${stats(t).median.toFixed(1)} ms`);
            }
          } finally { await r8.dispose(); }
        }
        report.notes.push('litert-wasm int8 runs XNNPACK\'s int8 WebAssembly SIMD kernels: WebAssembly has no int8 dot product outside relaxed SIMD, which the compat build Node runs lacks, so VNNI is not used whatever the CPU');
      }
    }
  } finally {
    temp.remove();
  }
  const after = probe();
  report.machine.loadavgAtEnd = after.loadavg;
  // Runtimes in other processes (browsers, trtexec) count as "others" in the CPU time; only the load averages judge them.
  report.machine.load = judgeLoad(before, after, report.machine.cores, (o.runtimes ?? []).some((r) => /^(chromium|tensorrt)/.test(r)));
  if (report.machine.load.warning) report.notes.unshift(report.machine.load.warning);
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

function convStackRow(runtime: string, device: string, shape: number[], macs: number, e2e: number[], kernel: number[] | null): ConvStackRow {
  const e = stats(e2e);
  const row: ConvStackRow = { runtime, device, shape, gmacs: round(macs / 1e9, 3), runs: e2e.length, e2eMs: roundStats(e), gflops: round(gflops(macs, e.median), 1) };
  if (kernel?.length) {
    const k = stats(kernel);
    row.kernelMs = roundStats(k);
    row.kernelGflops = round(gflops(macs, k.median), 1);
  }
  return row;
}

function modelRow(runtime: string, device: string, size: [number, number], fetch: string[], e2e: number[], kernel: number[] | null, ortRun: number[] | null,
  macs: number | null, stack: ConvStackRow | null): BenchRow {
  // Frames/s and GFLOP/s from the median as reported, so that the row is consistent with itself.
  const e = roundStats(stats(e2e));
  const row: BenchRow = {
    runtime, device, size, fetch, runs: e2e.length, e2eMs: e, fps: round(1000 / e.median, 2),
    gmacs: macs === null ? null : round(macs / 1e9, 3), gflops: macs === null ? null : round(gflops(macs, e.median), 1),
  };
  if (stack) row.vsConvStack = row.gflops === null ? null : round(row.gflops / stack.gflops, 3);
  if (kernel?.length) {
    const k = stats(kernel);
    row.kernelMs = roundStats(k);
    row.ortRunMs = roundStats(stats(ortRun ?? []));
    row.kernelGflops = macs === null ? null : round(gflops(macs, k.median), 1);
    row.outsideMs = round(e.median - k.median);
    if (stack?.kernelGflops) row.vsConvStackKernel = row.kernelGflops === null ? null : round(row.kernelGflops / stack.kernelGflops, 3);
  }
  return row;
}
