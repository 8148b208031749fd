/**
 * Whether the user asked for details (`--verbose`): set once by the CLI, read by the runtimes to
 * let third-party libraries' own notices through (onnxruntime's warnings), which are otherwise
 * kept out of normal output because a user cannot act on them.
 */
let verbose = false;

export function setVerbose(on: boolean): void { verbose = on; }
export function isVerbose(): boolean { return verbose; }

/**
 * onnxruntime's log level: 2 (warnings) when verbose, else 4 (fatal only). Its errors reach the user as the
 * exception we turn into one line; logged too, they would add a second, coloured line that quotes names
 * from the model unescaped (ANSI escapes in a node name reach the terminal).
 */
export const ortLogSeverity = (): 2 | 4 => (verbose ? 2 : 4);
/** The same, as onnxruntime's `env.logLevel` name. */
export const ortEnvLogLevel = (): 'warning' | 'fatal' => (verbose ? 'warning' : 'fatal');
