/**
 * A TensorFlow.js model as files, read in the model-file room: its model.json (within the budgets, through
 * the bounded JSON parser) and its weight shards, the manifest validated and the constants in the weights
 * checked (../model-check/tfjs.ts) before tfjs sees either. Imports util and the model checks only, so that
 * the tfjs runners and Chromium's routes take their model.json and weights from here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as TfcNs from '@tensorflow/tfjs-core';
import { bytesPerValue, checkTfjsConstants, type ModelJson } from '../model-check/tfjs.js';
import { fail } from '../util/errors.js';
import { readFileChecked, regularFileSize, resolveInside } from '../util/fs.js';
import { parseJsonBounded } from '../util/json.js';
import { LIMITS } from '../util/limits.js';
import { escapeText, render, shapeText } from '../util/render.js';

export type { ModelJson };

/** A model.json as read once: where it is, its bytes (served as read to a page) and its parsed document. */
export interface TfjsJson { file: string; bytes: Uint8Array; json: ModelJson }

/** The model.json of a tfjs model given as its directory or the file itself. */
export function modelJsonPath(modelPath: string): string {
  try {
    if (fs.statSync(modelPath).isDirectory()) return path.join(modelPath, 'model.json');
  } catch { /* not there: reported by the reader */ }
  return modelPath;
}

/** A model.json's bytes within the budgets (`what` names it in messages), parsed through the bounded JSON parser, not yet checked. */
export function readJsonFile(file: string, what: string): { bytes: Buffer; parsed: unknown } {
  const bytes = readFileChecked(file, what);
  return { bytes, parsed: parseJsonBounded(bytes.toString('utf8'), file, 'model.json') };
}

/** A parsed model.json that is one: an object with a modelTopology. */
export function checkModelJson(parsed: unknown, file: string): ModelJson {
  const json = parsed as ModelJson;
  if (typeof json !== 'object' || json === null || Array.isArray(json) || !json.modelTopology) fail('format', `${file}: not a TensorFlow.js model.json (no modelTopology)`);
  return json;
}

/** The model.json of a tfjs model (its directory or the file), read once and checked to be one. */
export function readModelJson(modelPath: string): TfjsJson {
  const file = modelJsonPath(modelPath);
  const { bytes, parsed } = readJsonFile(file, 'TensorFlow.js model.json');
  return { file, bytes, json: checkModelJson(parsed, file) };
}

/** A model.json held in memory (a converted checkpoint's), parsed and checked. */
export function parseModelJson(bytes: Uint8Array, file: string): ModelJson {
  return checkModelJson(parseJsonBounded(Buffer.from(bytes).toString('utf8'), file, 'model.json'), file);
}

const QUANT_DTYPES = new Set(['uint8', 'uint16', 'float16']);

/**
 * Validates a weights manifest and joins its shards into one buffer, before tfjs sees either:
 * every group has string paths inside the model directory, every weight a name, a known dtype, a
 * shape of sizes and a well-formed quantization, and the shards hold exactly the bytes described.
 */
export function assembleWeights(file: string, manifest: unknown, readShard: (relPath: string) => Uint8Array,
  shardSize?: (relPath: string) => number): [TfcNs.io.WeightsManifestEntry[], ArrayBuffer] {
  if (!Array.isArray(manifest)) fail('format', `${file}: weightsManifest must be a list of groups`);
  const specs: TfcNs.io.WeightsManifestEntry[] = [];
  const paths: string[] = [];
  const seen = new Set<string>();
  let expected = 0;
  for (const group of manifest as unknown[]) {
    const g = group as { paths?: unknown; weights?: unknown };
    if (typeof g !== 'object' || g === null || !Array.isArray(g.paths) || !Array.isArray(g.weights)) fail('format', `${file}: a weights group needs "paths" and "weights" lists`);
    for (const w of g.weights as unknown[]) {
      const e = w as TfcNs.io.WeightsManifestEntry;
      if (typeof e !== 'object' || e === null || typeof e.name !== 'string') fail('format', `${file}: a weight entry has no name`);
      if (!Array.isArray(e.shape) || e.shape.length > LIMITS.rank || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail('format', `${file}: weight ${escapeText(e.name, 200)} has an invalid shape`);
      const q = e.quantization;
      if (q !== undefined && (typeof q !== 'object' || q === null || !QUANT_DTYPES.has(q.dtype)
        || (q.dtype !== 'float16' && !(Number.isFinite(q.scale) && Number.isFinite(q.min))))) fail('format', `${file}: weight ${escapeText(e.name, 200)} has an invalid quantization`);
      const n = e.shape.reduce((a, b) => a * b, 1);
      expected += n * bytesPerValue(e);
      if (!Number.isSafeInteger(expected)) fail('format', `${file}: weight ${escapeText(e.name, 200)} of shape ${shapeText(e.shape)} is too large`);
      specs.push(e);
    }
    for (const p of g.paths as unknown[]) {
      if (typeof p !== 'string' || p.length === 0 || path.isAbsolute(p) || p.split(/[\\/]/).includes('..')) fail('format', `${file}: weight shard path ${typeof p === 'string' ? escapeText(p, 200) : render(p)} leaves the model directory`);
      if (seen.has(path.normalize(p))) fail('format', `${file}: weight shard ${escapeText(p, 200)} is listed more than once`);
      paths.push(path.normalize(p));
      seen.add(path.normalize(p));
    }
  }
  // Sizes first (stat, no reading), so a manifest cannot make us read more than it describes.
  if (shardSize) {
    let onDisk = 0;
    for (const p of paths) onDisk += shardSize(p);
    if (onDisk !== expected) fail('format', `${file}: weight shards hold ${onDisk} bytes, the manifest describes ${expected}`);
  }
  const buffers = paths.map((p) => readShard(p));
  const total = buffers.reduce((s, b) => s + b.byteLength, 0);
  if (total !== expected) fail('format', `${file}: weight shards hold ${total} bytes, the manifest describes ${expected}`);
  const all = new Uint8Array(total);
  let o = 0;
  for (const b of buffers) { all.set(b, o); o += b.byteLength; }
  return [specs, all.buffer];
}

/**
 * The weights of a model directory (the one `file`, its model.json, is in), read under the shard rules — real paths,
 * so that a shard that is a link out of the directory is refused too; regular files; sizes before reading — and
 * the constants in them checked (checkTfjsConstants). `onShard` sees each shard as it is read (the browser route).
 */
export function readDirWeights(file: string, json: ModelJson, manifest: unknown,
  onShard?: (relPath: string, bytes: Uint8Array) => void): [TfcNs.io.WeightsManifestEntry[], ArrayBuffer] {
  const dir = path.dirname(path.resolve(file));
  const shard = (p: string): string => resolveInside(dir, p, 'weight shard', file);
  const [specs, data] = assembleWeights(file, manifest, (p) => {
    const bytes = readFileChecked(shard(p), 'weight shard');
    onShard?.(p, bytes);
    return bytes;
  }, (p) => regularFileSize(shard(p), 'weight shard'));
  checkTfjsConstants(json, specs, data, file);
  return [specs, data];
}

/** The same from a model held in memory (`files`: model.json and its shards by name; a converted checkpoint). */
export function memoryWeights(label: string, json: ModelJson, manifest: unknown, files: ReadonlyMap<string, Uint8Array>): [TfcNs.io.WeightsManifestEntry[], ArrayBuffer] {
  const [specs, data] = assembleWeights(label, manifest, (p) => files.get(p) ?? fail('format', `${label}: weight shard ${p} is missing`));
  checkTfjsConstants(json, specs, data, label);
  return [specs, data];
}
