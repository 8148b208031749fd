/**
 * Running the real CLI (bin/bisenet, which runs dist/: `npx tsc -p tsconfig.json` first) in a child process,
 * and the assertions every test of a refused input makes. Tests that must hold the child while it runs (send it a
 * signal, talk to its server) spawn it themselves.
 */
import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';
import { BIN } from './paths.js';

/** How the child ended: its exit status, or (status null) the signal that ended it; what it printed. */
export interface CliResult { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
export interface CliOptions {
  cwd?: string;
  /** Added to this process's environment; a name set to undefined is left out of the child's. */
  env?: NodeJS.ProcessEnv;
  /**
   * The child is killed after this long (its status is then null): a hang fails the test instead of
   * holding its worker. The default stays below vitest's testTimeout (vitest.config.ts).
   */
  timeoutMs?: number;
  /** Written to the child's stdin. */
  input?: string;
}

/** Runs bin/bisenet with these arguments and waits for it. */
export function runCli(args: readonly string[], o: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8', cwd: o.cwd, env: o.env ? { ...process.env, ...o.env } : process.env, timeout: o.timeoutMs ?? 170_000, input: o.input,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** `runCli` with the arguments spread: `bisenet('verify', model, '--golden', dir)`. */
export const bisenet = (...args: string[]): CliResult => runCli(args);

/** A refused input: exit 2 and a single `error:` line on stderr, which matches `re`. Returns that line. */
export function oneErrorLine(r: CliResult, re: RegExp): string {
  expect(r.status, r.stderr).toBe(2);
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(r.stderr).toMatch(re);
  return lines[0]!;
}
