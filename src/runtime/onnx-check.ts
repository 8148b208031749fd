import onnxProto from 'onnx-proto';
import { fail } from '../util/errors.js';
import { formatBytes, LIMITS } from '../util/limits.js';
import { render } from '../util/render.js';

/**
 * Ops whose output size is set by constants in an ONNX model (Tile repeats, Resize/Upsample scales,
 * Expand and ConstantOfShape shapes) are bounded before onnxruntime builds a session: a model with a
 * Tile of 10⁶ repeats would otherwise allocate gigabytes at its first run. BiSeNetV2 resizes by at most
 * 32×32 per op and uses no Tile, Expand or ConstantOfShape. A factor that cannot be read statically
 * (computed at run time) is refused for Tile; for Resize it is bounded by its `sizes`, which our
 * models compute from the input's own shape.
 */
export const MAX_AMPLIFICATION = 32 * 32;

type Tensor = onnxProto.onnx.ITensorProto;

function values(t: Tensor | undefined): number[] | null {
  if (!t) return null;
  const n = (t.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
  if (n > 64) return null;
  if (t.int64Data?.length) return t.int64Data.map(Number);
  if (t.floatData?.length) return [...t.floatData];
  if (t.int32Data?.length) return [...t.int32Data];
  const raw = t.rawData;
  if (!raw || raw.length === 0) return [];
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  if (t.dataType === 7) for (let i = 0; i + 8 <= raw.length; i += 8) out.push(Number(dv.getBigInt64(i, true)));
  else if (t.dataType === 1) for (let i = 0; i + 4 <= raw.length; i += 4) out.push(dv.getFloat32(i, true));
  else if (t.dataType === 6) for (let i = 0; i + 4 <= raw.length; i += 4) out.push(dv.getInt32(i, true));
  else return null;
  return out;
}

export function checkOnnxAmplification(bytes: Uint8Array, label: string): void {
  let model: onnxProto.onnx.ModelProto;
  try { model = onnxProto.onnx.ModelProto.decode(bytes); } catch { return; } // onnxruntime reports what is wrong with it
  const graph = model.graph;
  if (!graph) return;
  const consts = new Map<string, Tensor>();
  for (const t of graph.initializer ?? []) if (t.name) consts.set(t.name, t);
  for (const n of graph.node ?? []) {
    if (n.opType === 'Constant') {
      const v = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
      if (v && n.output?.[0]) consts.set(n.output[0], v);
    }
  }
  const product = (v: number[]): number => v.reduce((a, b) => a * (Number.isFinite(b) ? Math.abs(b) : Infinity), 1);
  const refuse = (n: onnxProto.onnx.INodeProto, why: string): never =>
    fail('security', `${label}: node ${render(n.name ?? '')} (${render(n.opType ?? '')}) ${why}; refused before running (the model would need unbounded memory)`);
  for (const n of graph.node ?? []) {
    const input = (i: number): number[] | null => values(consts.get(n.input?.[i] ?? ''));
    switch (n.opType) {
      case 'Tile': {
        const reps = input(1);
        if (!reps) refuse(n, 'has repeats computed at run time');
        if (product(reps!) > MAX_AMPLIFICATION) refuse(n, `repeats its input ${render(reps)} times`);
        break;
      }
      case 'Resize': case 'Upsample': {
        const scales = input(n.opType === 'Upsample' ? 1 : 2) ?? (n.attribute ?? []).find((a) => a.name === 'scales')?.floats ?? null;
        if (scales && scales.length && product([...scales]) > MAX_AMPLIFICATION) refuse(n, `scales its input by ${render([...scales])}`);
        break;
      }
      case 'Expand': case 'ConstantOfShape': {
        const shape = input(n.opType === 'Expand' ? 1 : 0);
        if (shape && 4 * product(shape) > LIMITS.modelMemory) refuse(n, `makes a tensor of shape ${render(shape)} (${formatBytes(4 * product(shape))})`);
        break;
      }
      default:
    }
  }
}
