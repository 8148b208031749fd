import { toleranceFor } from '../check/runtimes.js';
import { checkModelInput } from '../infer.js';
import { loadRunner } from '../runtime/index.js';
import { writeFileAtomic } from '../util/fs.js';
import { verifyGolden } from '../verify/index.js';
import { reportJunit } from '../verify/junit.js';
import { formatReport, reportJson } from '../verify/report.js';
import { ExitCode } from './exit.js';

interface Opts { golden: string; json?: string; junit?: string; runtime?: string; threads?: number; device?: string; tfjsFlags?: Record<string, boolean | number | string>; tolerance?: number; minAgreement?: number }

export async function verifyCommand(model: string, o: Opts): Promise<void> {
  const runner = await loadRunner(model, o.runtime, { threads: o.threads, device: o.device, flags: o.tfjsFlags });
  try {
    // The runtime's tolerance (one table, src/check/runtimes.ts) unless given.
    const own = toleranceFor(runner.runtime);
    const tol = { rel: o.tolerance ?? own.rel, minAgreement: o.minAgreement ?? own.minAgreement };
    const report = await verifyGolden(runner, model, o.golden, tol, checkModelInput);
    process.stdout.write(`${formatReport(report)}\n`);
    if (o.json) writeFileAtomic(o.json, `${reportJson(report)}\n`);
    if (o.junit) writeFileAtomic(o.junit, reportJunit(report));
    if (!report.pass) throw new ExitCode(1);
  } finally {
    await runner.dispose();
  }
}
