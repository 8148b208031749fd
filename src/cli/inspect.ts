import { writeFileAtomic } from '../util/fs.js';
import { checkOutputs } from '../util/outputs.js';
import { jsonFile, jsonOnStdout } from './options.js';

/** `bisenet inspect`: the report of src/inspect/ for a checkpoint, an exported model or a .tflite file; `--json` as every command's. */
export async function inspectCommand(file: string, o: { json?: string | boolean; force?: boolean }): Promise<void> {
  const { inspectPath } = await import('../inspect/index.js');
  const json = jsonFile(o.json);
  if (json) checkOutputs([{ path: json, what: '--json' }], [file], Boolean(o.force));
  const { text, refuse } = inspectPath(file, { json: jsonOnStdout(o.json) });
  process.stdout.write(text);
  if (json) writeFileAtomic(json, inspectPath(file, { json: true }).text);
  // The report is printed either way; an unusable checkpoint is then refused like convert would refuse it (exit 2).
  refuse?.();
}
