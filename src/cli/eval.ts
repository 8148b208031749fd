import type { Family } from '../models/bisenetv2.js';
import type { Dataset } from '../model-file/presets.js';
import { jsonFile, jsonOnStdout } from './options.js';
import { evalJson, evaluate, referenceMiou } from '../eval/index.js';
import { writeFileAtomic } from '../util/fs.js';
import { checkOutputs, modelInputs } from '../util/outputs.js';
import { ExitCode } from './exit.js';
import { INT8_MIOU_DROP, PRECISION_TOLERANCE } from '../verify/tolerance.js';

interface Opts {
  data: string; labelsDir?: string; runtime?: string; threads?: number; device?: string; json?: string | boolean; compareTo?: string; maxMiouDrop?: number; minAgreement?: number;
  limit?: number; family?: Family; dataset?: Dataset; quiet?: boolean; force?: boolean;
}

const pct = (v: number | null): string => (v === null ? '—' : v.toFixed(2));

/** `bisenet eval`: prints the scores; exit 1 when --compare-to differs by more than --max-miou-drop. */
export async function evalCommand(model: string, o: Opts): Promise<void> {
  // Everything the user gave is checked before the (long) run.
  const reference = o.compareTo !== undefined ? referenceMiou(o.compareTo) : null;
  const json = jsonFile(o.json);
  if (json) checkOutputs([{ path: json, what: '--json' }], [...modelInputs(model), o.data, o.labelsDir, o.compareTo], Boolean(o.force));
  const r = await evaluate(model, o.data, {
    labels: o.labelsDir, runtime: o.runtime, threads: o.threads, device: o.device, family: o.family, dataset: o.dataset, limit: o.limit, progress: { quiet: o.quiet },
  });
  const width = Math.max(...r.classNames.map((n) => n.length));
  const lines = [
    `eval ${r.model} on ${r.data}: ${r.images} image${r.images > 1 ? 's' : ''}, ${r.pixels} labelled pixels (${r.ignored} ignored), ${r.runtime} [${r.device}], ${r.seconds.toFixed(1)} s`,
    `mIoU ${pct(r.miou)} %  (${r.perClass.filter((v) => v !== null).length} of ${r.perClass.length} classes present)   pixel accuracy ${pct(r.pixelAccuracy)} %`,
    ...r.classNames.map((n, k) => `  ${n.padEnd(width)}  ${r.perClass[k] === null ? '     —  (in neither labels nor predictions)' : pct(r.perClass[k]!).padStart(6)}`),
  ];
  let compare: Record<string, unknown> | undefined;
  let pass = true;
  // The tolerance class of the model's recorded precision (src/verify/tolerance.ts), unless given.
  const reduced = r.precision === 'fp16' || r.precision === 'int8' ? r.precision : null;
  const maxDrop = o.maxMiouDrop ?? (reduced === 'int8' ? INT8_MIOU_DROP : 0.1);
  if (reference) {
    const diff = r.miou === null ? null : r.miou - reference.value;
    pass = diff !== null && Math.abs(diff) <= maxDrop + 1e-9;
    compare = { reference: reference.value, source: reference.source, difference: diff === null ? null : Math.round(diff * 1e4) / 1e4, max_miou_drop: maxDrop, pass };
    lines.push(`compared with ${reference.value.toFixed(2)} (${reference.source}): ${diff === null ? 'no mIoU' : `${diff >= 0 ? '+' : '−'}${Math.abs(diff).toFixed(2)} points`}, `
      + `allowed ±${maxDrop}${o.maxMiouDrop === undefined && reduced === 'int8' ? ' (int8 model)' : ''}: ${pass ? 'ok' : 'FAIL'}`);
  }
  const minAgreement = o.minAgreement ?? (o.labelsDir && reduced ? PRECISION_TOLERANCE[reduced].minAgreement : undefined);
  if (minAgreement !== undefined && o.labelsDir) {
    const ok = r.pixelAccuracy !== null && r.pixelAccuracy >= 100 * minAgreement - 1e-9;
    pass &&= ok;
    compare = { ...(compare ?? {}), label_agreement: r.pixelAccuracy, min_agreement: minAgreement, agreement_pass: ok };
    lines.push(`label agreement with ${o.labelsDir}: ${pct(r.pixelAccuracy)} %, at least ${Number((100 * minAgreement).toFixed(4))} %${o.minAgreement === undefined ? ` (${reduced} model)` : ''}: ${ok ? 'ok' : 'FAIL'}`);
  }
  const body = `${JSON.stringify(evalJson(r, compare ? { compare } : {}), null, 2)}\n`;
  // Bare --json: the scores as JSON on stdout, in place of the text.
  process.stdout.write(jsonOnStdout(o.json) ? body : `${lines.join('\n')}\n`);
  if (json) writeFileAtomic(json, body);
  if (!pass) throw new ExitCode(1);
}
