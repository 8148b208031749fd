import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const UPSTREAM = 'coincheung-bisenetv2-n19';
export const fixture = (...p: string[]): string => path.join(ROOT, 'fixtures', ...p);
export const golden = (...p: string[]): string => path.join(ROOT, 'golden', ...p);
export const BIN = path.join(ROOT, 'bin', 'bisenet');

export function tmpDir(prefix = 'bisenet-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Every committed golden set whose manifest names its checkpoint. */
export function goldenSets(): { name: string; dir: string; checkpoint: string; manifest: Record<string, unknown> }[] {
  const dir = path.join(ROOT, 'golden');
  return fs.readdirSync(dir).sort().flatMap((name) => {
    const mf = path.join(dir, name, 'manifest.json');
    if (!fs.existsSync(mf)) return [];
    const manifest = JSON.parse(fs.readFileSync(mf, 'utf8')) as Record<string, unknown>;
    if (typeof manifest.checkpoint !== 'string') return [];
    return [{ name, dir: path.join(dir, name), checkpoint: path.join(ROOT, manifest.checkpoint), manifest }];
  });
}
