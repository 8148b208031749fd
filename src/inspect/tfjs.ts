/** The TensorFlow.js reader of `bisenet inspect`: model.json as written (graph or layers model), nothing loaded. */
import type * as fs from 'node:fs';
import { modelKind } from '../model-file/kind.js';
import { readModelJson } from '../model-file/tfjs.js';
import { fail } from '../util/errors.js';
import type { Dim, ModelReader, ModelSummary, TensorSummary } from './summary.js';

/** TensorFlow DataType names (graph-model signatures) → ours. */
const TF_DTYPES: Record<string, string> = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_INT64: 'int64', DT_HALF: 'float16', DT_BOOL: 'bool', DT_UINT8: 'uint8', DT_DOUBLE: 'float64' };
const BYTES: Record<string, number> = { float32: 4, int32: 4, float16: 2, uint8: 1, uint16: 2, bool: 1, int64: 8 };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));

/** A graph-model signature entry: `{ name: 'input:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, …] } }`. */
function signatureTensor(key: string, v: unknown): TensorSummary {
  const e = isObj(v) ? v : {};
  const dims = isObj(e.tensorShape) && Array.isArray(e.tensorShape.dim) ? e.tensorShape.dim : null;
  const shape: Dim[] | null = dims ? dims.map((d) => { const n = Number(isObj(d) ? d.size : NaN); return Number.isFinite(n) && n >= 0 ? n : null; }) : null;
  return { name: key, dtype: typeof e.dtype === 'string' ? TF_DTYPES[e.dtype] ?? e.dtype : '?', shape };
}

function countOps(list: unknown[], key: (x: Record<string, unknown>) => unknown): { op: string; count: number }[] {
  const ops = new Map<string, number>();
  for (const x of list) if (isObj(x)) { const k = str(key(x) ?? '?'); ops.set(k, (ops.get(k) ?? 0) + 1); }
  return [...ops].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || a.op.localeCompare(b.op));
}

export const TFJS_READER: ModelReader = {
  kind: 'tfjs',
  describe: 'TensorFlow.js model directory or its model.json',
  accepts: (file: string, st: fs.Stats) => (st.isDirectory() || st.isFile()) && modelKind(file) === 'tfjs',
  read(path): Omit<ModelSummary, 'recorded'> {
    const { file, json } = readModelJson(path);
    const topo = isObj(json.modelTopology) ? json.modelTopology : {};
    const layers = json.format === 'layers-model' || 'class_name' in topo;
    let inputs: TensorSummary[];
    let outputs: TensorSummary[];
    let ops: { op: string; count: number }[];
    if (layers) {
      const config = isObj(topo.config) ? topo.config : {};
      const all = Array.isArray(config.layers) ? config.layers : [];
      const byName = new Map(all.filter(isObj).map((l) => [str(l.name), l]));
      const names = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (Array.isArray(x) ? str(x[0]) : str(x))) : []);
      inputs = names(config.input_layers).map((n) => {
        const c = isObj(byName.get(n)?.config) ? byName.get(n)!.config as Record<string, unknown> : {};
        const shape = Array.isArray(c.batch_input_shape) ? c.batch_input_shape.map((d) => (typeof d === 'number' ? d : null)) : null;
        return { name: n, dtype: typeof c.dtype === 'string' ? c.dtype : 'float32', shape };
      });
      // A layers model records no output shapes or dtypes (tfjs infers them when it builds the model).
      outputs = names(config.output_layers).map((n) => ({ name: n, dtype: '?', shape: null }));
      ops = countOps(all, (l) => l.class_name);
    } else {
      const sig = isObj(json.signature) ? json.signature : {};
      inputs = Object.entries(isObj(sig.inputs) ? sig.inputs : {}).map(([k, v]) => signatureTensor(k, v));
      outputs = Object.entries(isObj(sig.outputs) ? sig.outputs : {}).map(([k, v]) => signatureTensor(k, v));
      ops = countOps(Array.isArray(topo.node) ? topo.node : [], (n) => n.op);
    }
    if (!Array.isArray(json.weightsManifest)) fail('format', `${file}: no weightsManifest`);
    const dtypes: Record<string, number> = {};
    let tensors = 0;
    let bytes = 0;
    for (const group of json.weightsManifest!) {
      for (const w of Array.isArray(group?.weights) ? group.weights : []) {
        const q = isObj(w.quantization) && typeof w.quantization.dtype === 'string' ? w.quantization.dtype : null;
        const d = q ? `${q} (${w.dtype})` : str(w.dtype);
        dtypes[d] = (dtypes[d] ?? 0) + 1;
        tensors++;
        bytes += (BYTES[q ?? str(w.dtype)] ?? 0) * (Array.isArray(w.shape) ? w.shape.reduce<number>((a, x) => a * Number(x), 1) : 0);
      }
    }
    const meta = isObj(json.userDefinedMetadata) && isObj(json.userDefinedMetadata.bisenet) ? json.userDefinedMetadata.bisenet : {};
    const producer = [json.generatedBy, json.convertedBy].filter((x) => typeof x === 'string' && x).map(String);
    return {
      file: path, kind: layers ? 'tfjs-layers' : 'tfjs-graph',
      format: `TensorFlow.js ${layers ? 'layers-model' : 'graph-model'}${isObj(topo.versions) && topo.versions.producer !== undefined ? `, graph versions producer ${str(topo.versions.producer)}` : ''}${typeof topo.keras_version === 'string' ? `, keras ${topo.keras_version}` : ''}`,
      opsets: null,
      producer: producer.length ? (producer[0] === producer[1] ? producer[0]! : `generated by ${producer[0]}${producer[1] ? `, converted by ${producer[1]}` : ''}`) : null,
      inputs, outputs, ops,
      weights: { tensors, bytes, dtypes },
      metadata: Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, str(v)])),
    };
  },
};
