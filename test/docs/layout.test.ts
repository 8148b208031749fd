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

describe('the README is a front page', () => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const lines = readme.split('\n');

  it('is at most 300 lines, with the picture and the quick start on its first screen (60 lines)', () => {
    expect(lines.length).toBeLessThanOrEqual(300);
    const first = lines.slice(0, 60).join('\n');
    expect(first).toMatch(/!\[[^\]]+\]\(docs\/[^)]+\.(jpg|png)\)/);
    expect(first).toContain('## Quick start');
  });

  it('links every page of docs/, and every link into docs/ leads to a file', () => {
    for (const page of fs.readdirSync('docs').filter((f) => f.endsWith('.md'))) expect(readme, `docs/${page}`).toContain(`](docs/${page}`);
    for (const [, target] of readme.matchAll(/\]\((docs\/[^)#\s]+)/g)) expect(fs.existsSync(target!), target).toBe(true);
  });
});

describe('the docs name files that exist', () => {
  it('every src/, test/ or scripts/ path in README.md and docs/ is there', () => {
    const pages = ['README.md', ...fs.readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const missing: string[] = [];
    for (const page of pages) {
      for (const [p] of fs.readFileSync(page, 'utf8').matchAll(/\b(?:src|test|scripts)\/[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.(?:ts|mjs|py|sh)\b/g)) {
        if (!fs.existsSync(p)) missing.push(`${page}: ${p}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('the command lines in README.md and docs/ are the CLI as it is', () => {
  it('each names a command and only options that command (or bisenet itself) takes', () => {
    const program = buildProgram();
    const globals = new Set(program.options.map((o) => o.long).filter(Boolean) as string[]);
    const pages = ['README.md', ...fs.readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const problems: string[] = [];
    let checked = 0;
    for (const page of pages) {
      let inCode = false;
      for (const line of fs.readFileSync(page, 'utf8').split('\n')) {
        if (/^\s*```/.test(line)) { inCode = !inCode; continue; }
        const m = inCode ? /^\s*(?:\$ )?(?:npx |bin\/)?bisenet ((?:-[^\s]+ (?:[^\s-][^\s]* )?)*)([a-z]+)\b(.*)$/.exec(line) : null;
        if (!m) continue;
        const cmd = program.commands.find((c) => c.name() === m[2]);
        if (!cmd) { problems.push(`${page}: "${line.trim()}": no command ${m[2]}`); continue; }
        const own = new Set(cmd.options.filter((o) => !o.hidden).map((o) => o.long).filter(Boolean) as string[]);
        const args = m[3]!.replace(/\s#\s.*$/, '');
        for (const [, flag] of args.matchAll(/(?:^|[\s[|])(--[a-z][\w-]*)/g)) {
          if (!own.has(flag!) && !globals.has(flag!) && flag !== '--help') problems.push(`${page}: "${line.trim()}": ${m[2]} has no ${flag}`);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(problems).toEqual([]);
  });
});
