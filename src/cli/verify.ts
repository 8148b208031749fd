import { toleranceForModel } from '../check/runtimes.js';
import { recordedPrecision } from '../model-metadata.js';
import { checkModelInput } from '../infer.js';
import { loadRunner } from '../runtime/index.js';
import { ensureNotExists, writeFileAtomic } from '../util/fs.js';
import { verifyGolden } from '../verify/index.js';
import { reportJunit } from '../verify/junit.js';
import { formatReport, reportJson } from '../verify/report.js';
import { formatDiff } from '../diff/report.js';
import { goldenCheckpointOf, verifyLayers } from '../verify/layers.js';
import { ExitCode } from './exit.js';

interface Opts {
  layers?: string | boolean; checkpoint?: string; golden: string; json?: string; junit?: string; force?: boolean; runtime?: string; threads?: number; device?: string;
  tfjsFlags?: Record<string, boolean | number | string>; tolerance?: number; minAgreement?: number;
}

export async function verifyCommand(model: string, o: Opts): Promise<void> {
  if (o.json) ensureNotExists(o.json, Boolean(o.force));
  const layers = o.layers === undefined || o.layers === false ? null : o.layers === true || o.layers === 'all' ? [] : o.layers.split(',').map((s) => s.trim()).filter(Boolean);
  // The checkpoint for --layers is found before any work.
  const checkpoint = layers ? o.checkpoint ?? goldenCheckpointOf(o.golden) : undefined;
  let pass = true;
  const runner = await loadRunner(model, o.runtime, { threads: o.threads, device: o.device, flags: o.tfjsFlags });
  try {
    // The runtime's tolerance (one table, src/check/runtimes.ts), loosened to the model's recorded precision, unless given.
    const precision = recordedPrecision(model);
    const own = toleranceForModel(runner.runtime, precision);
    if (precision === 'fp16' || precision === 'int8') {
      process.stdout.write(`${precision} model: held to the ${precision} class (max|Δ| ≤ ${own.rel} × max|ref|, label agreement ≥ ${(100 * own.minAgreement).toFixed(1)} %) unless --tolerance/--min-agreement say otherwise\n`);
    }
    const tol = { rel: o.tolerance ?? own.rel, minAgreement: o.minAgreement ?? own.minAgreement };
    const report = await verifyGolden(runner, model, o.golden, tol, (x, label) => checkModelInput(x, label, model));
    process.stdout.write(`${formatReport(report)}\n`);
    if (o.json) writeFileAtomic(o.json, `${reportJson(report)}\n`);
    if (o.junit) writeFileAtomic(o.junit, reportJunit(report));
    pass = report.pass;
  } finally {
    await runner.dispose();
  }
  if (layers) {
    const d = await verifyLayers(model, o.golden, { checkpoint, runtime: o.runtime, layers: layers.length ? layers : undefined, threads: o.threads, device: o.device });
    process.stdout.write(`\nlayer by layer against the reference interpreter on ${checkpoint}:\n${formatDiff(d)}\n`);
    pass &&= d.agree;
  }
  if (!pass) throw new ExitCode(1);
}
