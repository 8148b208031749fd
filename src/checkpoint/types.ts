import type { DType, NdArray } from '../util/ndarray.js';

/** One named tensor of a checkpoint. Data is materialised on demand so `inspect` stays cheap. */
export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  load(): NdArray;
}

export type CheckpointFormat = 'pytorch-zip' | 'safetensors' | 'paddle-pickle' | 'npy';

export interface Checkpoint {
  file: string;
  format: CheckpointFormat;
  /** Flat state dict after unwrapping {state_dict|model: ...} and stripping a `module.` prefix. */
  tensors: Map<string, TensorEntry>;
  /** Where the state dict was found inside the file, e.g. "state_dict" (empty for a bare dict). */
  wrapper: string;
  /** Non-tensor entries found next to the tensors (kept for inspect, ignored by the porter). */
  ignored: string[];
}
