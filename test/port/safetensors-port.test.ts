import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { convertCheckpoint } from '../../src/convert.js';
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
    expect(Buffer.compare(Buffer.from(fromSt.bytes), Buffer.from(fromPth.bytes))).toBe(0);
  });
});
