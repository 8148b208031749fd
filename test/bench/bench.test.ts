import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convStackGraph, convStackWeights, CONV_STACK } from '../../src/bench/conv-stack.js';
import { formatBench, TEXT_WIDTH, wrap } from '../../src/bench/format.js';
import { parseSizes, stats, type BenchReport } from '../../src/bench/index.js';
import { judgeLoad, type LoadSample } from '../../src/bench/load.js';
import { timeOrtCpu } from '../../src/bench/ort.js';
import { parseOrtProfile } from '../../src/bench/ort-profile.js';
import { emitOnnx } from '../../src/emit/onnx.js';
import { convMacs, gflops } from '../../src/ir/cost.js';
import { bisenetv2 } from '../../src/models/bisenetv2.js';
import { bisenet } from '../helpers/cli.js';
import { fixture, tmpDir, UPSTREAM } from '../helpers/paths.js';

const CKPT = fixture(UPSTREAM, 'model.pth');
let work: string;
beforeAll(() => { work = tmpDir('bisenet-bench-test-'); });
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('MAC and GFLOP/s arithmetic', () => {
  it('counts the reference doc\'s multiply-adds and scales with batch and size', () => {
    const g = bisenetv2({ numClasses: 19 });
    expect(convMacs(g, [1, 3, 512, 1024]) / 1e9).toBeCloseTo(24.60, 1);
    expect(convMacs(g, [1, 3, 1024, 2048]) / 1e9).toBeCloseTo(98.41, 1);
    expect(convMacs(g, [2, 3, 512, 1024])).toBe(2 * convMacs(g, [1, 3, 512, 1024]));
    // The PaddleSeg head is 128 wide instead of 1024: fewer MACs than CoinCheung's.
    expect(convMacs(bisenetv2({ numClasses: 19, family: 'paddleseg' }), [1, 3, 512, 1024])).toBeLessThan(convMacs(g, [1, 3, 512, 1024]));
  });

  it('counts a conv stack by hand: out·H·W·(in/groups)·k² per conv', () => {
    const g = convStackGraph();
    expect(convMacs(g, [1, CONV_STACK.channels, CONV_STACK.height, CONV_STACK.width])).toBe(CONV_STACK.depth * 64 * 128 * 256 * 64 * 9);
    expect(convMacs(convStackGraph(8, 2), [1, 8, 4, 4])).toBe(2 * 8 * 16 * 8 * 9);
  });

  it('turns MACs and milliseconds into GFLOP/s (one MAC is two FLOPs)', () => {
    expect(gflops(1e9, 1000)).toBe(2);
    expect(gflops(24.6e9, 166)).toBeCloseTo(296.4, 1);
    expect(gflops(1e9, 0)).toBeNaN();
  });

  it('takes the median, min and max', () => {
    expect(stats([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(stats([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4 });
  });

  it('parses sizes and refuses what the model cannot take', () => {
    expect(parseSizes('512x1024, 1024x2048')).toEqual([[512, 1024], [1024, 2048]]);
    expect(() => parseSizes('500x1024')).toThrow(/multiples of 32/);
    expect(() => parseSizes('512*1024')).toThrow(/expected HxW/);
    expect(() => parseSizes('8192x8192')).toThrow(/more than bench takes/);
  });
});

describe('onnxruntime profile parser', () => {
  it('sums kernel time per model_run of a recorded onnxruntime-node 1.30 trace', () => {
    const trace = JSON.parse(fs.readFileSync(path.join(__dirname, 'ort-profile-snippet.json'), 'utf8'));
    const p = parseOrtProfile(trace);
    expect(p.runs).toHaveLength(2);
    expect(p.runs[0]).toEqual({ runMs: 64.47, kernelMs: (15545 + 46 + 42) / 1000, kernels: 3 });
    expect(p.runs[1]!.kernelMs).toBeCloseTo((74 + 14 + 18) / 1000, 9);
    expect(p.runs[1]!.runMs).toBeCloseTo(15.84, 9);
    // Session spans (loading, initialization, the executor) are not kernels.
    expect(p.byOp.reduce((s, o) => s + o.count, 0)).toBe(6);
    expect(p.byOp[0]!.op).toBe('Conv');
  });

  it('ignores kernels outside any run and refuses what is not a trace', () => {
    const p = parseOrtProfile([
      { cat: 'Node', name: 'x_kernel_time', ts: 5, dur: 100, args: { op_name: 'Conv' } },
      { cat: 'Session', name: 'model_run', ts: 10, dur: 50 },
      { cat: 'Node', name: 'y_kernel_time', ts: 20, dur: 30, args: { op_name: 'Relu' } },
      { cat: 'Node', name: 'y_fence_before', ts: 19, dur: 1 },
    ]);
    expect(p.runs).toEqual([{ runMs: 0.05, kernelMs: 0.03, kernels: 1 }]);
    expect(() => parseOrtProfile({ traceEvents: [] })).toThrow(/not an onnxruntime profile/);
  });

  it('pairs a real profiled session\'s runs with the calls that made them', async () => {
    const g = convStackGraph(8, 2);
    const file = path.join(work, 'stack.onnx');
    fs.writeFileSync(file, emitOnnx(g, convStackWeights(g)));
    const r = await timeOrtCpu(file, () => [{ key: 'a', shape: [1, 8, 16, 16], fetch: ['output'] }, { key: 'b', shape: [1, 8, 8, 8], fetch: ['output'] }],
      { runs: 3, warmup: 1, threads: 1, workDir: work });
    for (const k of ['a', 'b']) {
      const t = r.times.get(k)!;
      expect(t.e2eMs).toHaveLength(3);
      expect(t.kernelMs).toHaveLength(3);
      for (let i = 0; i < 3; i++) {
        expect(t.kernelMs![i]!).toBeGreaterThan(0);
        expect(t.kernelMs![i]!).toBeLessThanOrEqual(t.ortRunMs![i]!);
      }
    }
    expect(fs.readdirSync(work).filter((f) => f.startsWith('ort-profile'))).toEqual([]); // trace removed
  });
});

describe('bench text and load', () => {
  const sample = (loadavg: number, busyMs: number, ownMs: number, wallMs: number): LoadSample => ({ loadavg: [loadavg, loadavg, loadavg], busyMs, ownMs, wallMs });

  it('calls the machine busy from the load before, or from other processes\' CPU time during, and says why', () => {
    // Quiet: load 0.3 on 2 cores; over 10 s the cores were busy 12 s, 11.5 of them ours.
    let v = judgeLoad(sample(0.3, 0, 0, 0), sample(1.8, 12_000, 11_500, 10_000), 2, false);
    expect(v).toEqual({ busy: false, warning: null, othersShare: 0.025 });
    // Busy before: 1.5 on 2 cores (the case).
    v = judgeLoad(sample(1.5, 0, 0, 0), sample(1.8, 12_000, 11_500, 10_000), 2, false);
    expect(v.busy).toBe(true);
    expect(v.warning).toBe('the machine was busy (load average 1.50 at start; 2 cores): these timings are unreliable; rerun when it is quiet');
    // Busy during: others took 8 of 20 core-seconds.
    v = judgeLoad(sample(0.2, 0, 0, 0), sample(2.5, 19_000, 11_000, 10_000), 2, false);
    expect(v).toMatchObject({ busy: true, othersShare: 0.4 });
    expect(v.warning).toMatch(/other processes used 40 % of the cores while it ran/);
    // Runtimes in other processes (browsers): CPU time is not separable; the load at the end above the cores decides.
    expect(judgeLoad(sample(0.2, 0, 0, 0), sample(1.9, 19_000, 1_000, 10_000), 2, true)).toEqual({ busy: false, warning: null, othersShare: null });
    expect(judgeLoad(sample(0.2, 0, 0, 0), sample(3.1, 19_000, 1_000, 10_000), 2, true).warning).toMatch(/load average 3\.10 at end/);
  });

  /** A report as bench makes it, with long device names and a long path: the text must still fit. */
  const report = (): BenchReport => {
    const st = (x: number) => ({ median: x, min: x * 0.9, max: x * 1.3 });
    const row = (runtime: string, device: string, fetch: string[], median: number, vs: number, kernel?: number) => ({
      runtime, device, size: [1024, 2048] as [number, number], fetch, runs: 5, e2eMs: st(median), fps: 1000 / median, gmacs: 98.41, gflops: 196.8, vsConvStack: vs,
      ...(kernel ? { kernelMs: st(kernel), ortRunMs: st(kernel), kernelGflops: 340, outsideMs: median - kernel, vsConvStackKernel: 0.8 } : {}),
    });
    const gpu = 'NVIDIA Corporation hopper H100 80GB HBM3 (Vulkan, driver 550.54.15, a very long adapter description indeed)';
    return {
      tool: 'bisenet bench', version: 2, date: '2026-12-06T00:00:00Z',
      machine: { cpu: 'AMD EPYC 9654 96-Core Processor', cores: 2, memoryGiB: 24, os: 'Linux 6.18.44-fc-v1045', node: 'v20.20.2', loadavgAtStart: [1.5, 1.2, 0.9], loadavgAtEnd: [2.1, 1.4, 1],
        load: { busy: true, warning: 'the machine was busy (load average 1.50 at start; 2 cores): these timings are unreliable; rerun when it is quiet', othersShare: 0.031 } },
      model: { source: 'checkpoint', path: `/home/someone/${'deeply/nested/'.repeat(6)}model.pth`, family: 'coincheung', numClasses: 19, converted: ['onnx (outputs logits, aux2, aux3, aux4, aux5_4, labels)', 'tfjs-graph (outputs logits, labels)'] },
      runs: 5, warmup: 1, convStackModel: '8 × (3×3 conv 64→64 + bias + ReLU) on 1×64×128×256',
      rows: [row('ort-cpu', 'CPU (2 threads)', ['logits', 'aux2', 'aux3', 'aux4', 'aux5_4'], 1034, 0.7, 576), row('ort-cpu', 'CPU (2 threads)', ['labels'], 300, 1.96, 290),
        row('chromium-ort-webgpu', gpu, ['logits'], 88, 0.4)],
      convStack: [{ runtime: 'ort-cpu', device: 'CPU (2 threads)', shape: [1, 64, 128, 256], gmacs: 9.66, runs: 5, e2eMs: st(71), gflops: 271.3, kernelMs: st(45), kernelGflops: 427.1 },
        { runtime: 'chromium-ort-webgpu', device: gpu, shape: [1, 64, 128, 256], gmacs: 9.66, runs: 5, e2eMs: st(20), gflops: 966 }],
      notes: ['the machine was busy (load average 1.50 at start; 2 cores): these timings are unreliable; rerun when it is quiet', 'tfjs-wasm ran its single-threaded SIMD build: a long note that goes on and on about tfjs-backend-wasm and its threads in Node'],
    };
  };

  it(`fits ${TEXT_WIDTH} columns, gives the conv stack as a ratio (not a percentage of a "ceiling"), and --wide has every column`, () => {
    const text = formatBench(report());
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(TEXT_WIDTH);
    expect(text).not.toMatch(/ceiling|%\s*$/m);
    expect(text).toMatch(/^ort-cpu +1024×2048 → labels +300 +270–390 +3\.33 +196\.8 +1\.96× +290$/m);
    expect(text).toMatch(/^ort-cpu +1024×2048 → logits\+4 /m);
    expect(text).toMatch(/^chromium-ort-webgpu: NVIDIA Corporation hopper H100/m);
    expect(text).toMatch(/^warning: the machine was busy \(load average 1\.50 at start; 2 cores\): these timings are unreliable;/m);
    expect(text).toMatch(/^note: tfjs-wasm ran/m);
    expect(text).toMatch(/not an upper bound/);
    const wide = formatBench(report(), { wide: true });
    expect(wide).toMatch(/^ort-cpu +CPU \(2 threads\) +1024×2048 → logits,aux2,aux3,aux4,aux5_4 +1034 .* 98\.41 +196\.8 +0\.70× +576 +458 +340\.0 +0\.80×$/m);
    expect(wide).toMatch(/^chromium-ort-webgpu +NVIDIA Corporation hopper H100 80GB HBM3 \(Vulkan/m);
  });

  it('wraps at spaces, cutting only a word longer than a line', () => {
    expect(wrap('aaa bbb ccc', 7)).toBe('aaa bbb\n  ccc');
    expect(wrap('aaa bbb', 7)).toBe('aaa bbb');
    expect(wrap(`x ${'y'.repeat(12)} z`, 10)).toBe(`x\n  yyyyyyyy\n  yyyy z`);
    for (const line of wrap(`a ${'b'.repeat(250)} c`, 100).split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });
});

describe('bisenet bench', () => {
  it('prints a JSON report that parses, with sane rows (tiny size, 2 runs)', () => {
    const r = bisenet('bench', '--checkpoint', CKPT, '--size', '64x128', '--runs', '2', '--warmup', '1', '--no-conv-stack', '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as BenchReport;
    expect(j.tool).toBe('bisenet bench');
    expect(j.machine.cores).toBeGreaterThan(0);
    expect(j.model).toMatchObject({ source: 'checkpoint', family: 'coincheung', numClasses: 19 });
    expect(j.runs).toBe(2);
    expect(j.version).toBe(2);
    expect(j.convStack).toEqual([]);
    // The load was measured before and after; a warning on stderr exactly when the report calls the machine busy.
    expect(j.machine.loadavgAtStart).toHaveLength(3);
    expect(j.machine.loadavgAtEnd).toHaveLength(3);
    expect(j.machine.load.othersShare).toBeGreaterThanOrEqual(0);
    expect(r.stderr.includes(`warning: ${j.machine.load.warning}`)).toBe(j.machine.load.busy);
    // ort-cpu: logits and labels-only rows, with kernel time; tfjs-wasm: the same two, end to end.
    const rows = j.rows.map((x) => `${x.runtime}:${x.fetch.join(',')}`);
    expect(rows).toEqual(['ort-cpu:logits', 'ort-cpu:labels', 'tfjs-wasm:logits', 'tfjs-wasm:labels']);
    const macs = convMacs(bisenetv2({ numClasses: 19 }), [1, 3, 64, 128]) / 1e9;
    for (const x of j.rows) {
      expect(x.size).toEqual([64, 128]);
      expect(x.runs).toBe(2);
      expect(x.e2eMs.min).toBeGreaterThan(0);
      expect(x.e2eMs.min).toBeLessThanOrEqual(x.e2eMs.median);
      expect(x.e2eMs.median).toBeLessThanOrEqual(x.e2eMs.max);
      expect(x.gmacs).toBeCloseTo(macs, 3);
      expect(x.fps).toBeCloseTo(1000 / x.e2eMs.median, 1);
      expect(x.gflops).toBeCloseTo((2 * macs) / (x.e2eMs.median / 1000), -1);
    }
    for (const x of j.rows.filter((y) => y.runtime === 'ort-cpu')) {
      expect(x.kernelMs!.median).toBeGreaterThan(0);
      expect(x.outsideMs).toBeCloseTo(x.e2eMs.median - x.kernelMs!.median, 1);
    }
    expect(j.rows.find((x) => x.runtime === 'tfjs-wasm')!.device).toMatch(/WebAssembly/);
    expect(formatBench(j)).toMatch(/ort-cpu .* 64×128 → labels/);
    expect(formatBench(j)).not.toMatch(/GPU runs split/);
    // A GPU runtime's split (Runner.phases) gets its own table.
    const gpuRow = { ...j.rows[0]!, runtime: 'ort-webgpu', device: 'some GPU', fetch: ['labels'],
      gpuPhasesMs: { upload: { median: 1.5, min: 1, max: 2 }, compute: { median: 12.25, min: 12, max: 13 }, readback: { median: 0.75, min: 0.5, max: 1 } } };
    expect(formatBench({ ...j, rows: [gpuRow] })).toMatch(/GPU runs split[^]*\nruntime +input → fetched +upload +compute +read-back\nort-webgpu +64×128 → labels +1\.5 +12\.3 +0\.8\n/);
    expect(formatBench({ ...j, rows: [gpuRow] }, { wide: true })).toMatch(/GPU runs split[^\n]*\n.*upload +compute +read-back\nort-webgpu +some GPU +64×128 → labels +1\.5 +12\.3 +0\.8/);
  }, 240_000); // ≈ 15 s on the idle 2-core VM; two conversions and two runtimes take far longer when it is shared

  it('bad input: one line, exit 2, no JSON file written', () => {
    const out = path.join(work, 'bench.json');
    for (const args of [['--size', '64x100'], ['--runtimes', 'nope'], ['--runs', '0'], []]) {
      const r = bisenet('bench', ...(args.length ? ['--checkpoint', CKPT, ...args] : []), '--json', out);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: /);
    }
    const m = bisenet('bench', '--model', path.join(work, 'missing.onnx'), '--json', out);
    expect(m.status).toBe(2);
    expect(m.stderr).toMatch(/not found/);
    expect(fs.existsSync(out)).toBe(false);
  }, 180_000); // five CLI start-ups: seconds when idle, up to a minute on the shared VM
});
