/**
 * The slow tier: cases that add minutes on a 2-core machine without covering another runtime or
 * code path (the package installed from its tarball; WebGL's float16-texture and unpacked variants,
 * measured for docs/parity.md; the WebGPU pages in Chromium, chromium-webgpu and chromium-ort-webgpu, whose
 * pages are those of chromium-wasm and chromium-ort-wasm and whose backends tfjs-webgpu and ort-webgpu
 * run in Node). They run where BISENET_TEST_FULL=1 asks for them; CI sets it (.ci/run).
 * A plain `npm test` skips them and says so in its summary (skipped tests).
 */
export const FULL_TIER = process.env.BISENET_TEST_FULL === '1';
