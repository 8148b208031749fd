import { toleranceForModel } from '../verify/tolerance.js';
import { type ModelFile, recordedFile } from '../model-file/index.js';
import { checkModelInput } from '../infer/index.js';
import { modelFileBytes, UNKNOWN_CLASSES } from '../model-file/memory.js';
import { loadRunner } from '../runtime/index.js';
import { writeFilesAtomic } from '../util/fs.js';
import { checkOutputs, modelInputs } from '../util/outputs.js';
import { jsonFile, jsonOnStdout } from './options.js';
import { verifyGolden, type VerifyReport } from '../verify/index.js';
import { sha256File } from '../checkpoint/provenance.js';
import { escapeText } from '../util/render.js';
import { reportJunit } from '../verify/junit.js';
import { formatReport, reportJson } from '../verify/report.js';
import { formatDiff } from '../diff/report.js';
import { goldenCheckpointOf, verifyLayers } from '../verify/layers.js';
import { ExitCode } from './exit.js';

interface Opts {
  layers?: string | boolean; checkpoint?: string; golden: string; json?: string | boolean; junit?: string; force?: boolean; runtime?: string; threads?: number; device?: string;
  tfjsFlags?: Record<string, boolean | number | string>; tolerance?: number; minAgreement?: number;
}

/**
 * A golden set answers for the checkpoint it was made from: where the model records the sha256 of its own
 * checkpoint and a case's manifest names another one, a failure says so (the usual cause of a FAIL with a
 * large error is a golden set of another checkpoint, not a broken port).
 */
function provenanceNotes(file: ModelFile | null, report: VerifyReport): string[] {
  let own: string | null = null;
  try { own = file?.metadata.checkpointSha256 ?? null; } catch { return []; }
  if (!own) return [];
  const hashes = new Map<string, string>();
  const notes: string[] = [];
  for (const c of report.cases) {
    if (!c.checkpoint) continue;
    if (!hashes.has(c.checkpoint)) hashes.set(c.checkpoint, sha256File(c.checkpoint));
    if (hashes.get(c.checkpoint) === own) continue;
    notes.push(`note: ${escapeText(c.case)} was made from ${escapeText(c.checkpoint)}, and this model from another checkpoint (sha256 ${own.slice(0, 12)}…): `
      + 'its outputs are not expected to match; verify against the golden set of the model\'s own checkpoint');
  }
  return notes;
}

export async function verifyCommand(model: string, o: Opts): Promise<void> {
  const layers = o.layers === undefined || o.layers === false ? null : o.layers === true || o.layers === 'all' ? [] : o.layers.split(',').map((s) => s.trim()).filter(Boolean);
  // The checkpoint for --layers is found before any work.
  const checkpoint = layers ? o.checkpoint ?? goldenCheckpointOf(o.golden) : undefined;
  const json = jsonFile(o.json);
  // Bare --json: the report as JSON on stdout, in place of the text.
  const say = jsonOnStdout(o.json) ? () => {} : (text: string) => { process.stdout.write(text); };
  checkOutputs([...(json ? [{ path: json, what: '--json' }] : []), ...(o.junit ? [{ path: o.junit, what: '--junit' }] : [])],
    [...modelInputs(model), o.golden, checkpoint], Boolean(o.force));
  let pass = true;
  // The reports are one group, written when everything ran (--layers included): both, or neither; none on exit 2.
  const reports = new Map<string, string>();
  const runner = await loadRunner(model, o.runtime, { threads: o.threads, device: o.device, flags: o.tfjsFlags });
  try {
    // The runtime's tolerance (one table, src/verify/tolerance.ts), loosened to the model's recorded precision, unless given.
    // The model as it records itself, read once (null: a TensorRT directory, which records nothing).
    const file = recordedFile(model);
    const precision = file ? file.metadata.precision : null;
    const own = toleranceForModel(runner.runtime, precision);
    if (precision === 'fp16' || precision === 'int8') {
      say(`${precision} model: held to the ${precision} class (max|Δ| ≤ ${own.rel} × max|ref|, label agreement ≥ ${(100 * own.minAgreement).toFixed(1)} %) unless --tolerance/--min-agreement say otherwise\n`);
    }
    const tol = { rel: o.tolerance ?? own.rel, minAgreement: o.minAgreement ?? own.minAgreement };
    // The run budget from the file read above, once: not a read of the whole model for every golden case.
    const cost = { bytes: modelFileBytes(model), classes: file?.metadata.numClasses ?? UNKNOWN_CLASSES };
    const report = await verifyGolden(runner, model, o.golden, tol, (x, label) => checkModelInput(x, label, cost));
    say(`${formatReport(report)}\n`);
    for (const line of provenanceNotes(file, report)) say(`${line}\n`);
    if (json) reports.set(json, `${reportJson(report)}\n`);
    if (jsonOnStdout(o.json)) process.stdout.write(`${reportJson(report)}\n`);
    if (o.junit) reports.set(o.junit, reportJunit(report));
    pass = report.pass;
  } finally {
    await runner.dispose();
  }
  if (layers) {
    const d = await verifyLayers(model, o.golden, { checkpoint, runtime: o.runtime, layers: layers.length ? layers : undefined, threads: o.threads, device: o.device });
    say(`\nlayer by layer against the reference interpreter on ${checkpoint}:\n${formatDiff(d)}\n`);
    pass &&= d.agree;
  }
  if (reports.size) writeFilesAtomic(reports);
  if (!pass) throw new ExitCode(1);
}
