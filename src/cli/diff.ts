/** `bisenet diff A B`: tensor-by-tensor parity of two models, naming the first tensor that diverges. */
import { readNpy } from '../checkpoint/npy.js';
import { diffModels, type DiffInput } from '../diff/index.js';
import { diffJson, formatDiff } from '../diff/report.js';
import { checkModelInput } from '../infer/index.js';
import { fail } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { checkOutputs, modelInputs } from '../util/outputs.js';
import type { NdArray } from '../util/ndarray.js';
import { asFloat32Input } from '../verify/index.js';
import { loadGolden } from '../verify/golden.js';
import { ExitCode } from './exit.js';
import { jsonFile, jsonOnStdout } from './options.js';

interface Opts {
  input?: string; golden?: string; runtimeA?: string; runtimeB?: string; layers?: string | true; json?: string | boolean;
  tolerance?: number; threads?: number; device?: string; force?: boolean;
}

/** The default input: 1×3×96×160 (the upstream golden set's size), deterministic, roughly N(0, 1) like a normalized image. */
export function defaultDiffInput(): NdArray {
  const [h, w] = [96, 160];
  const data = new Float32Array(3 * h * w);
  let s = 0x12345678;
  const next = (): number => { s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0; return (s + 0.5) / 2 ** 32; };
  for (let i = 0; i < data.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    data[i] = r * Math.cos(t);
    if (i + 1 < data.length) data[i + 1] = r * Math.sin(t);
  }
  return { dtype: 'float32', shape: [1, 3, h, w], data };
}

function diffInput(o: Opts): DiffInput {
  if (o.input && o.golden) fail('usage', 'give --input or --golden, not both');
  if (o.input) {
    const x = asFloat32Input(readNpy(o.input));
    checkModelInput(x, o.input);
    return { source: o.input, arrays: [x] };
  }
  if (o.golden) {
    const cases = loadGolden(o.golden);
    const arrays = cases.map((c) => { const x = asFloat32Input(c.input); checkModelInput(x, `${c.dir}/input.npy`); return x; });
    return { source: `golden ${o.golden} (${cases.length} case${cases.length > 1 ? 's' : ''})`, arrays };
  }
  return { source: 'default input (deterministic pseudo-random N(0,1), seed 0x12345678)', arrays: [defaultDiffInput()] };
}

export async function diffCommand(a: string, b: string, o: Opts): Promise<void> {
  const json = jsonFile(o.json);
  if (json) {
    // Checked before any work: the report's place must exist and be free (or --force).
    checkOutputs([{ path: json, what: '--json' }], [...modelInputs(a), ...modelInputs(b), o.input, o.golden], Boolean(o.force));
  }
  const layers = o.layers === undefined || o.layers === true || o.layers === 'all' ? undefined : o.layers.split(',').map((s) => s.trim()).filter(Boolean);
  if (layers && layers.length === 0) fail('usage', '--layers: give all or a comma-separated list of tensor names');
  const input = diffInput(o);
  const report = await diffModels({ path: a, runtime: o.runtimeA }, { path: b, runtime: o.runtimeB }, input,
    { tolerance: o.tolerance, layers, threads: o.threads, device: o.device });
  // Bare --json: the report as JSON on stdout, in place of the text.
  process.stdout.write(jsonOnStdout(o.json) ? `${diffJson(report)}\n` : `${formatDiff(report)}\n`);
  if (json) writeFileAtomic(json, `${diffJson(report)}\n`);
  if (!report.agree) throw new ExitCode(1);
}
