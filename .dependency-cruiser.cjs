/**
 * Import rules for src/, checked by `npm test` (npm run lint:deps): no cycles, lower floors never import
 * upper ones (a runtime never imports the converter or the CLI), the CLI sits on top, and optional
 * runtime packages (optional peerDependencies) are only ever imported lazily.
 * Floors, bottom up: util; ir, checkpoint; models, port, emit; the model checks (src/model-check/) and the
 * model file's light modules (its kind and one reader per model kind: src/model-file/{kind,onnx,tfjs,tflite,
 * tensorrt}.ts, util and the checks only); runtime; the model file's reader, presets and memory
 * (src/model-file/); verify; the commands (convert, infer, segment, eval, serve, inspect, diff, bench, quant,
 * doctor: one folder each); index; cli.
 */
/** The model-file room's light modules: what a path is, and the reader (and codec) of each kind of model file. */
const LIGHT = '^src/model-file/(kind|onnx|tfjs|tflite|tensorrt)\\.ts$';
/** The commands' homes: one folder per command (quant/ holds calibrate and quantize). */
const COMMANDS = '(convert|infer|segment|eval|serve|inspect|diff|bench|quant|doctor)';
const ABOVE_RUNTIME = `^src/index\\.ts$|^src/(cli|verify|port|models|checkpoint|${COMMANDS.slice(1, -1)})/`;
module.exports = {
  forbidden: [
    { name: 'web-pages-never-reach-node', severity: 'error',
      comment: 'The browser pages (src/web, served from dist/web) and every module they import run in a browser: none may reach a Node built-in (node:fs made the serve page fail to load).',
      from: { path: '^src/web/' }, to: { path: '^(node:)?(fs|path|os|child_process|crypto|url|module|v8|http|net|worker_threads|zlib|stream|util)$', reachable: true } },
    { name: 'no-circular', severity: 'error', comment: 'An import cycle: modules that cannot be understood (or loaded) one at a time.',
      from: { path: '^src/' }, to: { circular: true } },
    { name: 'cli-on-top', severity: 'error', comment: 'Only the CLI imports the CLI; the library never does.',
      from: { path: '^src/', pathNot: '^src/cli/' }, to: { path: '^src/cli/' } },
    { name: 'util-is-the-floor', severity: 'error', comment: 'src/util imports nothing else of the project.',
      from: { path: '^src/util/' }, to: { path: '^src/', pathNot: '^src/util/' } },
    { name: 'ir-and-checkpoint-low', severity: 'error', comment: 'The IR and the checkpoint readers import only themselves and util.',
      from: { path: '^src/(ir|checkpoint)/' }, to: { path: '^src/', pathNot: ['^src/util/', '^src/$1/'] } },
    { name: 'emit-below-runtime', severity: 'error', comment: 'Emitters write formats; they never run, verify, convert or parse arguments.',
      from: { path: '^src/emit/' }, to: { path: `^src/(runtime|verify|cli|model-file|model-check|${COMMANDS.slice(1, -1)})/|^src/index\\.ts$` } },
    { name: 'runtime-not-into-converter', severity: 'error',
      comment: 'A runtime loads and runs models: it never imports the converter, the checks, the verifier or the CLI above it. '
        + 'One exception, by design: the reference runtime runs a checkpoint, so it reads and ports it (never emits, verifies or converts).',
      from: { path: '^src/runtime/', pathNot: '^src/runtime/reference\\.ts$' }, to: { path: ABOVE_RUNTIME } },
    { name: 'reference-runtime-reads-checkpoints-only', severity: 'error',
      comment: 'The reference runtime may read checkpoints and port them; nothing else above the runtimes.',
      from: { path: '^src/runtime/reference\\.ts$' }, to: { path: ABOVE_RUNTIME, pathNot: '^src/(checkpoint|port)/' } },
    { name: 'runtime-reads-formats-only', severity: 'error',
      comment: 'From the emitters a runtime may take types and the tfjs format constants (tfjs-common), never an emitter.',
      from: { path: '^src/runtime/' }, to: { path: '^src/emit/', pathNot: '^src/emit/tfjs-common\\.ts$', dependencyTypesNot: ['type-only'] } },
    { name: 'verify-below-convert', severity: 'error', comment: 'The verifier compares outputs; it does not convert, check runtimes or parse arguments (it may run the layer-wise diff: verify --layers).',
      from: { path: '^src/verify/' }, to: { path: `^src/(cli|emit|port|${COMMANDS.slice(1, -1).replace('|diff', '')})/|^src/index\\.ts$` } },
    { name: 'model-checks-below-runtime', severity: 'error',
      comment: 'The model checks (src/model-check/) judge bytes before any runtime sees them: they import util, each other and the ONNX codec, nothing above.',
      from: { path: '^src/model-check/' }, to: { path: '^src/', pathNot: ['^src/(util|model-check)/', '^src/model-file/(kind|onnx)\\.ts$', '^src/emit/tfjs-common\\.ts$'] } },
    { name: 'commands-stay-home', severity: 'error',
      comment: 'A command\'s folder is its own: another command may use its public face (index.ts), not its insides. '
        + 'One exception, by design: segment\'s pipeline (decode, resize, run, colour) is shared by the commands that segment images.',
      from: { path: `^src/${COMMANDS}/` }, to: { path: `^src/${COMMANDS}/(?!index\\.ts$)`, pathNot: ['^src/$1/', '^src/segment/'] } },
    { name: 'segment-pipeline-for-segmenters', severity: 'error',
      comment: 'Segment\'s parts are read by the commands that segment images (eval, serve, calibrate and quantize in quant/), not by the others.',
      from: { path: `^src/${COMMANDS}/`, pathNot: '^src/(segment|eval|serve|quant)/' }, to: { path: '^src/segment/(?!index\\.ts$)' } },
    { name: 'optional-packages-lazily', severity: 'error',
      comment: 'Optional runtime packages (optional peerDependencies) may be missing: import them with import() where used, never statically.',
      from: { path: '^src/' }, to: { dependencyTypes: ['npm-peer'], dependencyTypesNot: ['dynamic-import', 'type-only', 'type-import'] } },
    { name: 'cli-starts-light', severity: 'error',
      comment: 'The CLI entry (main, quiet) statically imports only data and small helpers: every command, runner and emitter is imported '
        + 'when its command runs (import()), so that `bisenet convert` never loads tfjs, onnxruntime or onnx-proto (issue 13: start-up).',
      from: { path: '^src/cli/(main|quiet)\\.ts$' },
      to: { path: '^src/', pathNot: ['^src/util/', '^src/runtime/(catalog|packages)\\.ts$', '^src/emit/(targets|opset)\\.ts$', '^src/cli/(exit|options)\\.ts$'],
        dependencyTypesNot: ['dynamic-import', 'type-only', 'type-import'] } },
    { name: 'onnx-proto-through-util', severity: 'error',
      comment: 'onnx-proto (330 KB of generated code) is loaded by src/util/onnx-proto.ts alone, with require (issue 13: start-up); '
        + 'nothing else imports the package, not even for types (take OnnxProto from there or from src/model-file/onnx.ts).',
      from: { path: '^src/', pathNot: '^src/util/onnx-proto\\.ts$' }, to: { path: '(^|/)node_modules/onnx-proto/' } },
    { name: 'models-decoded-in-model-file', severity: 'error',
      comment: 'A model file is opened and decoded in one room, src/model-file/ (issue 21): every other reader of ONNX goes through it '
        + '(readModelFile, decodeOnnx). The emitters, which write ONNX, build ModelProtos themselves.',
      from: { path: '^src/', pathNot: ['^src/(model-file|emit)/', '^src/util/onnx-proto\\.ts$'] },
      to: { path: '^src/util/onnx-proto\\.ts$', dependencyTypesNot: ['type-only', 'type-import'] } },
    { name: 'model-kind-and-codec-light', severity: 'error',
      comment: 'The model-file room\'s light modules (kind.ts; the readers of each kind: onnx.ts with the ONNX codec, tfjs.ts, tflite.ts, '
        + 'tensorrt.ts) import util, the model checks and each other only (from the emitters, types), so that the runtimes may use them.',
      from: { path: LIGHT }, to: { path: '^src/', pathNot: ['^src/(util|model-check)/', LIGHT, '^src/emit/'] } },
    { name: 'model-light-takes-emitter-types-only', severity: 'error',
      comment: 'From the emitters the light modules take the types of the formats they read (the TensorRT manifest), never code.',
      from: { path: LIGHT }, to: { path: '^src/emit/', dependencyTypesNot: ['type-only', 'type-import'] } },
    { name: 'runtime-takes-kind-and-codec', severity: 'error',
      comment: 'A runtime asks the model-file room what a path is (kind.ts) and reads a model with its light readers (onnx.ts, tfjs.ts, '
        + 'tflite.ts, tensorrt.ts); the readers above (readModelFile, metadata, presets) are the commands\'.',
      from: { path: '^src/runtime/' }, to: { path: '^src/model-file/', pathNot: LIGHT } },
    { name: 'runtime-reads-no-model-itself', severity: 'error',
      comment: 'A runtime never reads or parses a model file itself (issue 21): the bounded reads (readFileChecked: --budget file-bytes; '
        + 'shard paths kept inside the model directory) and the bounded JSON parser (model.json, tensorrt.json) are the model-file '
        + 'room\'s (src/model-file/), which reads each kind once and hands the read file over (RunnerOptions onnx, tfjs, tflite).',
      from: { path: '^src/runtime/' }, to: { path: '^src/util/(fs|json)\\.ts$' } },
    { name: 'runtime-file-system-named', severity: 'error',
      comment: 'The runtimes that touch the file system, for other things than model files: Chromium (its executable, its temporary '
        + 'profile), the web server (the pages and vendor builds it serves), LiteRT (its loader script), TensorRT (trtexec and the files '
        + 'it reads and writes), onnxruntime (its temporary folder), WebGPU (the Vulkan driver), the registry and packages (whether a '
        + 'model or a package is there). Any other runtime takes its model from the model-file room and never opens a file.',
      from: { path: '^src/runtime/', pathNot: '^src/runtime/(chromium|web-server|litert|tensorrt|ort|webgpu|index|packages)\\.ts$' },
      to: { path: '^(node:)?fs(/promises)?$' } },
    { name: 'no-dev-dependencies-in-src', severity: 'error', comment: 'The package must run with its dependencies only.',
      from: { path: '^src/' }, to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['npm-peer', 'type-only'] } },
    { name: 'no-tests-in-src', severity: 'error', comment: 'Test helpers (test/, the fuzzer) are not part of the package.',
      from: { path: '^src/' }, to: { path: '^test/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
