/**
 * Globs (issue 20, classes 5–6): matched in time bounded by name × pattern length (no backtracking regex),
 * each directory read once, the walk bounded by entries, depth and time; bad syntax is a usage error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSegment, expandGlob } from '../../src/segment/inputs.js';
import { BisenetError } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/paths.js';

let work: string;
beforeAll(() => { work = tmpDir('bisenet-globs-'); });
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

describe('the matcher', () => {
  it('matches as a shell does: *, ?, sets, ranges, negation, leading dots', () => {
    const cases: [string, string, boolean][] = [
      ['*.png', 'a.png', true], ['*.png', 'a.jpg', false], ['*.png', '.a.png', false], ['.*.png', '.a.png', true],
      ['a?c.png', 'abc.png', true], ['a?c.png', 'ac.png', false], ['[ab]*.png', 'b1.png', true], ['[!ab]*.png', 'b1.png', false],
      ['[^ab]*.png', 'c1.png', true], ['x[0-9][0-9].png', 'x42.png', true], ['x[0-9].png', 'xa.png', false], ['[]]x', ']x', true],
      ['a*b*c', 'aXXbYYc', true], ['a*b*c', 'aXXbYY', false], ['*', '', true], ['a[', 'a[', true], ['é*', 'été.png', true], ['?', 'é', true],
    ];
    for (const [pat, name, want] of cases) expect(compileSegment(pat)(name), `${pat} ~ ${name}`).toBe(want);
  });

  it('takes no exponential time: many stars against a long name', () => {
    const m = compileSegment(`${'*a'.repeat(40)}*b.png`);
    const t0 = performance.now();
    expect(m(`${'a'.repeat(250)}.png`)).toBe(false);
    expect(m(`${'a'.repeat(250)}b.png`)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('refuses a reversed range, a lone surrogate one included, as a usage error', () => {
    expect(() => compileSegment('[z-a].png')).toThrow(BisenetError);
    expect(() => compileSegment('[\ud800-a].png')).toThrow(/reversed/);
    expect(compileSegment('[\ud800].png')('x.png')).toBe(false);
  });
});

describe('the walk', () => {
  it('collapses **/** and visits each directory once: a deep chain with many ** is quick', () => {
    let p = path.join(work, 'deep');
    for (let i = 0; i < 40; i++) p = path.join(p, 'd');
    fs.mkdirSync(p, { recursive: true });
    fs.writeFileSync(path.join(p, 'x.png'), '');
    const t0 = performance.now();
    const found = expandGlob(path.join(work, 'deep', '**', '**', '**', '**', '**', '**', '**', '*.png'));
    expect(found).toEqual([path.join(p, 'x.png')]);
    const mixed = expandGlob(path.join(work, 'deep', '**', 'd', '**', 'd', '**', '*.png'));
    expect(mixed).toEqual([path.join(p, 'x.png')]);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('bounds entries and depth with a clear error', () => {
    const wide = path.join(work, 'wide');
    fs.mkdirSync(wide);
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(wide, `${i}.png`), '');
    expect(() => expandGlob(path.join(wide, '*.png'), { entries: 10 })).toThrow(/more than 10 directory entries/);
    expect(() => expandGlob(path.join(work, 'deep', '**', '*.png'), { depth: 5 })).toThrow(/deeper than 5/);
  });
});

describe('through the CLI', () => {
  it('a bad pattern is one line, exit 2; a backtracking pattern ends quickly', () => {
    const g = path.join(work, 'g');
    fs.mkdirSync(g);
    fs.writeFileSync(path.join(g, `${'a'.repeat(200)}.png`), '');
    for (const pat of [path.join(g, '[z-a].png'), path.join(g, '[\ud800-a].png')]) {
      const r = runCli(['segment', 'nomodel.onnx', pat, '--out-dir', path.join(work, 'o')]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: .*reversed/);
    }
    const t0 = performance.now();
    const r = runCli(['segment', 'nomodel.onnx', path.join(g, `${'*a'.repeat(11)}*b.png`), '--out-dir', path.join(work, 'o')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/matches no file/);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

describe('seeded fuzz: the matcher against a plain recursive one', () => {
  /** The textbook definition, exponential in the worst case: fine on these short strings. */
  const naive = (pat: string, name: string): boolean => {
    if (name.startsWith('.') && !pat.startsWith('.')) return false;
    const go = (p: number, s: number): boolean => {
      if (p === pat.length) return s === name.length;
      const c = pat[p]!;
      if (c === '*') return go(p + 1, s) || (s < name.length && go(p, s + 1));
      if (s === name.length) return false;
      if (c === '?') return go(p + 1, s + 1);
      if (c === '[') {
        const end = pat.indexOf(']', p + 2);
        if (end >= 0) {
          let body = pat.slice(p + 1, end);
          const neg = body[0] === '!' || body[0] === '^';
          if (neg) body = body.slice(1);
          let hit = false;
          for (let k = 0; k < body.length; k++) {
            if (body[k + 1] === '-' && k + 2 < body.length) { hit ||= name[s]! >= body[k]! && name[s]! <= body[k + 2]!; k += 2; } else hit ||= name[s] === body[k];
          }
          return hit !== neg && go(end + 1, s + 1);
        }
      }
      return name[s] === c && go(p + 1, s + 1);
    };
    return go(0, 0);
  };
  it('agrees on 3,000 random patterns and names', () => {
    let seed = 20;
    const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    const alphabet = ['a', 'b', '.', 'x'];
    const tokens = ['a', 'b', '*', '?', '[ab]', '[!a]', '[a-b]', '.', 'x', '**'];
    for (let i = 0; i < 3000; i++) {
      const pat = Array.from({ length: 1 + rnd(6) }, () => tokens[rnd(tokens.length)]!).join('');
      const name = Array.from({ length: rnd(8) }, () => alphabet[rnd(alphabet.length)]!).join('');
      expect(compileSegment(pat)(name), `${pat} ~ ${name}`).toBe(naive(pat.replace(/\*+/g, '*'), name));
    }
  });
});
