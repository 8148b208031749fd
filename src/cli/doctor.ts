import { checkPassed, checkRuntimes, formatCheck, goldenCheckpoint, listAdapters, probeRuntimes } from '../doctor/index.js';
import { installLine, isInstalled } from '../runtime/index.js';
import { fail } from '../util/errors.js';
import { pathExists, writeFileAtomic } from '../util/fs.js';
import { checkOutputs } from '../util/outputs.js';
import { ExitCode } from './exit.js';
import { jsonFile, jsonOnStdout } from './options.js';

interface Opts { force?: boolean; golden?: string; checkpoint?: string; runtimes?: string[]; device?: string; list?: boolean; json?: string | boolean }

/** The upstream golden set of a clone, relative to the working directory. */
const DEFAULT_GOLDEN = 'golden/coincheung-bisenetv2-n19';

export async function doctorCommand(o: Opts): Promise<void> {
  // Without --golden, the clone's upstream set where there is one; elsewhere (an npm install) doctor lists the
  // runtimes and says how to check a conversion with what the user has: the checkpoint.
  const golden = o.golden ?? (pathExists(DEFAULT_GOLDEN) ? DEFAULT_GOLDEN : null);
  if (o.golden !== undefined && !pathExists(o.golden)) fail('io', `golden directory not found: ${o.golden}`);
  const json = jsonFile(o.json);
  // Bare --json: the results as JSON on stdout, in place of the text (progress stays on stderr).
  const toStdout = jsonOnStdout(o.json);
  const say = toStdout ? () => {} : (text: string) => { process.stdout.write(text); };
  if (json) {
    let manifestCheckpoint: string | undefined;
    try { manifestCheckpoint = o.checkpoint ?? (golden ? goldenCheckpoint(golden) ?? undefined : undefined); } catch { /* reported below, when it is needed */ }
    checkOutputs([{ path: json, what: '--json' }], [golden ?? undefined, manifestCheckpoint], Boolean(o.force));
  }
  const dawn = isInstalled('webgpu');
  const adapters = dawn ? await listAdapters().catch(() => []) : [];
  say(`WebGPU adapters (dawn.node): ${!dawn ? `not installed (${installLine(['webgpu'])})` : adapters.length ? adapters.map((a) => `${a.name} [${a.backend}]`).join('; ') : 'none'}\n`);
  if (o.list || !golden) {
    const probes = await probeRuntimes({ device: o.device, ids: o.runtimes });
    const w = Math.max(...probes.map((p) => p.id.length));
    const state = (p: (typeof probes)[number]): string => (p.available ? 'yes' : p.install ? 'not installed' : 'no');
    const sw = Math.max(...probes.map((p) => state(p).length));
    for (const p of probes) say(`${p.id.padEnd(w)}  ${state(p).padEnd(sw)}  ${p.install ?? p.detail}\n`);
    const body = `${JSON.stringify({ adapters, runtimes: probes }, null, 2)}\n`;
    if (json) writeFileAtomic(json, body);
    if (toStdout) process.stdout.write(body);
    if (!golden) {
      say(`no golden set here (${DEFAULT_GOLDEN} is in a clone of bisenet-port), so no parity was checked. To check a conversion of your own, `
        + 'compare every layer with the reference interpreter on the checkpoint: bisenet diff model.pth model.onnx; with a golden set: bisenet doctor --golden DIR\n');
    }
    return;
  }
  const checkpoint = o.checkpoint ?? goldenCheckpoint(golden);
  if (!checkpoint) fail('usage', `${golden}: its manifest names no checkpoint that exists here; give --checkpoint`);
  const rows = await checkRuntimes({
    checkpoint: checkpoint!, golden, device: o.device,
    runtimes: o.runtimes,
    log: (line) => (process.stderr.isTTY || toStdout ? process.stderr : process.stdout).write(`  ${line}\n`),
  });
  say(`${formatCheck(rows)}\n`);
  for (const r of rows) if (r.knownFailure && r.available && r.pass === false) say(`known failure, ${r.runtime}: ${r.knownFailure}\n`);
  for (const r of rows) if (r.reportOnly && r.available && !r.error) say(`reported only, ${r.runtime}: ${r.reportOnly}\n`);
  const ok = checkPassed(rows);
  say(ok ? 'PASS: every available runtime matches the golden set (known failures aside)\n' : 'FAIL: a runtime does not match the golden set\n');
  const body = `${JSON.stringify({ adapters, rows: rows.map(({ report: _r, ...rest }) => rest) }, null, 2)}\n`;
  if (json) writeFileAtomic(json, body);
  if (toStdout) process.stdout.write(body);
  if (!ok) throw new ExitCode(1);
}
