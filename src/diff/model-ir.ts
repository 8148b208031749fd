/**
 * The IR a model file was emitted from, rebuilt from what the file records about itself (family,
 * class count and output names in ONNX metadata_props or tfjs userDefinedMetadata), and the rule
 * that tells which IR tensor each of the file's named tensors holds.
 */
import { checkTflite } from '../model-check/tflite.js';
import onnxProto from 'onnx-proto';
import type { Graph } from '../ir/graph.js';
import { bisenetv2, VARIANTS, type Family } from '../models/bisenetv2.js';
import { readModelJson } from '../runtime/tfjs.js';
import { causeText, fail } from '../util/errors.js';
import { readFileChecked } from '../util/fs.js';

interface Recorded { family: unknown; numClasses: unknown; outputs: string[] }

function fromRecorded(r: Recorded): Graph | null {
  const family = typeof r.family === 'string' && r.family in VARIANTS ? (r.family as Family) : null;
  const n = Number(r.numClasses);
  if (!family || !Number.isInteger(n) || n < 1 || n > 1_000_000) return null;
  return bisenetv2({ numClasses: n, family, aux: r.outputs.includes('aux2'), labels: r.outputs.includes('labels') });
}

/** The IR of an .onnx file or a tfjs model, or null where the file does not record its family and class count. */
export function modelGraph(modelPath: string, isOnnx: boolean): Graph | null {
  if (isOnnx) {
    let m: onnxProto.onnx.ModelProto;
    try { m = onnxProto.onnx.ModelProto.decode(readFileChecked(modelPath, 'ONNX model')); } catch (e) {
      if ((e as { name?: string }).name === 'BisenetError') throw e;
      return fail('format', `${modelPath}: not an ONNX model (${causeText(e)})`);
    }
    const meta = new Map((m.metadataProps ?? []).map((p) => [p.key, p.value]));
    return fromRecorded({ family: meta.get('family'), numClasses: meta.get('num_classes'), outputs: (m.graph?.output ?? []).map((o) => o.name ?? '') });
  }
  if (modelPath.toLowerCase().endsWith('.tflite')) {
    const info = checkTflite(readFileChecked(modelPath, 'TFLite model'), modelPath);
    return fromRecorded({ family: info.metadata.family, numClasses: info.metadata.num_classes, outputs: info.outputs.map((o) => o.name) });
  }
  const { json } = readModelJson(modelPath);
  const meta = json.userDefinedMetadata?.bisenet as { family?: unknown; num_classes?: unknown; outputs?: unknown } | undefined;
  if (!meta || typeof meta !== 'object') return null;
  const outputs = Array.isArray(meta.outputs) ? meta.outputs.filter((o): o is string => typeof o === 'string') : [];
  return fromRecorded({ family: meta.family, numClasses: meta.num_classes, outputs });
}

/** Where one side holds each IR tensor. */
export interface Holding {
  /** IR tensor → the side's tensor holding exactly its value */
  holder: Map<string, string>;
  /** IR tensors whose value the side never materializes because a later node absorbed them (folded, fused) */
  absorbed: Set<string>;
}

/**
 * Which of the side's tensors holds which IR tensor. A reference side holds every IR tensor under
 * its own name. A model side holds an IR tensor under its name where the file has that name;
 * where it lacks the name of a BatchNorm or a ReLU whose input (held by some tensor T) feeds
 * nothing else, T holds that node's value instead: BatchNorm folded into the conv, a ReLU fused
 * into it (tfjs), or one removed from the file. The rule reads only names, never shapes.
 */
export function holdings(graph: Graph, names: ReadonlySet<string> | 'all'): Holding {
  const holder = new Map<string, string>();
  const absorbed = new Set<string>();
  holder.set(graph.input.name, graph.input.name);
  const consumers = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  for (const o of graph.outputs) consumers.set(o.tensor, (consumers.get(o.tensor) ?? 0) + 1);
  for (const n of graph.nodes) {
    if (n.attrs.op === 'argmax') continue;
    if (names === 'all' || names.has(n.name)) { holder.set(n.name, n.name); continue; }
    const src = n.inputs[0]!;
    const absorbable = (n.attrs.op === 'batchnorm' || n.attrs.op === 'relu') && n.inputs.length === 1 && holder.has(src) && src !== graph.input.name && consumers.get(src) === 1;
    if (!absorbable) continue;
    holder.set(n.name, holder.get(src)!);
    holder.delete(src);
    absorbed.add(src);
  }
  return { holder, absorbed };
}
