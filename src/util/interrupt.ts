/**
 * SIGINT, SIGTERM and SIGHUP end every command the same way: the cleanups registered here run (temporary
 * files and directories removed, browsers' folders), one line says what happened, and the process exits
 * with 128 + the signal's number (130, 143, 129). Outputs already renamed into place are complete (they are
 * written to a temporary and renamed only when whole); nothing partial is left.
 *
 * `early` cleanups run at once, before the process exits; `late` ones run last of all the process's exit
 * listeners (after, for instance, playwright has killed the browser it launched), for folders a still-running
 * child might write into.
 */
import * as fs from 'node:fs';

type Cleanup = () => void;
/** Run before every other cleanup: what must be kept is moved into place before temporaries are removed. */
const first = new Set<Cleanup>();
const early = new Set<Cleanup>();
const late = new Set<Cleanup>();
let installed = false;
let interrupted: NodeJS.Signals | null = null;
/** Set by a writer that has a line open on stderr (a progress bar), so the interrupt line starts on a fresh line. */
let openLine: (() => void) | null = null;

const CODES: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

function run(set: Set<Cleanup>): void {
  for (const f of [...set]) { try { f(); } catch { /* exiting anyway: the others still run */ } }
  set.clear();
}

/** Installs the handlers (the CLI does, once, at start; registering a cleanup does too). */
export function installInterruptHandlers(): void {
  if (installed) return;
  installed = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (interrupted) return; // a second signal while cleaning up: the first one's exit follows
      interrupted = sig;
      run(first);
      run(early);
      if (late.size) process.on('exit', () => run(late)); // registered now: runs after every earlier exit listener
      try {
        openLine?.();
        const said = describe?.(sig);
        fs.writeSync(2, `error: ${said ?? `interrupted by ${sig}; temporary files removed, no partial output left`}\n`);
      } catch { /* stderr closed */ }
      process.exit(CODES[sig] ?? 130);
    });
  }
}

/** Registers a cleanup for an interrupt; returns the function that unregisters it (call it once the thing is gone). */
export function onInterrupt(f: Cleanup, o: { late?: boolean; first?: boolean } = {}): () => void {
  installInterruptHandlers();
  const set = o.first ? first : o.late ? late : early;
  set.add(f);
  return () => { set.delete(f); };
}

let describe: ((sig: NodeJS.Signals) => string) | null = null;
/** Lets the command at work say what an interrupt leaves, in place of the default line (null: the default again). */
export function setInterruptLine(f: ((sig: NodeJS.Signals) => string) | null): void { describe = f; }

/** Lets a progress bar end its line before an interrupt's (or an error's) line. */
export function setOpenLine(f: (() => void) | null): void { openLine = f; }
export function endOpenLine(): void { const f = openLine; openLine = null; f?.(); }

/**
 * Gives a signal that arrived during synchronous work (a model written in one go) the chance to be handled
 * before the process exits with success: the event loop polls once, running the handler, which exits.
 */
export function settleSignals(): Promise<void> {
  return new Promise((ok) => setTimeout(ok, 0)).then(() => new Promise<void>((ok) => setImmediate(ok)));
}
