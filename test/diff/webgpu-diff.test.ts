/**
 * The real case: onnxruntime-web 1.30's WebGPU EP with its defaults against onnxruntime-node on the
 * same .onnx. `diff` must name the first grouped conv with several outputs per group (the first GE
 * layer's dw1) and nothing before it. Skips where there is no WebGPU adapter (lavapipe in CI);
 * BISENET_REQUIRE_WEBGPU=1 turns the skip into a failure, as in test/runtime/webgpu.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { diffModels } from '../../src/diff/index.js';
import { readNpy } from '../../src/checkpoint/npy.js';
import { openAdapter } from '../../src/runtime/webgpu.js';
import { isBisenetError } from '../../src/util/errors.js';
import { converted } from '../helpers/models.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
let adapter: string | null = null;
let noAdapter = '';

beforeAll(async () => {
  work = tmpDir('bisenet-webgpu-diff-');
  try { adapter = (await openAdapter('auto')).label; } catch (e) { noAdapter = isBisenetError(e) ? e.message : String(e); }
  fs.writeFileSync(path.join(work, 'model.onnx'), converted(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' }).bytes);
}, 120_000);
afterAll(() => { fs.rmSync(work, { recursive: true, force: true }); });

function needAdapter(ctx: TestContext): void {
  if (adapter) return;
  if (process.env.BISENET_REQUIRE_WEBGPU === '1') throw new Error(`BISENET_REQUIRE_WEBGPU=1 but no WebGPU adapter: ${noAdapter} (run scripts/ci-vulkan.sh)`);
  ctx.skip(`no WebGPU adapter here: ${noAdapter}`);
}

describe('diff ort-cpu against ort-webgpu-default', () => {
  it('names the first GE layer\'s grouped conv', async (ctx) => {
    needAdapter(ctx);
    const model = path.join(work, 'model.onnx');
    const r = await diffModels({ path: model, runtime: 'ort-cpu' }, { path: model, runtime: 'ort-webgpu-default' },
      { source: 'golden', arrays: [readNpy(golden(UPSTREAM, 'input.npy'))] });
    expect(r.agree).toBe(false);
    expect(r.first_divergence).toMatchObject({ tensor: 'semantic.stage3.0.dw1.conv', op: 'conv+batchnorm' });
    expect(r.first_divergence!.inputs.every((i) => i.relative_error < 1e-4)).toBe(true);
  }, 300_000);

  it('and finds nothing with the NCHW workaround', async (ctx) => {
    needAdapter(ctx);
    const model = path.join(work, 'model.onnx');
    const r = await diffModels({ path: model, runtime: 'ort-cpu' }, { path: model, runtime: 'ort-webgpu' },
      { source: 'golden', arrays: [readNpy(golden(UPSTREAM, 'input.npy'))] });
    expect(r.first_divergence).toBeNull();
  }, 300_000);
});
