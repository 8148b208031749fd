import { writeFileAtomic } from '../util/fs.js';
import { checkOutputs, modelInputs } from '../util/outputs.js';

interface Opts { model?: string; checkpoint?: string; runtimes?: string[]; size?: string; runs: number; warmup: number; threads?: number; device?: string;
  json?: string | boolean; convStack?: boolean; ceiling?: boolean; wide?: boolean; force?: boolean; precisions?: ('fp32' | 'fp16' | 'int8')[]; calibration?: string }

/** `bisenet bench`: text on stdout, or JSON (on stdout with a bare --json, else to the file); progress on stderr. */
export async function benchCommand(o: Opts): Promise<void> {
  const { parseSizes, runBench, DEFAULT_SIZES } = await import('../bench/index.js');
  const sizes = o.size ? parseSizes(o.size) : DEFAULT_SIZES;
  const runtimes = o.runtimes;
  const jsonFile = typeof o.json === 'string' ? o.json : null;
  if (jsonFile) checkOutputs([{ path: jsonFile, what: '--json' }], [...modelInputs(o.model), o.checkpoint], Boolean(o.force));
  const report = await runBench({
    model: o.model, checkpoint: o.checkpoint, runtimes, sizes, runs: o.runs, warmup: o.warmup, threads: o.threads, device: o.device,
    // Progress: on a terminal's stderr; else on stdout with the text report (not when stdout is the JSON). stderr then holds only an error's line.
    convStack: o.convStack !== false && o.ceiling !== false,
    log: (line) => { if (process.stderr.isTTY) process.stderr.write(`${line}\n`); else if (o.json !== true) process.stdout.write(`${line}\n`); },
    precisions: o.precisions, calibration: o.calibration,
  });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  // The text report says it among its notes; with JSON on stdout, stderr says it.
  if (o.json === true && report.machine.load.warning) process.stderr.write(`warning: ${report.machine.load.warning}\n`);
  if (o.json === true) { process.stdout.write(json); return; }
  if (jsonFile) writeFileAtomic(jsonFile, json);
  const { formatBench } = await import('../bench/format.js');
  process.stdout.write(formatBench(report, { wide: o.wide }));
}

