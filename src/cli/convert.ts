import * as path from 'node:path';
import { convertCheckpoint, type Target } from '../convert.js';
import type { Family } from '../models/bisenetv2.js';
import { fail } from '../util/errors.js';
import { ensureNotExists, writeFileAtomic } from '../util/fs.js';

interface Opts { to: Target; out: string; opset: number; aux?: boolean; labels?: boolean; family?: Family; classes?: number; force?: boolean }

export function convertCommand(file: string, o: Opts): void {
  const t0 = performance.now();
  if (o.to === 'onnx' && !o.out.toLowerCase().endsWith('.onnx')) fail('usage', `--out ${o.out}: an ONNX model's file name must end in .onnx`);
  ensureNotExists(o.out, Boolean(o.force));
  const c = convertCheckpoint(file, { to: o.to, opset: o.opset, aux: o.aux, labels: o.labels, family: o.family, numClasses: o.classes });
  writeFileAtomic(o.out, c.bytes);
  const outputs = c.graph.outputs.map((x) => x.name).join(', ');
  const ms = (performance.now() - t0).toFixed(0);
  process.stdout.write(`${path.basename(file)}: ${c.ported.family}, ${c.ported.numClasses} classes → ${o.out} (${o.to}, opset ${o.opset}, outputs ${outputs}, ${(c.bytes.length / 2 ** 20).toFixed(1)} MiB) in ${ms} ms\n`);
}
