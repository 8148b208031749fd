/**
 * A command's way to end with a given exit code (1: verification mismatch) without printing an
 * error: thrown by commands, caught by `main`. Its own module so commands need not import main.ts.
 */
export class ExitCode extends Error {
  constructor(readonly code: number) { super(`exit ${code}`); }
}
