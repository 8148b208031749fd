import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { emitOnnx } from '../../src/emit/onnx.js';
import { IR_VERSIONS, irVersionFor, MAX_OPSET, MIN_OPSET } from '../../src/emit/opset.js';
import { groupedConvRepro } from '../../src/emit/repro.js';

describe('ONNX IR version table', () => {
  it('covers every opset the emitter writes, once, in order', () => {
    const covered = IR_VERSIONS.flatMap(({ opsets: [from, to] }) => Array.from({ length: to - from + 1 }, (_, i) => from + i));
    expect(covered).toEqual(Array.from({ length: MAX_OPSET - MIN_OPSET + 1 }, (_, i) => MIN_OPSET + i));
    const irs = IR_VERSIONS.map((r) => r.irVersion);
    expect(irs).toEqual([...irs].sort((a, b) => a - b));
  });

  it('gives the IR version of the onnx release that introduced each opset (onnx/helper.py VERSION_TABLE)', () => {
    // onnx 1.8: (IR 7, opset 13), 1.9: (7, 14), 1.10–1.13: (8, 15–18), 1.14: (9, 19), 1.15: (9, 20), 1.16: (10, 21)
    const onnxReleases: [opset: number, ir: number][] = [[13, 7], [14, 7], [15, 8], [16, 8], [17, 8], [18, 8], [19, 9], [20, 9], [21, 10]];
    for (const [opset, ir] of onnxReleases) expect(irVersionFor(opset), `opset ${opset}`).toBe(ir);
  });

  it('has no row for an opset outside the range (a bug: the CLI and the emitter refuse those first)', () => {
    expect(() => irVersionFor(MIN_OPSET - 1)).toThrow(/no ONNX IR version for opset 12/);
    expect(() => irVersionFor(MAX_OPSET + 1)).toThrow(/no ONNX IR version for opset 22/);
  });

  it('is what the emitted model declares', () => {
    const { graph } = groupedConvRepro({ channels: 2, perGroup: 2, size: 4 });
    const weights = new Map([['grouped.weight', new Float32Array(2 * 2 * 9)], ['grouped.bias', new Float32Array(4)]]);
    for (const opset of [MIN_OPSET, 18, 19, MAX_OPSET]) {
      const model = onnxProto.onnx.ModelProto.decode(emitOnnx(graph, weights, { opset }));
      expect(Number(model.irVersion), `opset ${opset}`).toBe(irVersionFor(opset));
      expect(Number(model.opsetImport![0]!.version)).toBe(opset);
    }
  });
});
