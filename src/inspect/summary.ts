/** The shape of `bisenet inspect`'s model summary, which every model reader returns (./inspect.ts). */
import type * as fs from 'node:fs';
import type { RecordedMetadata } from '../model-file/index.js';

/** A dimension: a size, a symbolic name (ONNX dim_param), or null where the model leaves it open. */
export type Dim = number | string | null;

export interface TensorSummary { name: string; dtype: string; shape: Dim[] | null }

export interface ModelSummary {
  file: string;
  /** onnx, tfjs-graph, tfjs-layers (tflite where its reader is listed) */
  kind: string;
  /** the container format and its versions, e.g. `ONNX IR version 8` */
  format: string;
  /** operator sets the model imports (ONNX: domain and version; others: null) */
  opsets: { domain: string; version: number }[] | null;
  /** who wrote the file, as the file says (ONNX producer_name/version, tfjs generatedBy/convertedBy) */
  producer: string | null;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  /** operators (or layers) by type, most frequent first */
  ops: { op: string; count: number }[];
  /** the weights: tensors, bytes and how many of each dtype */
  weights: { tensors: number; bytes: number; dtypes: Record<string, number> };
  /** what the model records (checked against the schema: src/model-file/metadata.ts) */
  recorded: RecordedMetadata;
  /** every recorded metadata entry as a string (ONNX metadata_props, tfjs userDefinedMetadata.bisenet) */
  metadata: Record<string, string>;
}

export interface ModelReader {
  kind: string;
  /** what the CLI help lists, e.g. `.onnx file` */
  describe: string;
  accepts(file: string, st: fs.Stats): boolean;
  /** Reads the file (budgets checked by the readers it uses); bad input fails with a BisenetError. */
  read(file: string): Omit<ModelSummary, 'recorded'>;
}

