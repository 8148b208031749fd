import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathExists, readFileChecked } from '../util/fs.js';
import { parseJsonBounded } from '../util/json.js';

/**
 * Where a checkpoint comes from, as a converted model records it: the sha256 of the checkpoint file (so that
 * `verify` can tell a golden set made from another checkpoint), and what its weights are where a card says so.
 * A card is a `manifest.json` beside the checkpoint whose `checkpoint` names it and whose `weights` describes
 * them (the shipped fixtures have one: random weights, or trained on synthetic scenes only).
 */
export interface Provenance {
  sha256: string;
  /** 'random' when the card says the weights are random (a test fixture), else the card's text, if any. */
  weights?: string;
}

/** The sha256 of a file, read in 1 MiB pieces (one buffer, reused). */
export function sha256File(file: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** The card's account of the weights: 'random' when it says they are random, else its words (one printable line). */
function cardWeights(file: string): string | undefined {
  const card = path.join(path.dirname(file), 'manifest.json');
  if (!pathExists(card)) return undefined;
  let m: unknown;
  try { m = parseJsonBounded(readFileChecked(card, 'manifest').toString('utf8'), card, 'manifest'); } catch { return undefined; }
  const o = m as { checkpoint?: unknown; weights?: unknown } | null;
  if (!o || typeof o !== 'object' || typeof o.checkpoint !== 'string' || typeof o.weights !== 'string') return undefined;
  if (path.basename(o.checkpoint) !== path.basename(file)) return undefined;
  if (/\brandom\b/i.test(o.weights)) return 'random';
  // eslint-disable-next-line no-control-regex
  const text = o.weights.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim().slice(0, 200);
  return text || undefined;
}

export function provenanceOf(file: string): Provenance {
  const weights = cardWeights(file);
  return { sha256: sha256File(file), ...(weights ? { weights } : {}) };
}
