import { fail } from './errors.js';

/**
 * Resource limits of the readers and runners. A file from a stranger must not make this tool allocate
 * more than the file justifies, recurse without bound, or spin: each limit below is checked before the
 * work. Every limit can be changed with `--budget NAME=VALUE` (a few also have their own flag); the
 * docs/security.md's limits section lists them.
 */
export const LIMITS = {
  /** entries of one zip (never more than its central directory can hold) */
  zipEntries: 1_000_000,
  /** declared inflated size ÷ compressed size of a deflated zip entry (deflate cannot exceed ~1032:1) */
  zipInflateRatio: 1100,
  /** bytes inflated from one zip archive, all entries together; each entry is inflated at most once */
  zipInflatedBytes: 1024 * 1024 * 1024,
  /** bytes of one pickle (a whole `.pdparams`: its arrays are inside it) */
  pickleBytes: 1024 * 1024 * 1024,
  /** a PyTorch zip's `data.pkl` once inflated (tensors live outside it; BiSeNetV2's is 36–55 KB) */
  dataPklBytes: 16 * 1024 * 1024,
  /**
   * objects the pickle interpreter builds, estimated per allocation (stack slots, marks, memo entries, lists,
   * dicts, tuples, strings, bytes, items moved into containers)…
   */
  pickleMemory: 256 * 1024 * 1024,
  /** …and at most this many times the pickle's own size (torch.save's data.pkl measures 12–14×, a .pdparams 1.1×) */
  pickleMemoryPerByte: 32,
  /** bytes of one pickle integer (LONG1/LONG4/LONG); real checkpoints use ≤ 8 */
  pickleIntBytes: 64,
  /** `{state_dict: {model: …}}` levels of wrapping looked through */
  wrapDepth: 4,
  /** bytes of a safetensors JSON header */
  safetensorsHeader: 100 * 1024 * 1024,
  /** nesting of any JSON read from a file (safetensors headers, model.json, manifests, metadata), checked in one linear pass before parsing */
  jsonDepth: 64,
  /** bytes of a `.npy` header (numpy's own limit); parsed by one linear scan */
  npyHeader: 10_000,
  /** dimensions of any tensor, array or weight read from a file */
  rank: 32,
  /** elements a tensor view may hold beyond its storage (stride-0 or overlapping views), in bytes */
  overlappingViewBytes: 1024 * 1024,
  /**
   * bytes of any input file read whole (checkpoint, `.npy`, shard, image, label map, model), read in pieces;
   * only regular files are read (FIFOs, devices and dangling links are refused). 1 GiB, so that a file and
   * what is built from it stay within the 2 GiB a command may use. Default: 1 GiB (at most 4 GiB − 1, the
   * largest buffer Node holds).
   */
  fileBytes: 1024 * 1024 * 1024,
  /**
   * decoded image width × height; PNG chunks are checked first (one IHDR, first; no APNG frames; interlaced
   * data inflated with the exact bound its header implies). Default: 67,108,864 (8192²).
   */
  imagePixels: 64 * 1024 * 1024,
  /**
   * memory a model held and run may take (`--max-memory`), in every runtime, estimated before it starts: the
   * model held, the input, every intermediate tensor the model's shapes imply at that input size, outputs and
   * their post-processing. Default: a quarter of this machine's memory, at most 1.5 GiB.
   */
  modelMemory: Math.min(1.5 * 1024 ** 3, Math.floor(totalMemory() / 4)),
  /**
   * work of one reference-interpreter run (multiply-accumulates, plus one per value of every other op), checked
   * before it starts: BiSeNetV2 with its booster heads at the golden sets' 96×160 is 1.05·10⁹, 2.8 s of CPU on a
   * 2-core AMD EPYC VM (December 2026), so the default is about 8 s of CPU. Default: 3·10⁹.
   */
  referenceWork: 3e9,
  /** characters of one error message; longer ones are cut, saying how much was left out */
  messageChars: 1000,
};

export type LimitName = keyof typeof LIMITS;

/** `--budget` names: kebab-case of the keys above. */
const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const LIMIT_NAMES: Record<string, LimitName> = Object.fromEntries(Object.keys(LIMITS).map((k) => [kebab(k), k as LimitName]));

const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, kb: 1e3, mb: 1e6, gb: 1e9 };

/** A count or a size: 1000, 1e6, 512MiB, 2GiB, 1.5G. */
export function parseQuantity(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const v = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isFinite(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) fail('usage', `${what}: expected a number such as 1000, 512MiB or 2GiB, got '${text.slice(0, 40)}'`);
  return Math.floor(v);
}

/** Applies one `--budget NAME=VALUE`. */
export function setLimit(assignment: string): void {
  const eq = assignment.indexOf('=');
  const name = eq < 0 ? assignment : assignment.slice(0, eq);
  // Own names only: `constructor`, `__proto__` or `toString` are not limits.
  const key = Object.hasOwn(LIMIT_NAMES, name.trim()) ? LIMIT_NAMES[name.trim()] : undefined;
  if (!key || eq < 0) fail('usage', `--budget ${assignment.slice(0, 60)}: expected NAME=VALUE with NAME one of ${Object.keys(LIMIT_NAMES).join(', ')}`);
  const value = parseQuantity(assignment.slice(eq + 1), `--budget ${name}`);
  if (key === 'fileBytes' && value > MAX_FILE_BYTES) fail('usage', `--budget file-bytes: at most ${MAX_FILE_BYTES} (${formatBytes(MAX_FILE_BYTES)}), the largest file this tool reads whole`);
  LIMITS[key!] = value;
}

/** The largest file read whole, whatever --budget says: a Node buffer holds at most 4 GiB − 1 byte. */
export const MAX_FILE_BYTES = 2 ** 32 - 1;

/** Whole MiB/GiB for messages. */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/**
 * The largest single buffer the readers allocated since the last reset. The fuzzer checks it
 * against the input's size after every case.
 */
let largestAllocation = 0;
export function noteAllocation(bytes: number): void {
  if (bytes > largestAllocation) largestAllocation = bytes;
}
export function resetAllocationWatermark(): number {
  const v = largestAllocation;
  largestAllocation = 0;
  return v;
}

/**
 * The machine's memory, without a static `node:os` import: this module is also loaded by browser pages
 * (through the tfjs loading code they share with Node), where `node:os` does not exist. In Node ≥ 20.16
 * `process.getBuiltinModule` gives it; elsewhere 8 GiB is assumed.
 */
function totalMemory(): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => { totalmem?: () => number } | undefined } }).process;
  return proc?.getBuiltinModule?.('node:os')?.totalmem?.() ?? 8 * 1024 ** 3;
}
