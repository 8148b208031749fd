/**
 * The IR a model file was emitted from, rebuilt from what the file records about itself (family,
 * class count and output names in ONNX metadata_props or tfjs userDefinedMetadata), and the rule
 * that tells which IR tensor each of the file's named tensors holds.
 */
import type { Graph } from '../ir/graph.js';
import { bisenetv2, VARIANTS, type Family } from '../models/bisenetv2.js';
import { modelKind, readModelFile, type ModelFile } from './index.js';
import { fail } from '../util/errors.js';

interface Recorded { family: unknown; numClasses: unknown; outputs: string[] }

function fromRecorded(r: Recorded): Graph | null {
  const family = typeof r.family === 'string' && r.family in VARIANTS ? (r.family as Family) : null;
  const n = Number(r.numClasses);
  if (!family || !Number.isInteger(n) || n < 1 || n > 1_000_000) return null;
  return bisenetv2({ numClasses: n, family, aux: r.outputs.includes('aux2'), labels: r.outputs.includes('labels') });
}

/**
 * The IR of a converted model (ONNX, tfjs, TFLite), or null where the file does not record its family and
 * class count. The kind is the model-file room's (by the bytes, else the name); anything else is read
 * as a tfjs model.json and refused as one.
 */
export function modelGraph(modelPath: string): Graph | null {
  const k = modelKind(modelPath);
  return graphOf(readModelFile(modelPath, k === 'onnx' || k === 'tflite' ? k : 'tfjs'));
}

/** The IR a model file records. */
export function graphOf(m: ModelFile): Graph | null {
  if (m.kind === 'tfjs' && !m.json.modelTopology) fail('format', `${m.file}: not a TensorFlow.js model.json (no modelTopology)`);
  return fromRecorded({ family: m.recorded.family, numClasses: m.recorded.num_classes, outputs: m.outputs });
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
