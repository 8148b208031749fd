/**
 * docs/security.md's limits table is made from src/util/limits.ts (scripts/limits-table.mjs): a limit added,
 * renamed or changed there without the page following fails here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BEGIN, END, limitsTable } from '../../scripts/limits-table.mjs';
import { LIMIT_NAMES, LIMITS } from '../../src/util/limits.js';
import { ROOT } from '../helpers/paths.js';

describe('the limits table', () => {
  const source = fs.readFileSync(path.join(ROOT, 'src', 'util', 'limits.ts'), 'utf8');
  const page = fs.readFileSync(path.join(ROOT, 'docs', 'security.md'), 'utf8');

  it('in docs/security.md is the one the script makes from src/util/limits.ts (run node scripts/limits-table.mjs)', () => {
    const table = (limitsTable as (s: string, v: object) => string)(source, LIMITS);
    const shown = page.slice(page.indexOf(BEGIN as string), page.indexOf(END as string) + (END as string).length);
    expect(shown).toBe(table);
  });

  it('has one row per limit, named as --budget takes it, each with a default and a description', () => {
    const table = (limitsTable as (s: string, v: object) => string)(source, LIMITS);
    const rows = table.split('\n').filter((l) => /^\| `/.test(l));
    expect(rows.map((r) => /^\| `([a-z-]+)`/.exec(r)![1]).sort()).toEqual(Object.keys(LIMIT_NAMES).sort());
    for (const r of rows) {
      const [, def, what] = r.slice(1, -1).split(' | ');
      expect(def!.trim(), r).not.toBe('');
      expect(what!.trim().length, r).toBeGreaterThan(10);
    }
    // A limit without its comment is not documented: the script refuses it.
    expect(() => (limitsTable as (s: string, v: object) => string)(source.replace(/\/\*\* entries of one zip[^*]*\*\/\n/, ''), LIMITS)).toThrow(/documents 18 limits of 19/);
  });
});
