/**
 * `tensorrt`: runs a model through NVIDIA TensorRT's `trtexec`, which builds an engine from the ONNX
 * (once per input shape, kept in a temporary folder) and runs it on inputs given as raw files
 * (`--loadInputs`), writing the outputs as JSON (`--exportOutput`). Where trtexec is not installed
 * the runtime says so and loads nothing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readTensorrtModel } from '../model-file/tensorrt.js';
import { fail } from '../util/errors.js';
import { makeTempDir } from '../util/temp.js';
import type { NdArray } from '../util/ndarray.js';
import type { Runner, RunnerOptions, RuntimeInfo } from './types.js';

/** trtexec: $TRTEXEC, then PATH, then TensorRT's usual install folders. */
export function findTrtexec(): string | null {
  const candidates: string[] = [];
  if (process.env.TRTEXEC) candidates.push(process.env.TRTEXEC);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) candidates.push(path.join(dir, 'trtexec'));
  if (process.env.TENSORRT_HOME) candidates.push(path.join(process.env.TENSORRT_HOME, 'bin', 'trtexec'));
  candidates.push('/usr/src/tensorrt/bin/trtexec', '/opt/tensorrt/bin/trtexec', '/usr/local/tensorrt/bin/trtexec');
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch { /* next */ }
  }
  return null;
}

export const TENSORRT_MISSING = 'TensorRT is not installed here: no trtexec on PATH, in $TRTEXEC, $TENSORRT_HOME/bin or /usr/src/tensorrt/bin. '
  + 'Install TensorRT (it needs an NVIDIA GPU), or check the same model.onnx with --runtime ort-cpu';

/** trtexec's --exportOutput JSON: [{ name, dimensions: "1x19x96x160", values: [...] }, ...]. */
export function parseTrtexecOutput(text: string, file: string): Record<string, NdArray> {
  let list: unknown;
  try { list = JSON.parse(text); } catch { return fail('runtime', `${file}: trtexec wrote no valid JSON`); }
  if (!Array.isArray(list)) fail('runtime', `${file}: expected a list of outputs`);
  const out: Record<string, NdArray> = {};
  for (const o of list as { name?: unknown; dimensions?: unknown; values?: unknown }[]) {
    if (typeof o?.name !== 'string' || typeof o.dimensions !== 'string' || !Array.isArray(o.values)) fail('runtime', `${file}: an output lacks name, dimensions or values`);
    const shape = o.dimensions.split('x').map(Number);
    const values = o.values as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0) || n !== values.length) fail('runtime', `${file}: output ${o.name} has ${values.length} values for dimensions ${o.dimensions}`);
    const integral = o.name === 'labels';
    out[o.name] = integral ? { dtype: 'int32', shape, data: Int32Array.from(values) } : { dtype: 'float32', shape, data: Float32Array.from(values) };
  }
  return out;
}

export const tensorrt: RuntimeInfo = {
  id: 'tensorrt',
  async load(modelPath: string, _opts: RunnerOptions): Promise<Runner> {
    if (_opts.expose) fail('usage', 'the tensorrt runtime cannot return intermediate tensors (trtexec exports the engine\'s outputs only)');
    const { onnx, manifest } = readTensorrtModel(modelPath);
    const trtexec = findTrtexec();
    if (!trtexec) fail('runtime', TENSORRT_MISSING);
    if (!fs.existsSync(onnx)) fail('io', `model not found: ${onnx}`);
    const temp = makeTempDir('bisenet-trt-');
    const work = temp.dir;
    const engines = new Map<string, string>();
    const inputName = manifest?.input ?? 'input';
    const outputNames = manifest?.outputs ?? ['logits'];
    const exec = (args: string[], what: string): void => {
      const r = spawnSync(trtexec!, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
      if (r.error) fail('runtime', `trtexec could not be run (${trtexec}): ${r.error.message}`);
      if (r.status !== 0) {
        const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-5).join(' | ');
        fail('runtime', `trtexec failed to ${what} (exit ${r.status}): ${tail}`);
      }
    };
    return {
      runtime: 'tensorrt',
      device: `TensorRT (${trtexec}), fp32 without TF32`,
      inputNames: [inputName],
      outputNames: [...outputNames],
      async run(inputs) {
        const x = inputs[inputName] ?? Object.values(inputs)[0];
        if (!x || x.dtype !== 'float32') fail('usage', 'TensorRT runs take one float32 input');
        const dims = x!.shape.join('x');
        const s = manifest?.shapes;
        if (s && !x!.shape.every((d, i) => d >= s.min[i]! && d <= s.max[i]!)) {
          fail('shape', `input ${dims} is outside the model's TensorRT shapes (${s.min.join('x')} … ${s.max.join('x')}); convert with --shapes to cover it`);
        }
        const inFile = path.join(work, `input.${dims}.bin`);
        const f = x!.data as Float32Array;
        fs.writeFileSync(inFile, new Uint8Array(f.buffer, f.byteOffset, f.byteLength)); // raw little-endian float32, as --loadInputs reads
        const outFile = path.join(work, `output.${dims}.json`);
        let engine = engines.get(dims);
        const shapeArg = s?.static ? [] : [`--shapes=${inputName}:${dims}`];
        if (!engine) {
          engine = path.join(work, `model.${dims}.engine`);
          const args = [`--onnx=${onnx}`, `--saveEngine=${engine}`, ...(s?.static ? [] : [`--minShapes=${inputName}:${dims}`, `--optShapes=${inputName}:${dims}`, `--maxShapes=${inputName}:${dims}`]),
            // --noTF32: on Ampere and later, TensorRT's fp32 may otherwise run convolutions in TF32 (10-bit mantissa), ~1e-3 off.
            '--noTF32', `--loadInputs=${inputName}:${inFile}`, `--exportOutput=${outFile}`, '--iterations=1', '--warmUp=0', '--duration=0'];
          exec(args, 'build and run an engine');
          engines.set(dims, engine);
        } else {
          exec([`--loadEngine=${engine}`, ...shapeArg, `--loadInputs=${inputName}:${inFile}`, `--exportOutput=${outFile}`, '--iterations=1', '--warmUp=0', '--duration=0'], 'run the engine');
        }
        return parseTrtexecOutput(fs.readFileSync(outFile, 'utf8'), outFile);
      },
      async dispose() { temp.remove(); },
    };
  },
};
