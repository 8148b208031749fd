/**
 * Builds, from the upstream checkpoint, torch.save-style zips that stand in for the golden sets no longer committed
 * (171 classes in bfloat16; `{state_dict: {module.*}, meta}` with non-contiguous float16 views), with the exact
 * values the port must yield for each key.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { PickleWriter, torchTensor } from '../fuzz-lib/pickle-writer.js';
import { makeZip } from '../fuzz-lib/zip-writer.js';
import { fixture, UPSTREAM } from './paths.js';

type Half = 'float16' | 'bfloat16';
const STORAGE_TYPE: Record<Half | 'int64', string> = { float16: 'HalfStorage', bfloat16: 'BFloat16Storage', int64: 'LongStorage' };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → bfloat16 bits, round to nearest even (what torch's `.to(torch.bfloat16)` does). */
function bfloat16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

/** float32 → IEEE half bits, round to nearest even, subnormals included (written here, not the project's encoder). */
function float16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127;
  const mant = u & 0x7fffff;
  if (exp > 15) throw new Error(`${x} overflows float16`);
  let shift: number;
  let h: number;
  if (exp >= -14) {
    shift = 13;
    h = ((exp + 15) << 10) | (mant >>> 13);
  } else {
    if (exp < -25) return sign;
    shift = -1 - exp; // half subnormals count units of 2^-24
    h = (mant | 0x800000) >>> shift;
  }
  const rem = (exp >= -14 ? mant : mant | 0x800000) & ((1 << shift) - 1);
  const mid = 1 << (shift - 1);
  if (rem > mid || (rem === mid && (h & 1))) h++; // a carry into the exponent is the right result
  return sign | h;
}

/**
 * The value `x` takes once stored as `dtype`, computed arithmetically (a multiple of the type's quantum at x's
 * exponent, ties to even) rather than from bit patterns, so it checks the encoders above and the reader's decoding.
 */
export function roundedTo(x: number, dtype: Half): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const [mantBits, minExp] = dtype === 'float16' ? [10, -14] : [7, -126];
  f32[0] = x;
  const e = Math.max(((u32[0]! >>> 23) & 0xff) - 127, minExp);
  const q = 2 ** (e - mantBits);
  const r = x / q; // exact: x is a float32 and q a power of two
  let n = Math.floor(r);
  const frac = r - n;
  if (frac > 0.5 || (frac === 0.5 && n % 2 !== 0)) n++;
  return n === 0 ? (x < 0 ? -0 : 0) : Math.fround(n * q);
}

/** One tensor of the pickle: a view (offset, size, stride) on a storage. */
interface View { key: string; dtype: Half | 'int64'; storage: string; offset: number; size: number[]; stride: number[] }

export interface SynthCheckpoint {
  file: string;
  /** Key (as the porter sees it, without `module.`) → the float32 values the port must give, bit for bit. */
  expected: Map<string, Float32Array>;
  /** Number of tensors in the file. */
  tensorCount: number;
}

const contiguous = (shape: number[]): number[] => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

/** Writes storages and views as torch.save does: `<top>/data.pkl`, `<top>/data/<n>`, `<top>/version`. */
function writeTorchZip(file: string, top: string, views: View[], storages: Map<string, Uint8Array>, wrap: 'bare' | 'state_dict+module'): void {
  const numelOf = (v: View): number => storages.get(v.storage)!.length / (v.dtype === 'int64' ? 8 : 2);
  const w = new PickleWriter();
  if (wrap !== 'bare') w.emptyDict().mark().str('state_dict');
  w.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const v of views) {
    w.str(wrap === 'bare' ? v.key : `module.${v.key}`);
    torchTensor(w, STORAGE_TYPE[v.dtype], v.storage, numelOf(v), v.offset, v.size, v.stride);
  }
  w.setitems();
  if (wrap !== 'bare') w.str('meta').emptyDict().mark().str('epoch').int(12).str('note').str('wrapped like a DataParallel training checkpoint').setitems().setitems();
  fs.writeFileSync(file, makeZip([
    { name: `${top}/data.pkl`, data: w.stop() },
    ...[...storages].map(([k, data]) => ({ name: `${top}/data/${k}`, data })),
    { name: `${top}/version`, data: Buffer.from('3\n') },
  ]));
}

interface Source { key: string; shape: number[]; data: Float32Array | BigInt64Array }

let upstreamCache: Source[] | undefined;
/** The upstream checkpoint's tensors, in file order (float32 weights, int64 BatchNorm counters). */
function upstream(): Source[] {
  upstreamCache ??= [...loadCheckpoint(fixture(UPSTREAM, 'model.pth')).tensors.values()].map((t) => {
    const a = t.load();
    return { key: t.name, shape: t.shape, data: a.data as Float32Array | BigInt64Array };
  });
  return upstreamCache;
}

/** Builds the storages and views of a checkpoint from `sources`; `layout` may lay a key out as a non-contiguous view. */
function build(sources: Source[], dtype: Half, layout: (s: Source, bits: Uint16Array) => { storage: Uint16Array; offset: number; stride: number[] } | 'paired' | undefined) {
  const encode = dtype === 'float16' ? float16Bits : bfloat16Bits;
  const views: View[] = [];
  const storages = new Map<string, Uint8Array>();
  const expected = new Map<string, Float32Array>();
  const paired = new Map<string, Source>();
  const add = (bytes: Uint8Array): string => { const k = String(storages.size); storages.set(k, bytes); return k; };
  for (const s of sources) {
    if (s.data instanceof BigInt64Array) {
      views.push({ key: s.key, dtype: 'int64', storage: add(new Uint8Array(s.data.slice().buffer)), offset: 0, size: s.shape, stride: [] });
      continue;
    }
    expected.set(s.key, Float32Array.from(s.data, (x) => roundedTo(x, dtype)));
    const bits = Uint16Array.from(s.data, encode);
    const custom = layout(s, bits);
    if (custom === 'paired') { paired.set(s.key, s); continue; }
    const { storage, offset, stride } = custom ?? { storage: bits, offset: 0, stride: contiguous(s.shape) };
    views.push({ key: s.key, dtype, storage: add(new Uint8Array(storage.buffer)), offset, size: s.shape, stride });
  }
  return { views, storages, expected, paired, encode, add };
}

/**
 * The old `coincheung-bisenetv2-n19-wrapped-views` set, rebuilt: every upstream key (booster heads included) as
 * float16 under `{state_dict: {module.<key>}, meta}`, zip top folder `bisenet_dp_wrapped.pth` (a dot in it, as a
 * `*.pth.tar` file has), and views as torch.save keeps them: `detail.S1.0.conv.weight` stored permuted and viewed
 * back through strides, `head.conv_out.1.weight` at storage offset 100, `bga.conv.1.weight` and `.bias` interleaved
 * in one storage (offsets 0 and 1, stride 2).
 */
export function wrappedViewsCheckpoint(dir: string): SynthCheckpoint {
  const sources = upstream();
  const { views, storages, expected, paired, encode, add } = build(sources, 'float16', (s, bits) => {
    if (s.key === 'detail.S1.0.conv.weight') {
      const [o, i, kh, kw] = s.shape as [number, number, number, number];
      const st = new Uint16Array(bits.length); // laid out [in, out, kh, kw]
      for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let k = 0; k < kh * kw; k++) st[(b * o + a) * kh * kw + k] = bits[(a * i + b) * kh * kw + k]!;
      return { storage: st, offset: 0, stride: [kh * kw, o * kh * kw, kw, 1] };
    }
    if (s.key === 'head.conv_out.1.weight') {
      const st = new Uint16Array(100 + bits.length);
      st.set(bits, 100);
      return { storage: st, offset: 100, stride: contiguous(s.shape) };
    }
    return s.key === 'bga.conv.1.weight' || s.key === 'bga.conv.1.bias' ? 'paired' : undefined;
  });
  const [wt, b] = [paired.get('bga.conv.1.weight')!, paired.get('bga.conv.1.bias')!];
  const pair = new Uint16Array(2 * wt.data.length);
  wt.data.forEach((x, c) => { pair[2 * c] = encode(x as number); pair[2 * c + 1] = encode(b.data[c] as number); });
  const key = add(new Uint8Array(pair.buffer));
  views.push({ key: wt.key, dtype: 'float16', storage: key, offset: 0, size: wt.shape, stride: [2] });
  views.push({ key: b.key, dtype: 'float16', storage: key, offset: 1, size: b.shape, stride: [2] });
  const file = path.join(dir, 'bisenet_dp_wrapped.pth');
  writeTorchZip(file, 'bisenet_dp_wrapped.pth', views, storages, 'state_dict+module');
  return { file, expected, tensorCount: views.length };
}

export const COCO_STUFF_CLASSES = 171;

/**
 * The old `coincheung-bisenetv2-n171-b2` set, rebuilt: a bare state dict without booster heads, every float tensor in
 * bfloat16, and a 171-class classifier whose rows (and biases) repeat the upstream 19 cyclically.
 */
export function coco171Checkpoint(dir: string): SynthCheckpoint {
  const sources = upstream().filter((s) => !/^aux/.test(s.key)).map((s): Source => {
    if (!/^head\.conv_out\.1\./.test(s.key)) return s;
    const [n, ...rest] = s.shape as [number, ...number[]];
    const row = s.data.length / n;
    const data = new Float32Array(COCO_STUFF_CLASSES * row);
    for (let c = 0; c < COCO_STUFF_CLASSES; c++) data.set((s.data as Float32Array).subarray((c % n) * row, (c % n + 1) * row), c * row);
    return { key: s.key, shape: [COCO_STUFF_CLASSES, ...rest], data };
  });
  const { views, storages, expected } = build(sources, 'bfloat16', () => undefined);
  const file = path.join(dir, 'coco171.pth');
  writeTorchZip(file, 'model', views, storages, 'bare');
  return { file, expected, tensorCount: views.length };
}
