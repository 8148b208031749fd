/**
 * The project's own error type. Everything a user can cause (a missing file, a checkpoint of
 * another network, a wrong input size) is raised as a BisenetError so the CLI can print one
 * line and exit 2 instead of a stack trace. Anything else is a bug in this tool.
 */
export type ErrorKind =
  | 'io' // file missing, unreadable, unwritable
  | 'format' // bytes that are not what they claim to be (zip, pickle, npy, safetensors, onnx)
  | 'security' // a pickle that names a global outside the allowlist, a resource limit hit
  | 'layout' // checkpoint keys or shapes that do not fit the model
  | 'shape' // an input shape the model cannot take
  | 'usage' // a bad option value or combination
  | 'runtime'; // a runtime that is not available or failed to load a model

export class BisenetError extends Error {
  readonly kind: ErrorKind;
  /** Extra lines shown with --verbose (e.g. the full list of mismatching keys). */
  readonly details: string[];
  constructor(kind: ErrorKind, message: string, details: string[] = []) {
    super(message);
    this.name = 'BisenetError';
    this.kind = kind;
    this.details = details;
  }
}

export function fail(kind: ErrorKind, message: string, details: string[] = []): never {
  throw new BisenetError(kind, message, details);
}

export function isBisenetError(e: unknown): e is BisenetError {
  return e instanceof BisenetError;
}

/**
 * A third-party error's message as one line: its lines joined (onnxruntime puts the dimensions that differ
 * on the lines after the first), runs of blanks collapsed, at most `max` characters.
 */
export function causeText(e: unknown, max = 600): string {
  const raw = e instanceof Error ? e.message : typeof e === 'string' ? e : String(e);
  const text = raw.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).join('; ').replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max)}…` : text || 'no message';
}
