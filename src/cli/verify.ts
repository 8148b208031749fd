import { toleranceFor } from '../check/runtimes.js';
import { checkModelInput } from '../infer.js';
import { loadRunner } from '../runtime/index.js';
import { writeFilesAtomic } from '../util/fs.js';
import { checkOutputs, modelInputs } from '../util/outputs.js';
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
  const layers = o.layers === undefined || o.layers === false ? null : o.layers === true || o.layers === 'all' ? [] : o.layers.split(',').map((s) => s.trim()).filter(Boolean);
  // The checkpoint for --layers is found before any work.
  const checkpoint = layers ? o.checkpoint ?? goldenCheckpointOf(o.golden) : undefined;
  checkOutputs([...(o.json ? [{ path: o.json, what: '--json' }] : []), ...(o.junit ? [{ path: o.junit, what: '--junit' }] : [])],
    [...modelInputs(model), o.golden, checkpoint], Boolean(o.force));
  let pass = true;
  // The reports are one group, written when everything ran (--layers included): both, or neither; none on exit 2.
  const reports = new Map<string, string>();
  const runner = await loadRunner(model, o.runtime, { threads: o.threads, device: o.device, flags: o.tfjsFlags });
  try {
    // The runtime's tolerance (one table, src/check/runtimes.ts) unless given.
    const own = toleranceFor(runner.runtime);
    const tol = { rel: o.tolerance ?? own.rel, minAgreement: o.minAgreement ?? own.minAgreement };
    const report = await verifyGolden(runner, model, o.golden, tol, (x, label) => checkModelInput(x, label, model));
    process.stdout.write(`${formatReport(report)}\n`);
    if (o.json) reports.set(o.json, `${reportJson(report)}\n`);
    if (o.junit) reports.set(o.junit, reportJunit(report));
    pass = report.pass;
  } finally {
    await runner.dispose();
  }
  if (layers) {
    const d = await verifyLayers(model, o.golden, { checkpoint, runtime: o.runtime, layers: layers.length ? layers : undefined, threads: o.threads, device: o.device });
    process.stdout.write(`\nlayer by layer against the reference interpreter on ${checkpoint}:\n${formatDiff(d)}\n`);
    pass &&= d.agree;
  }
  if (reports.size) writeFilesAtomic(reports);
  if (!pass) throw new ExitCode(1);
}
