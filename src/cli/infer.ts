import { encodeNpy, readNpy, readNpyShape } from '../checkpoint/npy.js';
import { checkModelInput, inferArrays, modelCost } from '../infer/index.js';
import { fail } from '../util/errors.js';
import { LIMITS } from '../util/limits.js';
import { writeFilesAtomic } from '../util/fs.js';
import { checkOutputs, modelInputs } from '../util/outputs.js';
import type { NdArray } from '../util/ndarray.js';
import { argmaxChannels } from '../verify/compare.js';
import { AUX_OUTPUTS } from '../models/bisenetv2.js';

interface Opts { input: string; out: string; aux?: boolean; labels?: boolean; runtime?: string; threads?: number; device?: string; tfjsFlags?: Record<string, boolean | number | string>; force?: boolean }

const sibling = (out: string, name: string): string => `${out.replace(/\.npy$/i, '')}.${name}.npy`;

export async function inferCommand(model: string, o: Opts): Promise<void> {
  // Outputs that exist are refused before any work (the sibling names are known up front).
  const inputs = [...modelInputs(model), o.input];
  checkOutputs([{ path: o.out, what: '--out' }, ...(o.labels ? [{ path: sibling(o.out, 'labels'), what: '--labels' }] : []),
    ...(o.aux ? AUX_OUTPUTS.map((a) => ({ path: sibling(o.out, a), what: `--aux (${a})` })) : [])], inputs, Boolean(o.force));
  // The header first: an input the model cannot take, or larger than a run may take, is refused before its data is read.
  const cost = modelCost(model);
  checkModelInput(readNpyShape(o.input), o.input, cost);
  const input = readNpy(o.input, LIMITS.modelMemory);
  const outputs = await inferArrays(model, input, { runtime: o.runtime, threads: o.threads, device: o.device, flags: o.tfjsFlags, cost });
  const names = Object.keys(outputs);
  const first = outputs.logits ?? outputs[names[0]!]!;
  const files = new Map<string, NdArray>([[o.out, first]]);
  if (o.aux) {
    const present = AUX_OUTPUTS.filter((a) => outputs[a]);
    if (present.length === 0) fail('usage', `${model} has no booster outputs (convert with --aux to include them)`);
    for (const a of present) files.set(sibling(o.out, a), outputs[a]!);
  }
  if (o.labels) {
    const labels = outputs.labels ?? { dtype: 'int32', shape: [first.shape[0]!, ...first.shape.slice(2)], data: argmaxChannels(first) };
    files.set(sibling(o.out, 'labels'), labels);
  }
  checkOutputs([...files.keys()].map((f) => ({ path: f, what: 'output' })), inputs, Boolean(o.force));
  // One atomic group: either every output is written, or none (no y.npy left behind if y.labels.npy fails).
  writeFilesAtomic(new Map([...files].map(([f, a]) => [f, encodeNpy(a)])));
  process.stdout.write(`${[...files].map(([f, a]) => `${f} ${a.dtype} [${a.shape.join(', ')}]`).join('\n')}\n`);
}
