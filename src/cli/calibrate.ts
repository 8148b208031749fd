import type { Family } from '../models/bisenetv2.js';
import type { Dataset } from '../model-file/presets.js';
import { calibrate } from '../quant/calibrate.js';
import { writeFileAtomic } from '../util/fs.js';
import { checkOutputs, modelInputs } from '../util/outputs.js';

interface Opts { data: string; out: string; limit?: number; percentile?: number; threads?: number; family?: Family; dataset?: Dataset; quiet?: boolean; force?: boolean }

/** `bisenet calibrate`: writes calib.json (ranges of every tensor over the images) and prints a summary. */
export async function calibrateCommand(model: string, o: Opts): Promise<void> {
  checkOutputs([{ path: o.out, what: '--out' }], [...modelInputs(model), o.data], Boolean(o.force));
  const t0 = performance.now();
  const c = await calibrate(model, o.data, { limit: o.limit, percentile: o.percentile, threads: o.threads, family: o.family, dataset: o.dataset, progress: { quiet: o.quiet } });
  writeFileAtomic(o.out, `${JSON.stringify(c, null, 1)}\n`);
  const ranges = Object.values(c.tensors);
  const clipped = ranges.filter((r) => r.entropy < r.absmax * 0.999).length;
  process.stdout.write(`calibrate ${c.model.source} on ${c.images.count} image${c.images.count > 1 ? 's' : ''} of ${o.data}: ${ranges.length} tensors → ${o.out} `
    + `(min/max, ${c.percentile}th percentile, entropy threshold; entropy clips ${clipped} of ${ranges.length} below their max) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
