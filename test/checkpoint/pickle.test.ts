import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unpickle } from '../../src/checkpoint/pickle.js';
import { BisenetError } from '../../src/util/errors.js';
import { PickleWriter } from '../fuzz-lib/pickle-writer.js';

const load = (bytes: Uint8Array, globals = {}) => unpickle(bytes, { label: 'test.pkl', globals });

describe('pickle reader', () => {
  it('reads dicts, lists, tuples, strings, ints, memo', () => {
    const w = new PickleWriter().emptyDict().put(0).mark().str('a').int(-7).str('b').mark().str('x').none().bool(true).tuple().put(1).str('c').get(1).setitems();
    const d = load(w.stop()) as Map<string, unknown>;
    expect(d.get('a')).toBe(-7);
    expect(d.get('b')).toEqual(['x', null, true]);
    expect(d.get('c')).toBe(d.get('b'));
  });

  it('refuses os.system named by a pickle, and nothing runs', () => {
    const marker = path.join(os.tmpdir(), `bisenet-pwned-${process.pid}`);
    fs.rmSync(marker, { force: true });
    const w = new PickleWriter().global('os', 'system').mark().str(`touch ${marker}`).tuple().reduce();
    expect(() => load(w.stop())).toThrowError(/refused: the pickle names the global os\.system/);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it.each([['builtins', 'eval'], ['subprocess', 'Popen'], ['torch', 'load'], ['posix', 'system'], ['__builtin__', 'getattr']])(
    'refuses %s.%s', (module, name) => {
      const w = new PickleWriter().global(module, name).mark().str('x').tuple().reduce();
      try { load(w.stop()); expect.unreachable(); } catch (e) {
        expect(e).toBeInstanceOf(BisenetError);
        expect((e as BisenetError).kind).toBe('security');
        expect((e as Error).message).toContain(`${module}.${name}`);
      }
    });

  it('refuses STACK_GLOBAL gadgets (protocol 4) too', () => {
    const w = new PickleWriter().str('os').str('system').raw(0x93).mark().str('id').tuple().reduce();
    expect(() => load(w.stop())).toThrowError(/os\.system/);
  });

  it('refuses INST and OBJ, which instantiate classes', () => {
    const inst = new PickleWriter().mark().raw(0x69, ...Buffer.from('os\nsystem\n')).stop();
    expect(() => load(inst)).toThrowError(/INST/);
  });

  it('calls only the allowed globals, as plain JS functions', () => {
    const calls: unknown[] = [];
    const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce();
    const v = load(w.stop(), { 'collections.OrderedDict': (a: unknown[]) => { calls.push(a); return new Map(); } });
    expect(v).toBeInstanceOf(Map);
    expect(calls).toHaveLength(1);
  });

  it('rejects truncated data with a format error naming the file', () => {
    const full = new PickleWriter().emptyDict().mark().str('key').str('value').setitems().stop();
    for (let cut = 1; cut < full.length; cut++) {
      expect(() => load(full.subarray(0, cut))).toThrowError(BisenetError);
    }
  });

  it('rejects unknown opcodes and stack underflow', () => {
    expect(() => load(Uint8Array.from([0x80, 2, 0xff]))).toThrowError(/unknown opcode 0xff/);
    expect(() => load(Uint8Array.from([0x80, 2, 0x2e]))).toThrowError(/stack underflow/);
  });
});
