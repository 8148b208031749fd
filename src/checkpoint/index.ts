import { fail } from '../util/errors.js';
import { readFileChecked } from '../util/fs.js';
import { LIMITS } from '../util/limits.js';
import { render } from '../util/render.js';
import { isNpy } from './npy.js';
import { looksLikePicklePdparams, readPdparams } from './paddle.js';
import { looksLikeSafetensors, readSafetensors } from './safetensors.js';
import { isLegacyTorchPickle, readTorchZip, torchTensorEntry, TorchTensor, type TorchLoad } from './torch.js';
import type { Checkpoint, TensorEntry } from './types.js';
import { isZip } from './zip.js';

export type { Checkpoint, TensorEntry } from './types.js';

/** Keys under which training scripts nest the weights, tried in this order. */
const WRAPPER_KEYS = ['state_dict', 'model', 'model_state_dict', 'net', 'params'];

function unwrapStateDict(root: unknown, label: string): { dict: Map<unknown, unknown>; wrapper: string } {
  let node = root;
  const path: string[] = [];
  for (let depth = 0; depth <= LIMITS.wrapDepth; depth++) {
    if (!(node instanceof Map)) fail('format', `${label}: the checkpoint holds ${describe(node)}${path.length ? ` under ${path.join('.')}` : ''}, not a dict of tensors`);
    const dict = node as Map<unknown, unknown>;
    const hasTensors = [...dict.values()].some((v) => v instanceof TorchTensor);
    if (hasTensors) return { dict, wrapper: path.join('.') };
    const key = WRAPPER_KEYS.find((k) => dict.get(k) instanceof Map);
    if (!key) fail('format', `${label}: no tensors found (top-level keys: ${[...dict.keys()].slice(0, 8).map((k) => render(k, { depth: 1, items: 3, chars: 60 })).join(', ')})`);
    path.push(key!);
    node = dict.get(key!);
  }
  return fail('format', `${label}: state dict nested deeper than ${LIMITS.wrapDepth} levels`);
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof TorchTensor) return 'a single tensor';
  return `a ${typeof v}`;
}

/** `module.` (DataParallel) and similar prefixes that every key carries are removed. */
export function stripCommonPrefix(tensors: Map<string, TensorEntry>): Map<string, TensorEntry> {
  for (const prefix of ['module.', '_orig_mod.']) {
    const keys = [...tensors.keys()];
    if (keys.length > 0 && keys.every((k) => k.startsWith(prefix))) {
      return new Map([...tensors].map(([k, v]) => [k.slice(prefix.length), { ...v, name: k.slice(prefix.length) }]));
    }
  }
  return tensors;
}

function fromTorch(load: TorchLoad, file: string): Checkpoint {
  const { dict, wrapper } = unwrapStateDict(load.root, file);
  const tensors = new Map<string, TensorEntry>();
  const ignored: string[] = [];
  for (const [k, v] of dict) {
    if (typeof k !== 'string') fail('format', `${file}: state dict has a non-string key`);
    if (v instanceof TorchTensor) tensors.set(k, torchTensorEntry(load, k, v, file));
    else ignored.push(k as string);
  }
  return { file, format: 'pytorch-zip', tensors: stripCommonPrefix(tensors), wrapper, ignored };
}

/** Reads any supported checkpoint file; the format is detected from its bytes, not its name. */
export function loadCheckpoint(file: string): Checkpoint {
  return parseCheckpoint(readFileChecked(file, 'checkpoint'), file);
}

/** Parses checkpoint bytes; `file` names them in errors. */
export function parseCheckpoint(bytes: Uint8Array, file: string): Checkpoint {
  if (isZip(bytes)) return fromTorch(readTorchZip(bytes, file), file);
  if (looksLikeSafetensors(bytes)) {
    return { file, format: 'safetensors', tensors: stripCommonPrefix(readSafetensors(bytes, file)), wrapper: '', ignored: [] };
  }
  if (isLegacyTorchPickle(bytes)) {
    fail('format', `${file}: legacy PyTorch format (torch.save before 1.6, not a zip); re-save it with a current torch.save`);
  }
  if (looksLikePicklePdparams(bytes)) {
    const { tensors, ignored, wrapper } = readPdparams(bytes, file);
    return { file, format: 'paddle-pickle', tensors, wrapper, ignored };
  }
  if (isNpy(bytes)) fail('format', `${file}: is a single .npy array, not a checkpoint`);
  if (bytes.length === 0) fail('format', `${file}: file is empty`);
  return fail('format', `${file}: not a checkpoint (neither a PyTorch zip, safetensors nor a PaddlePaddle .pdparams pickle)`);
}
