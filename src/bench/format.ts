/**
 * The bench report as text. By default it fits 100 columns: the machine and model (wrapped), one table
 * of runs (runtime, size, times, frames/s, GFLOP/s, ratio to the conv stack), each runtime's device on its
 * own line, the conv-stack reference, and the notes. `wide` adds the device, MACs and the kernel columns
 * to the table (as wide as they need); the JSON report holds everything.
 */
import type { BenchReport, BenchRow, Stats } from './index.js';

/** Columns the default text fits in. */
export const TEXT_WIDTH = 100;

const ms = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const range = (s: Stats): string => `${ms(s.min)}–${ms(s.max)}`;
const ratio = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : `${x.toFixed(2)}×`);
const num = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : x.toFixed(1));

/** Columns [0, left) are left-aligned, the rest right-aligned. */
function table(head: string[], rows: string[][], left: number): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i < left ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/**
 * Breaks a line at spaces to `width` columns; continuation lines are indented two spaces. A word longer
 * than a line (a long path) is cut where the line ends.
 */
export function wrap(text: string, width = TEXT_WIDTH): string {
  const out: string[] = [];
  let line = '';
  for (let word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) { out.push(line); line = '  '; }
    else if (line) line += ' ';
    while (line.length + word.length > width) {
      const cut = width - line.length;
      out.push(line + word.slice(0, cut));
      word = word.slice(cut);
      line = '  ';
    }
    line += word;
  }
  out.push(line);
  return out.join('\n');
}

/** The fetched outputs, shortened for the narrow table: `logits`, `labels`, `logits+4` (the full list is in --wide and --json). */
const fetched = (f: string[]): string => (f.length <= 1 ? f[0] ?? '' : `${f[0]}+${f.length - 1}`);

export function formatBench(r: BenchReport, o: { wide?: boolean } = {}): string {
  const m = r.machine;
  const out: string[] = [];
  const para = (s: string): void => { out.push(o.wide ? s : wrap(s)); };
  para(`bisenet bench on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${m.os}, Node ${m.node}; load average ${m.loadavgAtStart.join(' ')} at start, ${m.loadavgAtEnd.join(' ')} at end`
    + `${m.load.othersShare === null ? '' : `; other processes used ${(100 * m.load.othersShare).toFixed(0)} % of the cores meanwhile`}`);
  if (m.isa) para(`instruction set: ${m.isa.flags.join(' ') || '(none of the listed extensions)'}; int8 dot products (VNNI/AMX/Arm dot): ${m.isa.int8Dot ? 'yes' : 'no'}`);
  para(`model: ${r.model.path} (${r.model.family ?? 'family unknown'}, ${r.model.numClasses ?? '?'} classes${r.model.converted.length ? `; converted in memory to ${r.model.converted.join(', ')}` : ''}); ${r.warmup} warm-up, ${r.runs} timed runs each; times in ms`);
  out.push('');
  // A row's runtime, with its precision where the report has more than fp32 (bench --precisions, or a --model that records one).
  const mixed = r.rows.some((y) => y.precision !== undefined && y.precision !== 'fp32');
  const rt = (x: BenchRow): string => (x.precision && mixed ? `${x.runtime} ${x.precision}` : x.runtime);
  const size = (x: BenchRow): string => `${x.size[0]}×${x.size[1]} → ${o.wide ? x.fetch.join(',') : fetched(x.fetch)}`;
  if (o.wide) {
    out.push(table(
      ['runtime', 'device', 'input → fetched', 'median', 'min–max', 'frames/s', 'GMAC', 'GFLOP/s', '× stack', 'kernels', 'outside', 'kernel GFLOP/s', '× stack kernels'],
      r.rows.map((x) => [rt(x), x.device, size(x), ms(x.e2eMs.median), range(x.e2eMs), x.fps.toFixed(2),
        x.gmacs === null ? '—' : x.gmacs.toFixed(2), num(x.gflops), ratio(x.vsConvStack), ms(x.kernelMs?.median), ms(x.outsideMs), num(x.kernelGflops), ratio(x.vsConvStackKernel)]),
      3,
    ));
  } else {
    out.push(table(
      ['runtime', 'input → fetched', 'median', 'min–max', 'frames/s', 'GFLOP/s', '× stack', 'kernels'],
      r.rows.map((x) => [rt(x), size(x), ms(x.e2eMs.median), range(x.e2eMs), x.fps.toFixed(2), num(x.gflops), ratio(x.vsConvStack), ms(x.kernelMs?.median)]),
      2,
    ));
    const devices = new Map<string, string>();
    for (const x of [...r.rows, ...r.convStack]) if (!devices.has(x.runtime)) devices.set(x.runtime, x.device);
    if (devices.size) { out.push(''); for (const [id, d] of devices) para(`${id}: ${d}`); }
  }
  const gpu = r.rows.filter((x) => x.gpuPhasesMs);
  if (gpu.length) {
    out.push('');
    para('GPU runs split (medians; upload: inputs into GPU buffers kept between frames; compute: until the GPU is done; read-back: the fetched outputs only):');
    out.push(table([...(o.wide ? ['runtime', 'device'] : ['runtime']), 'input → fetched', 'upload', 'compute', 'read-back'],
      gpu.map((x) => [...(o.wide ? [x.runtime, x.device] : [x.runtime]), size(x), ms(x.gpuPhasesMs!.upload.median), ms(x.gpuPhasesMs!.compute.median), ms(x.gpuPhasesMs!.readback.median)]),
      o.wide ? 3 : 2));
  }
  if (r.convStack.length) {
    out.push('');
    para(`conv stack, the reference "× stack" divides by (${r.convStackModel}, ${r.convStack[0]!.gmacs.toFixed(2)} GMAC): a common fast case, `
      + 'not an upper bound; 1×1 convs and small outputs can run faster, so a ratio above 1 is possible:');
    out.push(table(['runtime', ...(o.wide ? ['device'] : []), 'median', 'min–max', 'GFLOP/s', 'kernels', 'kernel GFLOP/s'],
      r.convStack.map((c) => [c.runtime, ...(o.wide ? [c.device] : []), ms(c.e2eMs.median), range(c.e2eMs), num(c.gflops), ms(c.kernelMs?.median), num(c.kernelGflops)]),
      o.wide ? 2 : 1));
  }
  if (r.notes.length) { out.push(''); for (const n of r.notes) para(`${n === m.load.warning ? 'warning' : 'note'}: ${n}`); }
  if (!o.wide) { out.push(''); para('(--wide: device, MACs and kernel columns in the table; --json: everything)'); }
  return `${out.join('\n')}\n`;
}
