#!/usr/bin/env node
// The limits table of docs/security.md, made from src/util/limits.ts: one row per limit, its `--budget` name,
// its default and what it bounds, from the comment above it. `node scripts/limits-table.mjs` rewrites the table
// between the markers (after a build: the values come from dist/); test/docs/limits.test.ts checks it is current.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BEGIN = '<!-- limits table: made by scripts/limits-table.mjs from src/util/limits.ts -->';
export const END = '<!-- end of limits table -->';

const kebab = (k) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const BYTES = /Bytes$|Memory$|^safetensorsHeader$/;

function bytes(n) {
  for (const [u, s] of [[2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']]) if (n >= u && n % u === 0) return `${n / u} ${s}`;
  return n.toLocaleString('en-US');
}

/** The Markdown table for the limits declared in `source` (the text of limits.ts) with these `values`. */
export function limitsTable(source, values) {
  const body = source.slice(source.indexOf('export const LIMITS = {'), source.indexOf('\n};', source.indexOf('export const LIMITS = {')));
  const rows = [];
  for (const m of body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*(\w+):/g)) {
    const key = m[2];
    if (!(key in values)) throw new Error(`limits.ts declares ${key}, which LIMITS lacks`);
    let text = m[1].split('\n').map((l) => l.replace(/^\s*\*\s?/, '').trim()).filter(Boolean).join(' ');
    let def;
    const d = /\s*Default: (.+?)\.$/.exec(text);
    if (d) { def = d[1]; text = text.slice(0, d.index); } else def = BYTES.test(key) ? bytes(values[key]) : values[key].toLocaleString('en-US');
    const flag = key === 'modelMemory' ? ' (`--max-memory`)' : '';
    rows.push(`| \`${kebab(key)}\`${flag} | ${def} | ${text.replace(/\|/g, '\\|')} |`);
  }
  if (rows.length !== Object.keys(values).length) throw new Error(`limits.ts documents ${rows.length} limits of ${Object.keys(values).length}`);
  return [BEGIN, '| limit (`--budget` name) | default | bounds |', '|---|---|---|', ...rows, END].join('\n');
}

/** The page with its table replaced by `table`. */
export function withTable(page, table) {
  const a = page.indexOf(BEGIN);
  const b = page.indexOf(END);
  if (a < 0 || b < a) throw new Error('docs/security.md has no limits-table markers');
  return page.slice(0, a) + table + page.slice(b + END.length);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const { LIMITS } = await import(path.join(root, 'dist', 'util', 'limits.js'));
  const source = fs.readFileSync(path.join(root, 'src', 'util', 'limits.ts'), 'utf8');
  const page = path.join(root, 'docs', 'security.md');
  fs.writeFileSync(page, withTable(fs.readFileSync(page, 'utf8'), limitsTable(source, LIMITS)));
  console.log(`${page}: limits table written (${Object.keys(LIMITS).length} limits)`);
}
