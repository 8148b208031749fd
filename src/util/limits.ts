/**
 * Resource limits of the readers. A file from a stranger must not make this tool allocate more than
 * the file justifies, recurse without bound, or spin: each limit below is checked before the work.
 * (Documented in the README's security section.)
 */
export const LIMITS = {
  /** zip: entries in one archive (torch.save writes one per storage, a few hundred for BiSeNetV2) */
  zipEntries: 1_000_000,
  /** zip: largest inflate ratio accepted for a deflated entry (deflate cannot exceed ~1032:1) */
  zipInflateRatio: 1100,
  /** pickle: items on the stack and memo together */
  pickleItems: 50_000_000,
  /** pickle: bytes of one integer (LONG1/LONG4/LONG); real checkpoints use ≤ 8 */
  pickleIntBytes: 64,
  /** state dict: levels of {state_dict: {model: …}} wrapping looked through */
  wrapDepth: 4,
  /** safetensors: header bytes */
  safetensorsHeader: 100 * 1024 * 1024,
  /** tensor views: elements beyond their storage (stride-0 / overlapping views) only up to this many bytes */
  overlappingViewBytes: 1024 * 1024,
} as const;

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
