import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { convertCheckpoint } from '../../src/convert/index.js';
import type { NdArray } from '../../src/util/ndarray.js';
import { fixture, tmpDir, UPSTREAM } from '../helpers/paths.js';

describe('safetensors checkpoints port like .pth', () => {
  it('gives byte-identical ONNX for the same weights, also with a module. prefix', () => {
    const ck = loadCheckpoint(fixture(UPSTREAM, 'model.pth'));
    const tensors = new Map<string, NdArray>([...ck.tensors].map(([k, t]) => [`module.${k}`, t.load()]));
    const file = path.join(tmpDir(), 'model.safetensors');
    fs.writeFileSync(file, writeSafetensors(tensors));
    const fromPth = convertCheckpoint(fixture(UPSTREAM, 'model.pth'), { to: 'onnx', aux: true });
    const fromSt = convertCheckpoint(file, { to: 'onnx', aux: true });
    expect(fromSt.checkpoint.format).toBe('safetensors');
    expect(fromSt.ported.numClasses).toBe(19);
    // The models record their own checkpoint file (its sha256; the .pth's card says its weights are random):
    // everything else is the same bytes.
    expect(fromSt.metadata.checkpoint_sha256).not.toBe(fromPth.metadata.checkpoint_sha256);
    expect([fromPth.metadata.weights, fromSt.metadata.weights]).toEqual(['random', undefined]);
    const withoutSource = (bytes: Uint8Array): Uint8Array => {
      const m = onnxProto.onnx.ModelProto.decode(bytes);
      m.metadataProps = m.metadataProps.filter((p) => p.key !== 'checkpoint_sha256' && p.key !== 'weights');
      return onnxProto.onnx.ModelProto.encode(m).finish();
    };
    expect(Buffer.compare(Buffer.from(withoutSource(fromSt.bytes)), Buffer.from(withoutSource(fromPth.bytes)))).toBe(0);
  });
});
