/** The bench report as text: the machine, one table of runs, the ceilings, and the notes. */
import type { BenchReport, Stats } from './index.js';

const ms = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const range = (s: Stats): string => `${ms(s.min)}–${ms(s.max)}`;
const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(0)} %`);
const num = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : x.toFixed(1));

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function formatBench(r: BenchReport): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`bisenet bench on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${m.os}, Node ${m.node}; load average ${m.loadavgAtStart.join(' ')} at start, ${m.loadavgAtEnd.join(' ')} at end`);
  if (m.isa) out.push(`instruction set: ${m.isa.flags.join(' ') || '(none of the listed extensions)'}; int8 dot products (VNNI/AMX/Arm dot): ${m.isa.int8Dot ? 'yes' : 'no'}`);
  out.push(`model: ${r.model.path} (${r.model.family ?? 'family unknown'}, ${r.model.numClasses ?? '?'} classes${r.model.converted.length ? `; converted in memory to ${r.model.converted.join(', ')}` : ''}); ${r.warmup} warm-up, ${r.runs} timed runs each; times in ms`);
  out.push('');
  out.push(table(
    ['runtime', 'device', 'input → fetched', 'median', 'min–max', 'frames/s', 'GMAC', 'GFLOP/s', 'of ceiling', 'kernels', 'outside', 'kernel GFLOP/s', 'of ceiling'],
    r.rows.map((x) => [x.precision && (x.precision !== 'fp32' || r.rows.some((y) => y.precision !== 'fp32')) ? `${x.runtime} ${x.precision}` : x.runtime, x.device, `${x.size[0]}×${x.size[1]} → ${x.fetch.join(',')}`, ms(x.e2eMs.median), range(x.e2eMs), x.fps.toFixed(2),
      x.gmacs === null ? '—' : x.gmacs.toFixed(2), num(x.gflops), pct(x.ofCeiling), ms(x.kernelMs?.median), ms(x.outsideMs), num(x.kernelGflops), pct(x.ofCeilingKernel)]),
  ));
  const gpu = r.rows.filter((x) => x.gpuPhasesMs);
  if (gpu.length) {
    out.push('');
    out.push('GPU runs split (medians; upload: inputs into GPU buffers kept between frames; compute: until the GPU is done; read-back: the fetched outputs only):');
    out.push(table(['runtime', 'device', 'input → fetched', 'upload', 'compute', 'read-back'],
      gpu.map((x) => [x.runtime, x.device, `${x.size[0]}×${x.size[1]} → ${x.fetch.join(',')}`, ms(x.gpuPhasesMs!.upload.median), ms(x.gpuPhasesMs!.compute.median), ms(x.gpuPhasesMs!.readback.median)])));
  }
  if (r.ceilings.length) {
    out.push('');
    out.push(`ceilings (${r.ceilingModel}, ${r.ceilings[0]!.gmacs.toFixed(2)} GMAC):`);
    out.push(table(['runtime', 'device', 'end to end', 'median', 'min–max', 'GFLOP/s', 'kernels', 'kernel GFLOP/s'],
      r.ceilings.map((c) => [c.runtime, c.device, '', ms(c.e2eMs.median), range(c.e2eMs), num(c.gflops), ms(c.kernelMs?.median), num(c.kernelGflops)])));
  }
  if (r.notes.length) out.push('', ...r.notes.map((n) => `note: ${n}`));
  return `${out.join('\n')}\n`;
}
