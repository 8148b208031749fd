import { fail } from '../util/errors.js';
import { LIMITS } from '../util/limits.js';
import { copyBytes } from '../util/ndarray.js';
import { escapeText } from '../util/render.js';

/**
 * A pickle reader that never runs code. It interprets the pickle opcodes itself and resolves
 * GLOBAL/STACK_GLOBAL only through an allowlist passed by the caller: a name outside it is refused
 * the moment it is read, before anything could call it. Objects are plain data:
 *   None → null, bool → boolean, int → number (bigint beyond 2^53), float → number, str → string,
 *   bytes → Uint8Array, list/tuple → array (tuples are frozen), dict → Map.
 * Allowed globals are JS callables the caller writes (e.g. "rebuild a tensor from these fields").
 */

export interface PyGlobal {
  readonly kind: 'global';
  readonly qualname: string;
  /** REDUCE / NEWOBJ: what calling the global with these arguments produces. */
  call(args: unknown[]): unknown;
}

/** BUILD on an object made by an allowed global: a hook for objects with state (e.g. numpy arrays). */
export interface Buildable {
  setState(state: unknown): void;
}

export type GlobalTable = Record<string, (args: unknown[]) => unknown>;

export interface UnpickleOptions {
  label: string;
  globals: GlobalTable;
  persistentLoad?: (pid: unknown) => unknown;
  /**
   * Estimated bytes the interpreter may allocate in all (default: LIMITS.pickleMemoryPerByte × the
   * pickle's size, at most LIMITS.pickleMemory), as a guard against memory abuse.
   */
  maxMemory?: number;
  /**
   * Globals outside the allowlist that may stand in the pickle as inert placeholders (never called:
   * "calling" one yields another placeholder). For metadata that training frameworks pickle beside the
   * weights (mmengine's message_hub); a placeholder can never become a tensor.
   */
  inert?: (qualname: string) => boolean;
}

/** A stand-in for a global that was read but is never resolved or called. */
export class InertObject implements Buildable {
  readonly kind = 'inert';
  constructor(readonly qualname: string) {}
  setState(): void { /* state is dropped */ }
}


function isBuildable(o: unknown): o is Buildable {
  return typeof o === 'object' && o !== null && typeof (o as Buildable).setState === 'function';
}

/**
 * What each allocation of the interpreter costs in the budget, in bytes, measured on V8 (Node 20,
 * 64-bit): a stack or list slot, an empty array (also what a MARK saves), a Map (dict, memo entry
 * overhead), a Set. Counted cumulatively: every byte of the pickle can allocate only a bounded amount,
 * so a small file cannot build gigabytes of lists, dicts, marks or memo entries.
 */
const COST = { slot: 8, array: 40, map: 200, entry: 48, set: 160, call: 200, string: 24 } as const;

/** What the last unpickle charged against its budget, and the pickle's size (for tests and tuning). */
export const lastPickleUsage = { charged: 0, bytes: 0 };

export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): unknown {
  const { label } = opts;
  if (bytes.length > LIMITS.pickleBytes) {
    fail('security', `${label}: the pickle is ${bytes.length} bytes, more than the limit of ${LIMITS.pickleBytes} (--budget pickle-bytes)`);
  }
  const budget = opts.maxMemory ?? Math.min(LIMITS.pickleMemory, Math.max(1 << 20, LIMITS.pickleMemoryPerByte * bytes.length));
  let used = 0;
  const charge = (n: number): void => {
    used += n;
    if (used > budget) {
      fail('security', `${label}: refused: the pickle would build more than ${budget} bytes of objects from ${bytes.length} bytes (limits pickle-memory, pickle-memory-per-byte)`);
    }
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let pos = 0;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  // The memo: a dense array for the indices pickles use (0, 1, 2…; Maps are several times slower to
  // fill), a Map for the rest. Values are never undefined (None is null), so undefined means unset.
  const memoDense: unknown[] = [];
  const memoSparse = new Map<number, unknown>();
  let memoCount = 0;
  const memoGet = (idx: number): unknown => (idx < memoDense.length ? memoDense[idx] : memoSparse.get(idx));

  const bad = (msg: string): never => fail('format', `${label}: bad pickle at byte ${pos}: ${msg}`);
  const need = (n: number): void => {
    if (n < 0 || pos + n > bytes.length) bad(`needs ${n} more bytes, the data is truncated`);
  };
  const u8 = (): number => { need(1); return bytes[pos++]!; };
  const u16 = (): number => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = (): number => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const i32 = (): number => { need(4); const v = view.getInt32(pos, true); pos += 4; return v; };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) bad(`length ${v} exceeds the data`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => { need(n); charge(n + COST.string); const s = bytes.subarray(pos, pos + n); pos += n; return s; };
  const text = (n: number): string => { need(n); charge(2 * n + COST.string); const s = decoder.decode(bytes.subarray(pos, pos + n)); pos += n; return s; };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) bad('unterminated text line');
    charge(2 * (end - pos) + COST.string);
    const s = decoder.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) bad('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) bad('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) bad('mark missing');
    stack = prev!;
    charge(COST.array + COST.slot * items.length);
    return items;
  };
  const push = (v: unknown): void => {
    charge(COST.slot);
    stack.push(v);
  };
  const memoize = (idx: number, v: unknown): void => {
    if (!Number.isSafeInteger(idx) || idx < 0) bad('bad memo index');
    charge(COST.entry);
    if (memoGet(idx) === undefined) memoCount++;
    if (idx < memoDense.length) memoDense[idx] = v;
    else if (idx === memoDense.length && memoSparse.size === 0) memoDense.push(v);
    else memoSparse.set(idx, v);
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const qualname = `${module}.${name}`;
    const fn = opts.globals[qualname];
    if ((!fn || !Object.prototype.hasOwnProperty.call(opts.globals, qualname)) && opts.inert?.(qualname)) {
      return { kind: 'global', qualname, call: () => new InertObject(qualname) };
    }
    if (!fn || !Object.prototype.hasOwnProperty.call(opts.globals, qualname)) {
      fail('security', `${label}: refused: the pickle names the global ${escapeText(qualname, 200)}, which is not on the allowlist (loading never runs code from a checkpoint)`);
    }
    return { kind: 'global', qualname, call: fn };
  };
  const callGlobal = (callable: unknown, args: unknown): unknown => {
    if (typeof callable !== 'object' || callable === null || (callable as PyGlobal).kind !== 'global') {
      bad('REDUCE on something that is not an allowed global');
    }
    if (!Array.isArray(args)) bad('REDUCE arguments are not a tuple');
    charge(COST.call);
    return (callable as PyGlobal).call(args as unknown[]);
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) bad('SETITEM(S) on something that is not a dict');
    if (items.length % 2) bad('odd number of items for a dict');
    charge(COST.entry * (items.length / 2));
    for (let i = 0; i < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target) || Object.isFrozen(target)) bad('APPEND(S) on something that is not a list');
    charge(COST.slot * items.length);
    for (const it of items) (target as unknown[]).push(it);
  };
  const decodeLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > LIMITS.pickleIntBytes) bad(`integer of ${b.length} bytes`);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const tuple = (items: unknown[]): unknown[] => Object.freeze(items) as unknown[];

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a length hint only
      case 0x2e: { // STOP
        lastPickleUsage.charged = used;
        lastPickleUsage.bytes = bytes.length;
        const result = pop();
        return result;
      }
      case 0x28: charge(COST.array + COST.slot); marks.push(stack); stack = []; break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(u16()); break; // BININT2
      case 0x4a: push(i32()); break; // BININT
      case 0x8a: { const n = u8(); push(decodeLong(take(n))); break; } // LONG1
      case 0x8b: { const n = i32(); if (n < 0 || n > LIMITS.pickleIntBytes) bad(`LONG4 of ${n} bytes`); push(decodeLong(take(n))); break; } // LONG4
      case 0x49: { // INT (text)
        const s = line();
        if (s === '00') push(false); else if (s === '01') push(true);
        else { const v = s.length > 24 ? NaN : Number.parseInt(s, 10); if (Number.isNaN(v)) bad(`bad INT ${escapeText(s, 20)}`); push(v); }
        break;
      }
      case 0x4c: { // LONG (text)
        const s = line().replace(/L$/, '');
        if (!/^-?\d+$/.test(s) || s.length > 2.5 * LIMITS.pickleIntBytes) bad(`bad LONG ${escapeText(s, 20)}`);
        const v = BigInt(s);
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x46: { const s = line(); const v = Number.parseFloat(s); if (Number.isNaN(v) && !/nan/i.test(s)) bad(`bad FLOAT ${escapeText(s, 20)}`); push(v); break; } // FLOAT
      case 0x47: { need(8); push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x58: { const n = u32(); push(text(n)); break; } // BINUNICODE
      case 0x8c: { const n = u8(); push(text(n)); break; } // SHORT_BINUNICODE
      case 0x8d: { const n = u64(); push(text(n)); break; } // BINUNICODE8
      case 0x56: push(line()); break; // UNICODE (raw-unicode-escape; ASCII in practice)
      case 0x53: { const s = line().trim(); push(s.slice(1, -1)); break; } // STRING (quoted repr)
      case 0x54: { const n = i32(); if (n < 0) bad('negative BINSTRING length'); push(text(n)); break; } // BINSTRING
      case 0x55: { const n = u8(); push(text(n)); break; } // SHORT_BINSTRING
      case 0x42: { const n = u32(); push(copyBytes(take(n))); break; } // BINBYTES
      case 0x43: { const n = u8(); push(copyBytes(take(n))); break; } // SHORT_BINBYTES
      case 0x8e: { const n = u64(); push(copyBytes(take(n))); break; } // BINBYTES8
      case 0x96: { const n = u64(); push(copyBytes(take(n))); break; } // BYTEARRAY8
      case 0x29: charge(COST.array); push(tuple([])); break; // EMPTY_TUPLE
      case 0x85: charge(COST.array + COST.slot); push(tuple([pop()])); break; // TUPLE1
      case 0x86: { charge(COST.array + 2 * COST.slot); const b = pop(); const a = pop(); push(tuple([a, b])); break; } // TUPLE2
      case 0x87: { charge(COST.array + 3 * COST.slot); const c = pop(); const b = pop(); const a = pop(); push(tuple([a, b, c])); break; } // TUPLE3
      case 0x74: push(tuple(popMark())); break; // TUPLE
      case 0x5d: charge(COST.array); push([]); break; // EMPTY_LIST
      case 0x6c: push(popMark()); break; // LIST
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x7d: charge(COST.map); push(new Map()); break; // EMPTY_DICT
      case 0x64: { const items = popMark(); charge(COST.map); const d = new Map(); setItems(d, items); push(d); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x8f: charge(COST.set); push(new Set()); break; // EMPTY_SET
      case 0x90: { const items = popMark(); const s = top(); if (!(s instanceof Set)) bad('ADDITEMS on a non-set'); charge(COST.entry * items.length); for (const it of items) (s as Set<unknown>).add(it); break; }
      case 0x91: { const items = popMark(); charge(COST.set + COST.entry * items.length); push(new Set(items)); break; } // FROZENSET
      case 0x70: { const idx = Number.parseInt(line(), 10); memoize(idx, top()); break; } // PUT
      case 0x71: memoize(u8(), top()); break; // BINPUT
      case 0x72: memoize(u32(), top()); break; // LONG_BINPUT
      case 0x94: memoize(memoCount, top()); break; // MEMOIZE
      case 0x67: case 0x68: case 0x6a: { // GET, BINGET, LONG_BINGET
        const idx = op === 0x67 ? Number.parseInt(line(), 10) : op === 0x68 ? u8() : u32();
        const v = Number.isSafeInteger(idx) && idx >= 0 ? memoGet(idx) : undefined;
        if (v === undefined) bad(`memo ${idx} is not defined`);
        push(v);
        break;
      }
      case 0x63: { const module = line(); const name = line(); push(resolveGlobal(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') bad('STACK_GLOBAL needs two strings');
        push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const callable = pop(); push(callGlobal(callable, args)); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); push(callGlobal(cls, args)); break; } // NEWOBJ
      case 0x92: { pop(); const args = pop(); const cls = pop(); push(callGlobal(cls, args)); break; } // NEWOBJ_EX (kwargs ignored)
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (isBuildable(obj)) obj.setState(state);
        else if (obj instanceof Map) { /* OrderedDict with attributes such as _metadata: not needed */ }
        else bad('BUILD on an object that takes no state');
        break;
      }
      case 0x50: { // PERSID
        const pid = line();
        if (!opts.persistentLoad) bad('persistent id without a loader');
        push(opts.persistentLoad!(pid));
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) bad('persistent id without a loader');
        push(opts.persistentLoad!(pid));
        break;
      }
      case 0x69: case 0x6f: // INST, OBJ: instantiate arbitrary classes
        fail('security', `${label}: refused: the pickle uses ${op === 0x69 ? 'INST' : 'OBJ'}, which instantiates a class; checkpoints never need it`);
        break;
      case 0x82: case 0x83: case 0x84: // EXT1/2/4: the copyreg extension registry
        fail('security', `${label}: refused: the pickle uses the copyreg extension registry (EXT opcodes)`);
        break;
      case 0x97: case 0x98: bad('out-of-band buffers are not supported'); break; // NEXT_BUFFER, READONLY_BUFFER
      default:
        bad(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}
