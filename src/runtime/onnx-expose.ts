/**
 * Exposes intermediate tensors of any ONNX model as extra graph outputs (as Polygraphy marks
 * tensors), so that an onnxruntime session returns them beside the real outputs. Only the model
 * file is read: element types come from a small forward pass over the graph (initializers' types,
 * Shape/ArgMax give int64, Cast its `to`, every other op its first input's type), never from
 * tensor shapes.
 */
import { decodeOnnx, encodeOnnx, ONNX_DATA_TYPE, type OnnxProto } from '../model-file/onnx.js';
import { fail } from '../util/errors.js';

const FLOAT = ONNX_DATA_TYPE.FLOAT;
const INT64 = ONNX_DATA_TYPE.INT64;

/** Element type of every tensor the graph names, as far as the forward pass can tell. */
function elementTypes(graph: OnnxProto.onnx.IGraphProto): Map<string, number> {
  const types = new Map<string, number>();
  for (const i of graph.input ?? []) types.set(i.name!, i.type?.tensorType?.elemType ?? 0);
  for (const t of graph.initializer ?? []) types.set(t.name!, t.dataType ?? 0);
  for (const n of graph.node ?? []) {
    let t: number;
    if (n.opType === 'Shape' || n.opType === 'ArgMax' || n.opType === 'ArgMin') t = INT64;
    else if (n.opType === 'Cast') t = Number(n.attribute?.find((a) => a.name === 'to')?.i ?? 0);
    else t = types.get(n.input?.[0] ?? '') ?? 0;
    for (const o of n.output ?? []) if (o) types.set(o, t);
  }
  return types;
}

/**
 * The model with the asked float tensors (or all float node outputs) added as graph outputs, and
 * the names that were added or already were outputs. Names the model lacks are left out; the
 * caller sees which from `exposed`.
 */
export function exposeOnnxTensors(bytes: Uint8Array, names: 'all' | string[], label: string): { bytes: Uint8Array; exposed: string[]; outputs: string[] } {
  const model = decodeOnnx(bytes, label);
  const graph = model.graph;
  if (!graph) fail('format', `${label}: the ONNX model has no graph`);
  const types = elementTypes(graph!);
  const produced = (graph!.node ?? []).flatMap((n) => n.output ?? []).filter((o) => o);
  const wanted = names === 'all' ? produced : names.filter((n) => produced.includes(n));
  const original = (graph!.output ?? []).map((o) => o.name!);
  const outputs = new Set(original);
  const exposed: string[] = [];
  for (const name of new Set(wanted)) {
    if (types.get(name) !== FLOAT) continue;
    exposed.push(name);
    if (outputs.has(name)) continue;
    (graph!.output ??= []).push({ name, type: { tensorType: { elemType: FLOAT } } });
  }
  return { bytes: encodeOnnx(model), exposed, outputs: original };
}
