/** `bisenet inspect`: the report of src/inspect/ for a checkpoint, an exported model or a .tflite file. */
export async function inspectCommand(file: string, o: { json?: boolean }): Promise<void> {
  const { inspectPath } = await import('../inspect/index.js');
  const { text, refuse } = inspectPath(file, o);
  process.stdout.write(text);
  // The report is printed either way; an unusable checkpoint is then refused like convert would refuse it (exit 2).
  refuse?.();
}
