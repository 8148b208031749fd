/**
 * The parity each runtime and precision is held to: one table for verify, eval, doctor, gpu-check and serve.
 * A runtime's class (cpu, gpu) comes from the registry (src/runtime/catalog.ts).
 */
import { RUNTIMES } from '../runtime/index.js';
import { DEFAULT_TOLERANCE, type Tolerance } from './compare.js';

/**
 * GPU arithmetic (other summation orders, fused multiply-adds, fast-math shaders, WebGL textures) is
 * held to max |Δ| ≤ 1e-3 × max |ref| and 99.9 % label agreement; CPU and wasm runtimes (in Node or in
 * the browser) to the verify defaults, 1e-4 and 99.99 %.
 */
export const GPU_TOLERANCE: Tolerance = { rel: 1e-3, minAgreement: 0.999 };
const TOLERANCE_CLASSES = { cpu: DEFAULT_TOLERANCE, gpu: GPU_TOLERANCE };

/** The parity each runtime is held to, from its class in the registry: doctor, gpu-check, and verify unless --tolerance/--min-agreement are given. */
export const TOLERANCES: Record<string, Tolerance> = Object.fromEntries(RUNTIMES.map((r) => [r.id, TOLERANCE_CLASSES[r.tolerance]]));
export const toleranceFor = (id: string): Tolerance => TOLERANCES[id] ?? DEFAULT_TOLERANCE;

/**
 * Reduced-precision models (convert --precision) against float32 goldens: labels are what they must keep
 * (fp16 ≥ 99.9 %, int8 ≥ 99 %); their logits are bounded loosely, from what was measured on the trained
 * model (max|Δ| / max|ref|: fp16 5.6e-4, int8 0.13 on three held-out images; docs/precision.md).
 */
export const PRECISION_TOLERANCE: Record<'fp16' | 'int8', Tolerance> = { fp16: { rel: 1e-2, minAgreement: 0.999 }, int8: { rel: 0.25, minAgreement: 0.99 } };
/** int8 models: the largest mIoU drop eval allows by default (float models: 0.1). */
export const INT8_MIOU_DROP = 0.5;

/** The tolerance a model is held to on a runtime: the runtime's class, loosened to its recorded precision's. */
export function toleranceForModel(runtimeId: string, precision: 'fp32' | 'fp16' | 'int8' | null): Tolerance {
  const own = toleranceFor(runtimeId);
  if (precision !== 'fp16' && precision !== 'int8') return own;
  const p = PRECISION_TOLERANCE[precision];
  return { rel: Math.max(own.rel, p.rel), minAgreement: Math.min(own.minAgreement, p.minAgreement) };
}

