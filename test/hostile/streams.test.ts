/**
 * Streams (issue 20, class 11): text from files is escaped on every stream (stdout included), and an error
 * on exit 2 is the only line on stderr (progress goes to stdout when stderr is not a terminal, and a bar's
 * line is ended before the error); hostile values in messages (the first round's class 3) are rendered in bounded
 * time and length, escaped, and end in one line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../src/segment/image.js';
import { Progress } from '../../src/segment/progress.js';
import { escapeStreamText, escapeText, render } from '../../src/util/render.js';
import { PickleWriter, torchTensor } from '../fuzz-lib/pickle-writer.js';
import { makeZip } from '../fuzz-lib/zip-writer.js';
import { bisenet, oneErrorLine, runCli } from '../helpers/cli.js';
import { converted } from '../helpers/models.js';
import { fixture, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
let model: string;
let png: Buffer;
beforeAll(async () => {
  work = tmpDir('bisenet-streams-');
  model = path.join(work, 'm.onnx');
  fs.writeFileSync(model, converted(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' }).bytes);
  png = await encodePng(new Uint8Array(64 * 64 * 3).fill(100), 64, 64, 3);
}, 120_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('escaping', () => {
  it('escapes controls and bidi characters, keeps lines and tabs, and a progress bar\'s redraw', () => {
    expect(escapeStreamText('a\x1b]0;pwned\x07b\n\tc\u202ed\x1b[2J')).toBe('a\\u001b]0;pwned\\u0007b\n\tc\\u202ed\\u001b[2J');
    expect(escapeStreamText('\r\x1b[Kseg [##] 1/2')).toBe('\r\x1b[Kseg [##] 1/2');
    expect(JSON.parse(escapeStreamText(JSON.stringify({ k: 'x\u202e\u0085y' })))).toEqual({ k: 'x\u202e\u0085y' });
  });

  it('an image named with OSC and clear-screen escapes reaches stdout escaped', () => {
    const name = path.join(work, 'a\x1b]0;x\x07\x1b[2J\u202e.png');
    fs.writeFileSync(name, png);
    const r = runCli(['segment', model, '--image', name, '--out', path.join(work, 'o.png')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain('\\u001b]0;x\\u0007');
    const many = runCli(['segment', model, path.join(work, '*.png'), '--out-dir', path.join(work, 'many')]);
    expect(many.status, many.stderr).toBe(0);
    expect(many.stdout + many.stderr).not.toMatch(RAW);
  });
});

describe('one line on exit 2', () => {
  it('eval: a wrong-sized label after good images gives the error line alone on stderr', async () => {
    const set = path.join(work, 'set');
    fs.mkdirSync(path.join(set, 'images'), { recursive: true });
    fs.mkdirSync(path.join(set, 'labels'));
    const label = await encodePng(new Uint8Array(64 * 64).fill(1), 64, 64, 1);
    for (const n of ['a', 'b', 'c']) { fs.writeFileSync(path.join(set, 'images', `${n}.png`), png); fs.writeFileSync(path.join(set, 'labels', `${n}.png`), label); }
    fs.writeFileSync(path.join(set, 'labels', 'c.png'), await encodePng(new Uint8Array(32 * 32), 32, 32, 1));
    const r = runCli(['eval', model, '--data', set]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*c\.png: 32×32/);
  });

  it('segment: a truncated image among good ones gives the error line alone on stderr', () => {
    const dir = path.join(work, 'trunc');
    fs.mkdirSync(dir);
    for (const n of ['a', 'b']) fs.writeFileSync(path.join(dir, `${n}.png`), png);
    fs.writeFileSync(path.join(dir, 'c.png'), png.subarray(0, png.length - 30));
    const r = runCli(['segment', model, dir, '--out-dir', path.join(work, 'trunc-out')]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(fs.existsSync(path.join(work, 'trunc-out'))).toBe(false);
  });
});

describe('3. hostile values in messages', () => {
  it('renders a shared list DAG in bounded time and length', () => {
    let l: unknown[] = [];
    for (let i = 0; i < 60; i++) l = [l, l];
    const t0 = performance.now();
    const s = render(l);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(s.length).toBeLessThan(500);
  });
  it('escapes control characters and cuts long text', () => {
    expect(escapeText('a\u001b[2J\nb\u009b\u202e')).toBe('a\\x1b[2J\\nb\\x9b\\u202e');
    expect(escapeText('x'.repeat(5000), 100)).toMatch(/… \(4900 more characters\)$/);
  });
  it('a torch.device argument or dict key that is a list DAG ends in exit 2 with one line', () => {
    const w = new PickleWriter().raw(0x5d).put(0);
    for (let i = 1; i <= 50; i++) w.mark().get(i - 1).get(i - 1).raw(0x6c).put(i);
    w.raw(0x30).emptyDict().get(50).global('torch', 'device').mark().get(50).tuple().reduce().setitem();
    const file = path.join(work, 'dag.pth');
    fs.writeFileSync(file, makeZip([{ name: 'a/data.pkl', data: w.stop() }]));
    oneErrorLine(bisenet('inspect', file), /no tensors found/);
  }, 600_000);
  it('keys with escapes never reach the terminal raw', () => {
    const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    w.str('\u001b[31mred\nline'); torchTensor(w, 'FloatStorage', '0', 4, 0, [4], [1]);
    w.setitems();
    const file = path.join(work, 'esc.pth');
    fs.writeFileSync(file, makeZip([{ name: 'a/data.pkl', data: w.stop() }, { name: 'a/data/0', data: new Uint8Array(16) }]));
    const r = bisenet('inspect', file);
    expect(r.status).toBe(2);
    expect(r.stdout + r.stderr).not.toMatch(/\u001b/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  }, 600_000);
  it('progress lines escape the file names they show', () => {
    const lines: string[] = [];
    const p = new Progress(2, 'segment', { stream: { isTTY: false, write: (x: string) => { lines.push(x); return true; } } });
    p.tick('a\x1b]0;pwn\x07\nb.png');
    expect(lines.join('')).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect(lines.join('').split('\n').filter(Boolean)).toHaveLength(1);
  });
});
