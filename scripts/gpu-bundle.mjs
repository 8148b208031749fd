#!/usr/bin/env node
// npm run gpu-bundle: a self-contained folder that runs `gpu-check` on a machine with no Node.js and
// no registry (a GPU machine, typically): the Node binary, the code bundled into one file with its
// native addons and wasm beside it, the golden set with an eval-only copy of its checkpoint, and
// run.sh. Big binaries are stored xz-compressed (run.sh unpacks them with xz, or Python's lzma);
// the folder stays under 64 MiB.
//
//   node scripts/gpu-bundle.mjs [--out gpu-bundle] [--no-data] [--no-ort-cpu]
//     --no-data     leave out the golden set and checkpoint (run.sh then needs --golden and --checkpoint)
//     --no-ort-cpu  leave out onnxruntime-node (12 MB), the CPU baseline
// Then, on the other machine: sh gpu-bundle/run.sh [gpu-check options]
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const out = path.resolve(opt('out', path.join(root, 'gpu-bundle')));
const withData = !args.includes('--no-data');
const withOrtCpu = !args.includes('--no-ort-cpu');
const LIMIT = 64 * 2 ** 20;
if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('gpu-bundle builds a linux-x64 bundle; run it on linux-x64');
if (!fs.existsSync(path.join(root, 'dist', 'check', 'runtimes.js'))) throw new Error('build first: npm run build');

const cacheDir = path.join(root, 'node_modules', '.cache', 'bisenet-gpu-bundle');
fs.mkdirSync(cacheDir, { recursive: true });
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
// Package folders (some packages do not export their package.json, so not require.resolve).
const pkgDir = (name, from = root) => {
  for (let d = from; ; d = path.dirname(d)) {
    const p = path.join(d, 'node_modules', name);
    if (fs.existsSync(path.join(p, 'package.json'))) return p;
    if (path.dirname(d) === d) throw new Error(`package ${name} not installed`);
  }
};
const log = (s) => process.stderr.write(`gpu-bundle: ${s}\n`);

/** Copies a file into the bundle; `xz` stores it compressed as <dest>.xz (cached across builds). */
function put(src, dest, { xz = false } = {}) {
  const target = path.join(out, dest) + (xz ? '.xz' : '');
  fs.mkdirSync(path.dirname(target), { recursive: true });
  if (!xz) { fs.copyFileSync(src, target); return; }
  const st = fs.statSync(src);
  const key = crypto.createHash('sha256').update(`${fs.realpathSync(src)}:${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 16);
  const cached = path.join(cacheDir, `${path.basename(src)}.${key}.xz`);
  if (!fs.existsSync(cached)) {
    log(`compressing ${path.relative(root, src) || src} (${(st.size / 2 ** 20).toFixed(1)} MiB)…`);
    execFileSync('sh', ['-c', 'xz -9 -T0 -c "$1" > "$2.tmp" && mv "$2.tmp" "$2"', 'sh', src, cached]);
  }
  fs.copyFileSync(cached, target);
}

// 1. The code: scripts/gpu-check.mjs with the library and its pure-JS dependencies, in one file.
//    Native addons stay external (loaded from app/node_modules); wasm is read from there by path.
const esbuild = await import('esbuild');
await esbuild.build({
  entryPoints: [path.join(root, 'scripts', 'gpu-check.mjs')],
  outfile: path.join(out, 'app', 'gpu-check.mjs'),
  bundle: true, platform: 'node', format: 'esm', target: 'node20', minifyWhitespace: true, minifySyntax: true,
  external: ['webgpu', 'onnxruntime-node', 'playwright-core'],
  // CommonJS dependencies inside an ES module bundle still call require() and read __dirname.
  banner: { js: "import { createRequire as __bCreateRequire } from 'node:module'; import { fileURLToPath as __bToPath } from 'node:url'; import { dirname as __bDirname } from 'node:path';"
    + ' const require = __bCreateRequire(import.meta.url); const __filename = __bToPath(import.meta.url); const __dirname = __bDirname(__filename);' },
  logLevel: 'warning',
});
const nm = 'app/node_modules';
const copyPkgJson = (name) => put(path.join(pkgDir(name), 'package.json'), `${nm}/${name}/package.json`);

// 2. dawn.node (WebGPU) and its loader.
const webgpu = pkgDir('webgpu');
copyPkgJson('webgpu');
put(path.join(webgpu, 'index.js'), `${nm}/webgpu/index.js`);
put(path.join(webgpu, 'dist', 'linux-x64', 'dawn.node'), `${nm}/webgpu/dist/linux-x64/dawn.node`, { xz: true });
// 3. wasm: onnxruntime-web's WebGPU build, tfjs-backend-wasm's.
const ortWeb = pkgDir('onnxruntime-web');
copyPkgJson('onnxruntime-web');
// Its `webgpu` build in 1.30 is the asyncify one: a .mjs glue it imports at run time, and the .wasm.
put(path.join(ortWeb, 'dist', 'ort-wasm-simd-threaded.asyncify.mjs'), `${nm}/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs`);
put(path.join(ortWeb, 'dist', 'ort-wasm-simd-threaded.asyncify.wasm'), `${nm}/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm`, { xz: true });
// Bundled, but the runtime registry checks that optional packages are installed by their package.json.
copyPkgJson('@tensorflow/tfjs-backend-webgpu');
const tfw = pkgDir('@tensorflow/tfjs-backend-wasm');
copyPkgJson('@tensorflow/tfjs-backend-wasm');
for (const f of fs.readdirSync(path.join(tfw, 'dist')).filter((f) => f.endsWith('.wasm'))) put(path.join(tfw, 'dist', f), `${nm}/@tensorflow/tfjs-backend-wasm/dist/${f}`, { xz: true });
// 4. onnxruntime-node (the CPU baseline): its JS, the linux-x64 binding, onnxruntime-common.
if (withOrtCpu) {
  const ortNode = pkgDir('onnxruntime-node');
  copyPkgJson('onnxruntime-node');
  for (const f of fs.readdirSync(path.join(ortNode, 'dist')).filter((f) => f.endsWith('.js'))) put(path.join(ortNode, 'dist', f), `${nm}/onnxruntime-node/dist/${f}`);
  const bin = path.join(ortNode, 'bin', 'napi-v6', 'linux', 'x64');
  for (const f of fs.readdirSync(bin)) put(path.join(bin, f), `${nm}/onnxruntime-node/bin/napi-v6/linux/x64/${f}`, { xz: f.endsWith('.so.1') || f.endsWith('.so') });
  const common = pkgDir('onnxruntime-common', ortNode);
  put(path.join(common, 'package.json'), `${nm}/onnxruntime-common/package.json`);
  for (const sub of ['cjs', 'esm']) {
    const d = path.join(common, 'dist', sub);
    for (const f of fs.readdirSync(d).filter((f) => f.endsWith('.js') || f === 'package.json')) put(path.join(d, f), `${nm}/onnxruntime-common/dist/${sub}/${f}`);
  }
}
// 5. Node itself.
put(process.execPath, 'node', { xz: true });

// 6. Data: the golden set (inputs and eval outputs) and its checkpoint without the booster heads.
const defaults = [];
if (withData) {
  const lib = await import(path.join(root, 'dist', 'index.js'));
  const goldenDir = path.join(root, 'golden', 'coincheung-bisenetv2-n19');
  for (const f of ['input.npy', 'logits.npy', 'labels.npy', 'manifest.json']) put(path.join(goldenDir, f), `data/golden/coincheung-bisenetv2-n19/${f}`);
  const ckpt = lib.loadCheckpoint(path.join(root, 'fixtures', 'coincheung-bisenetv2-n19', 'model.pth'));
  const tensors = new Map([...ckpt.tensors].filter(([k]) => !/^aux/.test(k)).map(([k, t]) => [k, t.load()]));
  const st = lib.writeSafetensors(tensors, { source: 'fixtures/coincheung-bisenetv2-n19/model.pth without the booster (aux) heads' });
  fs.mkdirSync(path.join(cacheDir, 'data'), { recursive: true });
  const stFile = path.join(cacheDir, 'data', 'model.safetensors');
  if (!fs.existsSync(stFile) || !fs.readFileSync(stFile).equals(Buffer.from(st))) fs.writeFileSync(stFile, st);
  put(stFile, 'data/model.safetensors', { xz: true });
  defaults.push('--golden "$U/data/golden/coincheung-bisenetv2-n19" --checkpoint "$U/data/model.safetensors"');
}

// 7. run.sh
fs.writeFileSync(path.join(out, 'run.sh'), `#!/bin/sh
# bisenet-port gpu-check, self-contained (made by npm run gpu-bundle): sh run.sh [gpu-check options]
# Unpacks into $BISENET_UNPACK_DIR (default \${TMPDIR:-/tmp}/bisenet-gpu-bundle), then runs the check.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
U="\${BISENET_UNPACK_DIR:-\${TMPDIR:-/tmp}/bisenet-gpu-bundle}"
unxz_to() { if command -v xz >/dev/null 2>&1; then xz -dc "$1" > "$2"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi; }
mkdir -p "$U"
(cd "$HERE" && find . -type f ! -name run.sh) | while read -r f; do
  case "$f" in
    *.xz) dest="$U/\${f%.xz}"; if [ ! -f "$dest" ] || [ "$HERE/$f" -nt "$dest" ]; then mkdir -p "$(dirname "$dest")"; unxz_to "$HERE/$f" "$dest.part" && mv "$dest.part" "$dest"; fi ;;
    *) mkdir -p "$(dirname "$U/$f")"; cp "$HERE/$f" "$U/$f" ;;
  esac
done
chmod +x "$U/node"
# Vulkan: the loader (libvulkan1) must be installed; NVIDIA's driver ships its ICD file outside the
# loader's search path on some machines.
if ! (ldconfig -p 2>/dev/null | grep -q 'libvulkan\\.so\\.1 '); then echo "run.sh: no Vulkan loader (libvulkan.so.1) here: the WebGPU runtimes will be unavailable" >&2; fi
if [ -z "\${VK_ICD_FILENAMES:-}\${VK_DRIVER_FILES:-}" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then export VK_DRIVER_FILES="$f"; break; fi
  done
fi
cd "$U"
exec "$U/node" "$U/app/gpu-check.mjs" ${defaults.join(' ')} "$@"
`, { mode: 0o755 });

// Size check.
let total = 0;
const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else total += fs.statSync(p).size; } };
walk(out);
log(`${path.relative(process.cwd(), out) || out}/: ${(total / 2 ** 20).toFixed(1)} MiB${withData ? '' : ' (no data)'}${withOrtCpu ? '' : ' (no onnxruntime-node)'}; run it with: sh ${path.relative(process.cwd(), out) || out}/run.sh`);
if (total > LIMIT) { log(`over the 64 MiB limit (${(total / 2 ** 20).toFixed(1)} MiB)`); process.exitCode = 1; }
