import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/**
 * Mesa keeps the shaders lavapipe compiled in ~/.cache, which a machine made afresh for each session (this one)
 * loses between runs: the WebGPU tests then spend ≈ 70 s of CPU compiling the same shaders again. Beside the
 * checkout (ignored with node_modules) the cache lasts as long as the install; where MESA_SHADER_CACHE_DIR is
 * set, it is used as set. Cached or compiled, the shaders are the same: nothing a test checks changes.
 */
const MESA_SHADER_CACHE_DIR = process.env.MESA_SHADER_CACHE_DIR ?? path.join(ROOT, 'node_modules', '.cache', 'mesa-shader-cache');

/**
 * The order files start in. Vitest starts the longest files of the last run first (else the largest), but the
 * WebGPU parity file's length depends on Mesa's shader cache, not on its last run: ≈ 10 s alone with the
 * shaders cached, ≈ 50 s alone and ≈ 80 s beside another file without them, nearly all of it lavapipe compiling
 * shaders. It starts first, so that it never ends alone at the tail of the run. The WebGPU diff compiles many
 * of the same shaders (≈ 40 s cold, ≈ 23 s after the parity file, ≈ 3 s warm): it starts once the other worker
 * has had about the parity file's expected length of work (its last run's, or COLD_MS when Mesa's cache is
 * empty; half the queue with no last run), so as to find them compiled rather than compile them at the same
 * time, and not end the run alone.
 */
const FIRST = 'test/runtime/webgpu.test.ts';
const AFTER_FIRST = 'test/diff/webgpu-diff.test.ts';
const COLD_MS = 75_000;
const mesaCacheEmpty = (): boolean => !fs.existsSync(MESA_SHADER_CACHE_DIR) || fs.readdirSync(MESA_SHADER_CACHE_DIR).length === 0;

class WebGpuFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const is = (f: TestSpecification, name: string) => f.moduleId.endsWith(name);
    const lastMs = (f: TestSpecification): number | undefined =>
      this.ctx.cache.getFileTestResults(`${f.project.name}:${path.relative(this.ctx.config.root, f.moduleId)}`)?.duration;
    const first = sorted.filter((f) => is(f, FIRST));
    const after = sorted.filter((f) => is(f, AFTER_FIRST));
    const rest = sorted.filter((f) => !is(f, FIRST) && !is(f, AFTER_FIRST));
    const last = first[0] && lastMs(first[0]);
    const expected = mesaCacheEmpty() ? Math.max(last ?? 0, COLD_MS) : last;
    let at = Math.ceil(rest.length / 2); // no last run to go by
    if (expected !== undefined && rest.some((f) => lastMs(f) !== undefined)) {
      let sum = 0;
      at = rest.findIndex((f) => (sum += lastMs(f) ?? 0) >= expected);
      if (at < 0) at = rest.length;
    }
    return [...first, ...rest.slice(0, at), ...after, ...rest.slice(at)];
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Room for a loaded machine: a test that takes 20 s alone can take minutes when other jobs share the two
    // cores. Time is never what a test asserts (speed lives in `bisenet bench`); these only catch hangs.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Parity tests hold a few models in memory at once; two workers suit this 2-core machine.
    maxWorkers: 2,
    sequence: { sequencer: WebGpuFirst },
    // The run's converted models, made once and shared by the files (test/helpers/models.ts).
    globalSetup: ['test/helpers/models-setup.ts'],
    env: { MESA_SHADER_CACHE_DIR },
  },
});
