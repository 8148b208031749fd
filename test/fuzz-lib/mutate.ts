import type { Rng } from './prng.js';

/**
 * Byte-level mutations, each the kind of damage a file meets in the wild or from an attacker:
 * bit flips, truncation, length fields set huge, zero or negative, chunks duplicated or removed.
 */
export type Mutation = { name: string; apply(bytes: Uint8Array, rng: Rng): Uint8Array };

const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

export const MUTATIONS: Mutation[] = [
  { name: 'bitflip', apply: (b, r) => { const o = new Uint8Array(b); for (let i = 1 + r.int(8); i > 0; i--) { const p = r.int(o.length); o[p] = o[p]! ^ (1 << r.int(8)); } return o; } },
  { name: 'byte', apply: (b, r) => { const o = new Uint8Array(b); o[r.int(o.length)] = r.pick([0, 0xff, 0x7f, 0x80, r.int(256)]); return o; } },
  { name: 'truncate', apply: (b, r) => b.slice(0, r.int(b.length)) },
  { name: 'truncate-tail', apply: (b, r) => b.slice(0, Math.max(0, b.length - 1 - r.int(64))) },
  { name: 'u32', apply: (b, r) => { const o = new Uint8Array(b); if (o.length >= 4) new DataView(o.buffer).setUint32(r.int(o.length - 3), r.pick(INTERESTING_32), true); return o; } },
  { name: 'u64', apply: (b, r) => { const o = new Uint8Array(b); if (o.length >= 8) new DataView(o.buffer).setBigUint64(r.int(o.length - 7), r.pick([0n, 1n, 0xffffffffn, 1n << 40n, (1n << 63n) - 1n, (1n << 64n) - 1n]), true); return o; } },
  { name: 'u16', apply: (b, r) => { const o = new Uint8Array(b); if (o.length >= 2) new DataView(o.buffer).setUint16(r.int(o.length - 1), r.pick([0, 1, 0x7fff, 0xffff]), true); return o; } },
  { name: 'duplicate-chunk', apply: (b, r) => { const s = r.int(b.length); const e = Math.min(b.length, s + 1 + r.int(256)); const p = r.int(b.length); return concat(b.subarray(0, p), b.subarray(s, e), b.subarray(p)); } },
  { name: 'remove-chunk', apply: (b, r) => { const s = r.int(b.length); const e = Math.min(b.length, s + 1 + r.int(256)); return concat(b.subarray(0, s), b.subarray(e)); } },
  { name: 'ascii-digits', apply: (b, r) => { const o = new Uint8Array(b); const p = r.int(o.length); for (let i = p; i < Math.min(o.length, p + 12); i++) o[i] = 0x39; return o; } },
];

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** 1–3 stacked mutations. */
export function mutate(bytes: Uint8Array, rng: Rng): { bytes: Uint8Array; applied: string[] } {
  let b = bytes;
  const applied: string[] = [];
  for (let i = 1 + rng.int(3); i > 0 && b.length > 0; i--) {
    const m = rng.pick(MUTATIONS);
    b = m.apply(b, rng);
    applied.push(m.name);
  }
  return { bytes: b, applied };
}
