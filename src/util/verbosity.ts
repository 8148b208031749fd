/**
 * Whether the user asked for details (`--verbose`): set once by the CLI, read by the runtimes to
 * let third-party libraries' own notices through (onnxruntime's warnings), which are otherwise
 * kept out of normal output because a user cannot act on them.
 */
let verbose = false;

export function setVerbose(on: boolean): void { verbose = on; }
export function isVerbose(): boolean { return verbose; }

/** onnxruntime's session log level: 2 (warnings) when verbose, else 3 (errors only). */
export const ortLogSeverity = (): 2 | 3 => (verbose ? 2 : 3);
