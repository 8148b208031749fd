/**
 * Converted models shared by the test files of one run. Many files start from the same conversion (the upstream
 * checkpoint to ONNX, to a tfjs model…); `converted()` makes each one once per run and hands every caller its own
 * copy of the bytes. The cache is a folder test/helpers/models-setup.ts (vitest's globalSetup) makes for the run
 * and removes after it, keyed by the checkpoint (path, size, modification time) and the options: a conversion
 * never outlives the run, so a change to the converter is always seen. A test about converting calls
 * convertCheckpoint itself.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { convertCheckpoint, type ConvertOptions } from '../../src/convert/index.js';
import { fixture, tmpDir, UPSTREAM } from './paths.js';

declare module 'vitest' {
  export interface ProvidedContext { modelCache: string }
}

/** A converted model: the model file's bytes (a tfjs model's model.json), and a tfjs model's files. */
export interface CachedModel { bytes: Uint8Array; files?: Map<string, Uint8Array> }

const sorted = (v: unknown): unknown => (v && typeof v === 'object' && !Array.isArray(v)
  ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sorted(x)]))
  : v);

/** `convertCheckpoint(checkpoint, options)`'s bytes and files, converted once per run. */
export function converted(checkpoint: string, options: ConvertOptions): CachedModel {
  const file = path.resolve(checkpoint);
  const st = fs.statSync(file);
  const key = createHash('sha256').update(JSON.stringify(sorted({ file, size: st.size, mtime: st.mtimeMs, options }))).digest('hex').slice(0, 32);
  const entry = path.join(inject('modelCache'), key);
  const fromCache = (): CachedModel | null => {
    if (fs.existsSync(`${entry}.bin`)) return { bytes: new Uint8Array(fs.readFileSync(`${entry}.bin`)) };
    if (!fs.existsSync(entry)) return null;
    const files = new Map(fs.readdirSync(entry).sort().map((f) => [f, new Uint8Array(fs.readFileSync(path.join(entry, f)))] as const));
    return { bytes: files.get('model.json')!, files };
  };
  const hit = fromCache();
  if (hit) return hit;
  const c = convertCheckpoint(file, options);
  // Written whole under a temporary name, then renamed (never over an entry: a file running at the same time that
  // made the same conversion first keeps its own), so that a reader sees all of an entry or none.
  const tmp = `${entry}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  if (c.files) {
    fs.mkdirSync(tmp);
    for (const [f, data] of c.files) fs.writeFileSync(path.join(tmp, f), data);
    try { fs.renameSync(tmp, entry); } catch { fs.rmSync(tmp, { recursive: true, force: true }); }
    return { bytes: c.bytes, files: c.files };
  }
  fs.writeFileSync(tmp, c.bytes);
  fs.renameSync(tmp, `${entry}.bin`);
  return { bytes: c.bytes };
}

/**
 * A test file's own folder (`prefix…` under the temporary folder, removed after the file) holding the upstream
 * checkpoint as ONNX, `m.onnx`: what the hostile-input files start from. `ready` gets both before the first test.
 */
export function upstreamOnnxFolder(prefix: string, ready: (work: string, model: string) => void): void {
  let work = '';
  beforeAll(() => {
    work = tmpDir(prefix);
    const model = path.join(work, 'm.onnx');
    fs.writeFileSync(model, converted(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' }).bytes);
    ready(work, model);
  }, 120_000);
  afterAll(() => { if (work) fs.rmSync(work, { recursive: true, force: true }); });
}
