/**
 * Progress of a run over many images, on stderr: a bar redrawn in place on a terminal (count,
 * frames/s, ETA), plain lines otherwise (logs, CI, pipes), so neither floods the other.
 */
import { escapeText } from '../util/render.js';
import { setOpenLine } from '../util/interrupt.js';
export interface ProgressOptions {
  /** Where to draw; default process.stderr. */
  stream?: NodeJS.WriteStream | { isTTY?: boolean; columns?: number; write(s: string): boolean };
  /** Force the bar (true) or plain lines (false); default: whether the stream is a terminal. */
  tty?: boolean;
  /** Nothing at all. */
  quiet?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600); const m = Math.floor((s % 3600) / 60); const r = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0'); const ss = String(r).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class Progress {
  private done = 0;
  private readonly start = performance.now();
  private lastDraw = 0;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly tty: boolean;
  private readonly quiet: boolean;

  constructor(private readonly total: number, private readonly verb: string, opts: ProgressOptions = {}) {
    // A bar on a terminal's stderr; otherwise plain lines on stdout, with the results: stderr then holds
    // nothing but an error's one line.
    this.stream = opts.stream ?? (process.stderr.isTTY ? process.stderr : process.stdout);
    this.tty = opts.tty ?? Boolean(this.stream.isTTY);
    this.quiet = Boolean(opts.quiet);
  }

  /** Frames per second so far. */
  get rate(): number { return this.done / Math.max(1e-9, (performance.now() - this.start) / 1000); }

  /** One more item finished; `what` names it in plain-line mode. */
  tick(what: string): void {
    this.done++;
    if (this.quiet) return;
    const fps = this.rate;
    const eta = (this.total - this.done) / fps;
    if (!this.tty) {
      // `what` names files, whose names may hold escapes and newlines: escaped like every message.
      this.stream.write(`${this.verb} ${this.done}/${this.total} ${escapeText(what, 600)} (${fps.toFixed(2)} frames/s, ETA ${formatDuration(eta)})\n`);
      return;
    }
    const now = performance.now();
    if (now - this.lastDraw < 100 && this.done < this.total) return; // a redraw per 0.1 s is plenty
    this.lastDraw = now;
    const cols = Math.max(40, Math.min(120, (this.stream as { columns?: number }).columns ?? 80));
    const tail = ` ${this.done}/${this.total}  ${fps.toFixed(2)} frames/s  ETA ${formatDuration(eta)}`;
    const width = Math.max(10, cols - tail.length - this.verb.length - 4);
    const filled = Math.round((width * this.done) / this.total);
    this.stream.write(`\r\x1b[K${this.verb} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${tail}`);
    // Until finish(), an error or an interrupt ends the bar's line before its own.
    if (!this.open) { this.open = true; setOpenLine(() => { if (this.open) { this.open = false; this.stream.write('\n'); } }); }
  }

  /** Ends the bar's line (terminal mode); plain lines need nothing. */
  finish(): void {
    if (this.open) { this.open = false; setOpenLine(null); this.stream.write('\n'); }
  }
  private open = false;
}
