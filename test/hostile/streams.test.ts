/**
 * Streams (issue 20, class 11): text from files is escaped on every stream (stdout included), and an error
 * on exit 2 is the only line on stderr (progress goes to stdout when stderr is not a terminal, and a bar's
 * line is ended before the error).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/index.js';
import { encodePng } from '../../src/segment/image.js';
import { escapeStreamText } from '../../src/util/render.js';
import { runCli } from '../helpers/cli.js';
import { fixture, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
let model: string;
let png: Buffer;
beforeAll(async () => {
  work = tmpDir('bisenet-streams-');
  model = path.join(work, 'm.onnx');
  fs.writeFileSync(model, convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' }).bytes);
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
