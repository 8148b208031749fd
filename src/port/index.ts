import { escapeText } from '../util/render.js';
import type { Checkpoint } from '../checkpoint/types.js';
import { graphParams, type Graph, type ParamSpec } from '../ir/graph.js';
import { bisenetv2, type Family } from '../models/bisenetv2.js';
import { fail } from '../util/errors.js';
import { sameShape, shapeStr, toFloat32 } from '../util/ndarray.js';
import type { LayoutTable } from './layout.js';
import { coincheung } from './layouts/coincheung.js';
import { mmseg } from './layouts/mmseg.js';
import { paddleseg } from './layouts/paddleseg.js';

export type { LayoutTable } from './layout.js';

export const LAYOUTS: Record<string, LayoutTable> = { coincheung, mmseg, paddleseg };

/** Canonical weights: canonical parameter name → float32 data in the IR's shape. */
export type Weights = Map<string, Float32Array>;

const FIELD_OF_ROLE = (t: LayoutTable, role: ParamSpec['role']): string => t.fields[role];

/** Each table's unit patterns, compiled once (familyKey runs for every parameter of every family). */
const compiledUnits = new WeakMap<LayoutTable, [RegExp, string][]>();
function unitRules(table: LayoutTable): [RegExp, string][] {
  let rules = compiledUnits.get(table);
  if (!rules) compiledUnits.set(table, rules = table.units.map(([pattern, template]) => [new RegExp(`^${pattern}$`), template]));
  return rules;
}

/** The family's key for one canonical parameter. */
export function familyKey(table: LayoutTable, param: ParamSpec): string {
  let unit = param.node;
  for (const [re, template] of unitRules(table)) {
    if (re.test(unit)) unit = unit.replace(re, template);
  }
  return `${unit}.${FIELD_OF_ROLE(table, param.role)}`;
}

export interface CheckpointSummary {
  family: Family | null;
  /** Share of the family's required (non-booster) keys present, for each family. */
  scores: Record<string, number>;
  numClasses: number | null;
  hasBooster: boolean;
  tensorCount: number;
  problems: string[];
}

function requiredKeys(table: LayoutTable, numClasses: number, aux: boolean): Map<string, ParamSpec> {
  const graph = bisenetv2({ numClasses, aux, family: table.family });
  return new Map(graphParams(graph).map((p) => [familyKey(table, p), p]));
}

function classCount(ckpt: Checkpoint, table: LayoutTable): number | null {
  const cls = ckpt.tensors.get(table.classifierKey);
  return cls && cls.shape.length >= 1 && cls.shape[0]! > 0 ? cls.shape[0]! : null;
}

/** Which family a checkpoint's keys look like, with how well each family fits. */
export function detectFamily(ckpt: Checkpoint): { family: Family | null; scores: Record<string, number> } {
  const scores: Record<string, number> = {};
  let best: Family | null = null;
  let bestScore = 0;
  for (const table of Object.values(LAYOUTS)) {
    const keys = requiredKeys(table, 1, false);
    let hit = 0;
    for (const k of keys.keys()) if (ckpt.tensors.has(k)) hit++;
    const score = hit / keys.size;
    scores[table.family] = score;
    if (score > bestScore) { best = table.family; bestScore = score; }
  }
  // A checkpoint of another network shares few keys with any family.
  return { family: bestScore >= 0.5 ? best : null, scores };
}

export function summarize(ckpt: Checkpoint): CheckpointSummary {
  const { family, scores } = detectFamily(ckpt);
  const problems: string[] = [];
  let numClasses: number | null = null;
  let hasBooster = false;
  if (family) {
    const table = LAYOUTS[family]!;
    numClasses = classCount(ckpt, table);
    hasBooster = [...ckpt.tensors.keys()].some((k) => new RegExp(table.boosterKeys).test(k));
    if (numClasses === null) problems.push(`classifier ${table.classifierKey} is missing`);
    else {
      try { portWeights(ckpt, { family, aux: hasBooster }); } catch (e) {
        // Not push(...details): a hostile checkpoint can have hundreds of thousands of them.
        problems.splice(problems.length, 0, (e as Error).message);
        for (const d of (e as { details?: string[] }).details ?? []) problems.push(d);
      }
    }
  } else {
    problems.push(notBisenetMessage(ckpt, scores));
  }
  return { family, scores, numClasses, hasBooster, tensorCount: ckpt.tensors.size, problems };
}

function notBisenetMessage(ckpt: Checkpoint, scores: Record<string, number>): string {
  const sample = [...ckpt.tensors.keys()].slice(0, 3).join(', ');
  const fit = Object.entries(scores).map(([f, s]) => `${f} ${(100 * s).toFixed(0)}%`).join(', ');
  return `${ckpt.file}: not a BiSeNetV2 checkpoint of a known family (keys such as ${sample || '(none)'}; keys matched: ${fit})`;
}

export interface PortOptions {
  family?: Family;
  /** Port the booster heads too (the checkpoint must have them). */
  aux?: boolean;
  /** Expected class count; an error if the checkpoint holds another. */
  numClasses?: number;
  /**
   * Accept NaN/±Inf weights and negative BatchNorm running variances (they would make every output NaN):
   * refused by default, naming the tensors; with this, ported anyway and listed in `Ported.nonfinite`.
   */
  allowNonfinite?: boolean;
}

export interface Ported {
  family: Family;
  numClasses: number;
  aux: boolean;
  weights: Weights;
  /** checkpoint keys holding NaN/±Inf, or a negative running variance (only when allowNonfinite) */
  nonfinite: string[];
}

/**
 * Maps a checkpoint onto the canonical parameters, strictly: every parameter must be present with
 * the right shape, and every key of the checkpoint must be used, except booster-head keys when the
 * booster heads are not exported and keys the layout marks as carrying no weights.
 */
export function portWeights(ckpt: Checkpoint, opts: PortOptions = {}): Ported {
  const detected = detectFamily(ckpt);
  const family = opts.family ?? detected.family;
  if (!family) fail('layout', notBisenetMessage(ckpt, detected.scores));
  const table = LAYOUTS[family!];
  if (!table) fail('usage', `unknown family ${family}; known: ${Object.keys(LAYOUTS).join(', ')}`);
  if (opts.family && detected.family && detected.family !== opts.family) {
    fail('layout', `${ckpt.file}: --family ${opts.family} was given, but the keys look like ${detected.family} (${(100 * detected.scores[detected.family]!).toFixed(0)}% of its keys present, ${(100 * (detected.scores[opts.family] ?? 0)).toFixed(0)}% of ${opts.family}'s)`);
  }
  const numClasses = classCount(ckpt, table!);
  if (numClasses === null) fail('layout', `${ckpt.file}: classifier ${table!.classifierKey} is missing; cannot tell the class count`);
  if (opts.numClasses !== undefined && opts.numClasses !== numClasses) {
    fail('layout', `${ckpt.file}: --classes ${opts.numClasses} was given, but the checkpoint's classifier has ${numClasses} classes`);
  }
  const boosterRe = new RegExp(table!.boosterKeys);
  const ignoredRes = table!.ignoredKeys.map((r) => new RegExp(r));
  const aux = opts.aux ?? false;
  if (aux && ![...ckpt.tensors.keys()].some((k) => boosterRe.test(k))) {
    fail('layout', `${ckpt.file}: the booster (aux) heads were asked for, but the checkpoint has none`);
  }
  const expected = requiredKeys(table!, numClasses!, aux);
  const missing: string[] = [];
  const wrongShape: string[] = [];
  const weights: Weights = new Map();
  const nonfinite: string[] = [];
  for (const [key, param] of expected) {
    const entry = ckpt.tensors.get(key);
    if (!entry) { missing.push(`${key} (expected ${shapeStr(param.shape)})`); continue; }
    if (!sameShape(entry.shape, param.shape)) { wrongShape.push(`${key}: expected ${shapeStr(param.shape)}, found ${shapeStr(entry.shape)}`); continue; }
    if (!['float32', 'float16', 'bfloat16', 'float64'].includes(entry.dtype)) { wrongShape.push(`${key}: expected floating point, found ${entry.dtype}`); continue; }
    const data = toFloat32(entry.load());
    if (hasNonfinite(data, param.role === 'running_var')) nonfinite.push(key);
    weights.set(param.name, data);
  }
  const unexpected = [...ckpt.tensors.keys()].filter((k) => !expected.has(k) && !ignoredRes.some((r) => r.test(k)) && !(!aux && boosterRe.test(k)));
  const details = [
    ...wrongShape.map((s) => `shape mismatch ${s}`),
    ...missing.map((s) => `missing ${s}`),
    ...unexpected.map((k) => `unexpected ${k} ${shapeStr(ckpt.tensors.get(k)!.shape)}`),
  ];
  if (details.length) {
    const parts = [
      wrongShape.length ? `${wrongShape.length} shape mismatch${wrongShape.length > 1 ? 'es' : ''} (first: ${wrongShape[0]})` : '',
      missing.length ? `${missing.length} missing key${missing.length > 1 ? 's' : ''} (first: ${missing[0]})` : '',
      unexpected.length ? `${unexpected.length} unexpected key${unexpected.length > 1 ? 's' : ''} (first: ${unexpected[0]})` : '',
    ].filter(Boolean);
    fail('layout', `${ckpt.file}: does not fit BiSeNetV2 (${family}, ${numClasses} classes): ${parts.join('; ')}`, details);
  }
  if (nonfinite.length && !opts.allowNonfinite) {
    fail('layout', `${ckpt.file}: ${nonfinite.length} tensor${nonfinite.length > 1 ? 's hold' : ' holds'} NaN/Inf or a negative running variance (first: ${nonfinite.slice(0, 3).map((k) => escapeText(k, 100)).join(', ')}); the model would output NaN (--allow-nonfinite converts anyway)`, nonfinite);
  }
  return { family: family!, numClasses: numClasses!, aux, weights, nonfinite };
}

/** NaN or ±Inf anywhere; for a running variance, also a negative value (sqrt(var + eps) would be NaN). */
function hasNonfinite(a: Float32Array, variance: boolean): boolean {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0 || (variance && v < 0)) return true;
  }
  return false;
}

export function modelFor(ported: Ported, opts: { labels?: boolean; aux?: boolean } = {}): Graph {
  return bisenetv2({ numClasses: ported.numClasses, aux: opts.aux ?? ported.aux, labels: opts.labels, family: ported.family });
}
