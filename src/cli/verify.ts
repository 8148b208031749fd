import { checkModelInput } from '../infer.js';
import { loadRunner } from '../runtime/index.js';
import { ensureNotExists, writeFileAtomic } from '../util/fs.js';
import { verifyGolden } from '../verify/index.js';
import { formatReport, reportJson } from '../verify/report.js';
import { ExitCode } from './main.js';

interface Opts { golden: string; json?: string; force?: boolean; runtime?: string; threads?: number; device?: string; tolerance: number; minAgreement: number }

export async function verifyCommand(model: string, o: Opts): Promise<void> {
  if (o.json) ensureNotExists(o.json, Boolean(o.force));
  const runner = await loadRunner(model, o.runtime, { threads: o.threads, device: o.device });
  try {
    const report = await verifyGolden(runner, model, o.golden, { rel: o.tolerance, minAgreement: o.minAgreement }, (x, label) => checkModelInput(x, label, model));
    process.stdout.write(`${formatReport(report)}\n`);
    if (o.json) writeFileAtomic(o.json, `${reportJson(report)}\n`);
    if (!report.pass) throw new ExitCode(1);
  } finally {
    await runner.dispose();
  }
}
