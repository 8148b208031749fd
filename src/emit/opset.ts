/** The ONNX opsets the ONNX emitter writes: constants only, so that the CLI can check --opset without loading the emitter. */
export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

/**
 * The ONNX IR version a model of each opset declares: the one of the onnx release that introduced the
 * opset (onnx/helper.py's VERSION_TABLE), by ranges of opsets, covering MIN_OPSET to MAX_OPSET.
 */
export const IR_VERSIONS: readonly { opsets: readonly [from: number, to: number]; irVersion: number }[] = [
  { opsets: [13, 14], irVersion: 7 }, // onnx 1.8, 1.9
  { opsets: [15, 18], irVersion: 8 }, // onnx 1.10 to 1.13
  { opsets: [19, 20], irVersion: 9 }, // onnx 1.14, 1.15
  { opsets: [21, 21], irVersion: 10 }, // onnx 1.16
];

/** The IR version that goes with an opset; an opset outside the table is a bug (the CLI and the emitter check the range first). */
export function irVersionFor(opset: number): number {
  const row = IR_VERSIONS.find(({ opsets: [from, to] }) => from <= opset && opset <= to);
  if (!row) throw new Error(`no ONNX IR version for opset ${opset} (the table covers ${MIN_OPSET}–${MAX_OPSET})`);
  return row.irVersion;
}
