import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';

/** One home per command, the package's entries alone at the top of src/, and the layout table in docs/development.md current. */
const HOME: Record<string, string> = { calibrate: 'quant', quantize: 'quant' };
const table = fs.readFileSync('docs/development.md', 'utf8');

describe('the layout of src/', () => {
  const entries = fs.readdirSync('src', { withFileTypes: true });

  it('every command has a folder of its own and a CLI face in src/cli/', () => {
    const commands = buildProgram().commands.map((c) => c.name());
    expect(commands.length).toBeGreaterThan(8);
    for (const c of commands) {
      const home = HOME[c] ?? c;
      expect(fs.statSync(`src/${home}`, { throwIfNoEntry: false })?.isDirectory(), `src/${home}/ for ${c}`).toBe(true);
      expect(fs.existsSync(`src/cli/${c}.ts`), `src/cli/${c}.ts`).toBe(true);
    }
  });

  it('the only files at the top of src/ are the entries package.json exports', () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { exports: Record<string, string> };
    const exported = Object.values(pkg.exports).map((p) => p.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts')).sort();
    expect(entries.filter((e) => e.isFile()).map((e) => e.name).sort()).toEqual(exported);
  });

  it('the layout table in docs/development.md names every folder and entry of src/', () => {
    for (const e of entries) expect(table, `src/${e.name} in the layout table`).toContain(e.isDirectory() ? `\`src/${e.name}/` : `\`src/${e.name}\``);
  });
});
