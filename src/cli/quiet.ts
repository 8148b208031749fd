/**
 * Keeps Dawn's notices out of normal output. dawn.node (the `webgpu` package) prints them from
 * native code straight to the process's stderr ("Warning: maxDynamicUniformBuffersPerPipelineLayout
 * artificially reduced…", "Warning: Couldn't load Vulkan…" with a C++ source line), where no
 * JavaScript can intercept them; a user cannot act on them. So when a command may load dawn.node
 * (`doctor`, or a runtime that needs `webgpu`) and `--verbose` is not given, bin/bisenet runs the
 * CLI in a child process and drops those notices from its stderr; everything else passes unchanged.
 */
import { spawn } from 'node:child_process';
import { RUNTIME_CATALOG } from '../runtime/catalog.js';

/** Set in the child, so that it runs the CLI itself. */
export const CHILD_ENV = 'BISENET_QUIET_CHILD';

const optionValue = (argv: string[], name: string): string | undefined => {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
};

/** Whether this command line may load dawn.node and should have its notices filtered. */
export function quietWanted(argv: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  if (env[CHILD_ENV] || argv.includes('--verbose') || argv.includes('-v')) return false;
  const command = argv.find((a) => !a.startsWith('-'));
  if (command === 'doctor') return true;
  const ids = ['--runtime', '--runtimes'].flatMap((name) => optionValue(argv, name)?.split(',') ?? []);
  // dawn.node is the `webgpu` package: the runtimes that need it are the ones that print.
  return RUNTIME_CATALOG.some((r) => ids.includes(r.id) && r.packages.includes('webgpu'));
}

/** Drops Dawn's notice blocks (a "Warning: " line, its indented "at …" lines, one blank line) from a text stream. */
export class DawnNoticeFilter {
  private rest = '';
  private inNotice = false;
  constructor(private readonly write: (s: string) => void) {}

  push(chunk: string): void {
    const lines = (this.rest + chunk).split('\n');
    this.rest = lines.pop()!;
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.rest) this.line(this.rest, false);
    this.rest = '';
  }

  private line(line: string, newline = true): void {
    if (line.startsWith('Warning: ')) { this.inNotice = true; return; }
    if (this.inNotice && (/^\s+at /.test(line) || line === '')) { if (line === '') this.inNotice = false; return; }
    this.inNotice = false;
    this.write(newline ? `${line}\n` : line);
  }
}

/** Runs the CLI (bin/bisenet) in a child process with Dawn's notices filtered; resolves to its exit code. */
export function runQuiet(bin: string, argv: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, bin, ...argv], {
      stdio: ['inherit', 'inherit', 'pipe'], env: { ...process.env, [CHILD_ENV]: '1' },
    });
    const filter = new DawnNoticeFilter((s) => process.stderr.write(s));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => filter.push(s));
    // Ctrl-C reaches the child too (same process group); the parent waits for it to clean up.
    // A signal sent to this process alone (not its group) is passed on, so the child cleans up and exits 130/143.
    const forward = (sig: NodeJS.Signals) => (): void => { child.kill(sig); };
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
    for (const [sig, f] of handlers) process.on(sig, f);
    child.on('close', (code, signal) => {
      filter.end();
      for (const [sig, f] of handlers) process.off(sig, f);
      resolve(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : 3));
    });
  });
}
