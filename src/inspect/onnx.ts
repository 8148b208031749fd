/** The ONNX reader of `bisenet inspect`: the ModelProto as decoded, nothing run. */
import type * as fs from 'node:fs';
import { modelKind, readModelFile, type OnnxProto } from '../model-file/index.js';
import { fail } from '../util/errors.js';
import type { Dim, ModelReader, ModelSummary, TensorSummary } from './summary.js';

type Proto = OnnxProto.onnx.ModelProto;

/** TensorProto.DataType → name and bytes per element. */
const DTYPES: Record<number, [string, number]> = {
  1: ['float32', 4], 2: ['uint8', 1], 3: ['int8', 1], 4: ['uint16', 2], 5: ['int16', 2], 6: ['int32', 4], 7: ['int64', 8], 8: ['string', 0],
  9: ['bool', 1], 10: ['float16', 2], 11: ['float64', 8], 12: ['uint32', 4], 13: ['uint64', 8], 14: ['complex64', 8], 15: ['complex128', 16], 16: ['bfloat16', 2],
};
const dtypeName = (t: number | null | undefined): string => DTYPES[t ?? 0]?.[0] ?? `type ${t ?? '?'}`;

/** protobufjs gives int64 fields as Long objects or numbers. */
const toNum = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'object' && v !== null && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : Number(v));

function tensorOf(v: OnnxProto.onnx.IValueInfoProto): TensorSummary {
  const tt = v.type?.tensorType;
  const dims = tt?.shape?.dim;
  const shape: Dim[] | null = dims ? dims.map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? toNum(d.dimValue) : null)) : null;
  return { name: v.name ?? '', dtype: tt ? dtypeName(tt.elemType) : 'not a tensor', shape };
}

function summarize(m: Proto, file: string): Omit<ModelSummary, 'recorded'> {
  const g = m.graph;
  if (!g) fail('format', `${file}: not an ONNX model (no graph in it)`);
  const inits = new Set((g!.initializer ?? []).map((t) => t.name ?? ''));
  const ops = new Map<string, number>();
  for (const n of g!.node ?? []) { const k = n.domain ? `${n.domain}.${n.opType ?? '?'}` : n.opType ?? '?'; ops.set(k, (ops.get(k) ?? 0) + 1); }
  const dtypes: Record<string, number> = {};
  let bytes = 0;
  for (const t of g!.initializer ?? []) {
    const d = DTYPES[t.dataType ?? 0];
    const name = d?.[0] ?? `type ${t.dataType}`;
    dtypes[name] = (dtypes[name] ?? 0) + 1;
    // Bytes from the declared shape (nothing allocated; a hostile shape is only a large number).
    bytes += (d?.[1] ?? 0) * (t.dims ?? []).reduce<number>((a, x) => a * toNum(x), 1);
  }
  const producer = [m.producerName, m.producerVersion].filter(Boolean).join(' ') || null;
  return {
    file, kind: 'onnx', format: `ONNX IR version ${toNum(m.irVersion ?? 0)}`,
    opsets: (m.opsetImport ?? []).map((o) => ({ domain: o.domain || 'ai.onnx', version: toNum(o.version ?? 0) })),
    producer,
    // Graph inputs that are initializers are weights (IR < 4 lists them as inputs), not inputs.
    inputs: (g!.input ?? []).filter((v) => !inits.has(v.name ?? '')).map(tensorOf),
    outputs: (g!.output ?? []).map(tensorOf),
    ops: [...ops].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || a.op.localeCompare(b.op)),
    weights: { tensors: g!.initializer?.length ?? 0, bytes, dtypes },
    metadata: Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
  };
}

export const ONNX_READER: ModelReader = {
  kind: 'onnx',
  describe: '.onnx file',
  accepts: (file: string, st: fs.Stats) => st.isFile() && modelKind(file) === 'onnx',
  read(file) {
    return summarize(readModelFile(file, 'onnx').model, file);
  },
};
