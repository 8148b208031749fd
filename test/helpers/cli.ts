import { spawnSync } from 'node:child_process';
import { BIN } from './paths.js';

export interface CliResult { status: number | null; stdout: string; stderr: string }

/** Runs bin/bisenet with these arguments (in `cwd`, with extra environment), waiting at most `timeoutMs`. */
export function runCli(args: readonly string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8', cwd: o.cwd, env: o.env ? { ...process.env, ...o.env } : process.env, timeout: o.timeoutMs ?? 120_000, input: o.input,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
