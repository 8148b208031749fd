import { Command, CommanderError, Option } from 'commander';
import { MAX_OPSET, MIN_OPSET } from '../emit/opset.js';
import { TARGET_IDS, targetHelp } from '../emit/targets.js';
import { isBisenetError } from '../util/errors.js';
import { setVerbose } from '../util/verbosity.js';
import { ExitCode } from './exit.js';
import { LIMITS, parseQuantity, setLimit } from '../util/limits.js';
import { escapeText, guardStreams } from '../util/render.js';
import { endOpenLine, installInterruptHandlers, settleSignals } from '../util/interrupt.js';
import { PACKAGE } from '../util/version.js';
import {
  badOption, deviceOption, floatOption, int8Options, intOption, outputOptions, PRECISION_IDS, presetOptions, quietOption, runtimeId, runtimeList,
  runtimeOptions, runtimesHelp, threadsOption,
} from './options.js';

/**
 * The `bisenet` command line: it parses arguments and prints; the work is done by the library.
 * Exit codes: 0 success, 1 verification mismatch, 2 user mistake (bad file, option, shape), 3 bug.
 * Target and runtime choices and their help come from the registries' data (src/emit/targets.ts,
 * src/runtime/catalog.ts); each command's module, and so every runner and emitter, is imported when it runs.
 */
export { ExitCode } from './exit.js';

let verbose = false;

/** --opset: checked when parsed, against the range the ONNX emitter writes. */
function opsetOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < MIN_OPSET || n > MAX_OPSET) badOption(`--opset ${v} is not supported (${MIN_OPSET}–${MAX_OPSET})`);
  return n;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('bisenet')
    .description('Port BiSeNet V2 checkpoints to ONNX, run them, and verify parity against PyTorch goldens')
    .version(PACKAGE.version)
    .option('-v, --verbose', 'print details of errors (e.g. every mismatching key)')
    .option('--budget <name=value>', 'change a resource limit (repeatable; see docs/security.md, Limits), e.g. --budget zip-inflated-bytes=4GiB', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--max-memory <size>', `largest estimated memory for a model run (default ${(LIMITS.modelMemory / 2 ** 20).toFixed(0)} MiB here), e.g. 4GiB`)
    .hook('preAction', (cmd) => {
      const g = cmd.opts() as { verbose?: boolean; budget?: string[]; maxMemory?: string };
      verbose = Boolean(g.verbose);
      setVerbose(verbose);
      for (const l of g.budget ?? []) setLimit(l);
      if (g.maxMemory !== undefined) LIMITS.modelMemory = parseQuantity(g.maxMemory, '--max-memory');
    })
    .exitOverride()
    // Commander puts its suggestion on a second line ("…\n(Did you mean verify?)"): one line, as every message.
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(`${escapeText(s.trim().replace(/\s*\n\s*/g, ' '))}\n`) });

  program.command('inspect')
    .description('identify a checkpoint (family, class count, booster heads, tensors, problems) or describe an exported model, ONNX, tfjs or .tflite (format, opsets, producer, inputs and outputs, operators, weights, recorded classes and preprocessing)')
    .argument('<file>', 'a checkpoint (.pth torch.save zip, .safetensors, PaddleSeg .pdparams) or an exported model (.onnx file, TensorFlow.js model directory or its model.json, .tflite file)')
    .option('--json', 'print JSON instead of text')
    .action(async (file: string, o: { json?: boolean }) => (await import('./inspect.js')).inspectCommand(file, o));

  const convert = program.command('convert')
    .description('convert a checkpoint to a deployable model')
    .argument('<checkpoint>', '.pth (torch.save zip), .safetensors or PaddleSeg .pdparams file')
    .addOption(new Option('--to <target>', 'target format (see "Targets" below)').choices(TARGET_IDS).makeOptionMandatory())
    .requiredOption('--out <path>', 'output: a .onnx file, or a directory for the tfjs and tensorrt targets')
    .option('--opset <n>', `onnx, tensorrt: ONNX opset (${MIN_OPSET}–${MAX_OPSET}, default 17)`, opsetOption)
    .option('--aux', 'also export the four booster heads as outputs aux2, aux3, aux4, aux5_4')
    .option('--labels', 'add a "labels" output: argmax over classes (int64)')
    .option('--classes <n>', 'expected class count (an error if the checkpoint differs)', intOption('--classes', 1, 100000));
  presetOptions(convert, 'convert')
    .addOption(new Option('--quantize <dtype>', 'tfjs targets: store weights quantized per tensor; tflite: float16 only (FLOAT16 constants + DEQUANTIZE)').choices(['float16', 'uint8', 'uint16']))
    .option('--shard-size <MiB>', 'tfjs targets: largest weight shard in MiB (default 4)', floatOption('--shard-size'))
    .addOption(new Option('--grouped-conv <form>', 'onnx: grouped convs as one Conv (native) or channel repeat + depthwise (exact; avoids onnxruntime-web WebGPU\'s grouped-conv bug)').choices(['native', 'depthwise']))
    .option('--expose <all|names>', 'onnx, tfjs: also output these intermediate tensors (IR names, comma-separated) or all, after the model\'s own outputs (for bisenet diff and debugging)')
    .option('--shapes <NxCxHxW[:opt:max]>', 'tensorrt: input size (static), or min:opt:max sizes for an optimization profile; tflite: the one input size (default 1x3x512x1024)')
    .addOption(new Option('--precision <p>', 'onnx, tensorrt: fp32 (default); fp16 (float16 weights and compute, float32 input/outputs); int8 (QDQ, needs --calibration; tensorrt: also calib.cache). tflite: int8 (integer TFLite: int8 weights and activations, needs --calibration)').choices(PRECISION_IDS));
  int8Options(convert, { prefix: 'int8: ' })
    .option('--allow-nonfinite', 'convert even if weights hold NaN/Inf or a running variance is negative (refused otherwise)');
  outputOptions(convert, { json: 'a summary (target, files and bytes, classes, outputs)', force: 'replace the output (and the --json file) if it exists' })
    .addHelpText('after', () => `\nTargets (--to):\n${targetHelp()}\n`)
    .action(async (file: string, o) => (await import('./convert.js')).convertCommand(file, o));

  const calibrate = program.command('calibrate')
    .description('record the range of every tensor of a model over calibration images fed as segment feeds them (min/max, a percentile, TensorRT\'s entropy threshold), for int8 conversion')
    .argument('<model>', 'a checkpoint (.pth, .safetensors, .pdparams; converted in memory) or an .onnx written by bisenet convert')
    .requiredOption('--data <dir>', 'calibration images: a folder of .png/.jpg, or a labelled set (its images/); not the images you evaluate on')
    .requiredOption('--out <calib.json>', 'where to write the ranges')
    .option('--limit <n>', 'only the first n images (sorted by name)', intOption('--limit', 1, 10_000_000))
    .option('--percentile <p>', 'percentile recorded beside min/max and entropy (default 99.99)', floatOption('--percentile'));
  quietOption(presetOptions(threadsOption(calibrate), 'model'));
  outputOptions(calibrate, { force: 'replace --out if it exists' })
    .action(async (model: string, o) => (await import('./calibrate.js')).calibrateCommand(model, o));

  const quantize = program.command('quantize')
    .description('int8 with the layers that cannot take it kept in float: calibrate, measure each conv\'s damage, keep the worst in float until eval\'s mIoU drop is within the bound; exit 1 if no mix reaches it')
    .argument('<checkpoint>', '.pth (torch.save zip), .safetensors or PaddleSeg .pdparams file')
    .addOption(new Option('--to <target>', 'onnx, tensorrt or tflite (the search runs on the ONNX form; a TFLite result is scored in litert-wasm too)').choices(['onnx', 'tensorrt', 'tflite']).makeOptionMandatory())
    .requiredOption('--out <path>', 'output: a .onnx or .tflite file, or a directory for tensorrt')
    .requiredOption('--calibration-data <dir>', 'calibration images (a folder, or a labelled set\'s images/); not the eval images')
    .requiredOption('--eval-data <dir>', 'labelled set the mIoU is judged on (see eval --data)')
    .option('--max-miou-drop <points>', 'largest mIoU drop against float32 allowed, in points', floatOption('--max-miou-drop'), 0.5);
  int8Options(quantize, { prefix: '' })
    .option('--max-float <n>', 'most convs the search may keep in float (default a quarter of them)', intOption('--max-float', 0, 100000))
    .option('--calibration-limit <n>', 'only the first n calibration images', intOption('--calibration-limit', 1, 10_000_000))
    .option('--eval-limit <n>', 'only the first n eval images', intOption('--eval-limit', 1, 10_000_000))
    .option('--sensitivity-images <n>', 'calibration images each conv\'s damage is measured on (default 2)', intOption('--sensitivity-images', 1, 1000))
    .option('--shapes <NxCxHxW[:opt:max]>', 'tensorrt: input size or min:opt:max; tflite: the one input size (see convert)')
    .option('--labels', 'add a "labels" output (argmax)');
  quietOption(threadsOption(quantize));
  outputOptions(quantize, { force: 'replace --out if it exists' })
    .action(async (checkpoint: string, o) => (await import('./quantize.js')).quantizeCommand(checkpoint, o));

  const infer = program.command('infer')
    .description('run a model on an input .npy and write its outputs as .npy')
    .argument('<model>', 'model: an .onnx file, or a TensorFlow.js model directory or its model.json')
    .requiredOption('--input <x.npy>', 'input, N×3×H×W float32 (H, W multiples of 32)')
    .requiredOption('--out <y.npy>', 'where to write the first output (logits), float32')
    .option('--aux', 'also write booster outputs to sibling files (<out>.aux2.npy …)')
    .option('--labels', 'also write the labels output (or the argmax of logits) to <out>.labels.npy');
  outputOptions(runtimeOptions(infer, { tfjsFlags: true }))
    .action(async (model: string, o) => (await import('./infer.js')).inferCommand(model, o));

  const segment = program.command('segment')
    .description('segment images (PNG or JPEG) with a model, using the preprocessing recorded in it: one image to --out, or many to --out-dir')
    .argument('<model>', 'model: an .onnx file, a tfjs model directory, or a checkpoint (.pth, .safetensors, .pdparams: converted in memory, nothing written)')
    .argument('[images...]', 'images, directories (their .png/.jpg files) or glob patterns (quoted: \'frames/**/*.png\'); with --out-dir')
    .option('--image <file>', 'one image to segment (PNG or JPEG, any size)')
    .option('--out <mask.png>', 'where to write the segmentation of one image (palette colours, or --raw class indices)')
    .option('--out-dir <dir>', 'many images: write <dir>/<name>.png for each (and <name>.overlay.png with --overlay); all or nothing, but Ctrl-C keeps the finished ones')
    .option('--overlay [file]', 'also write the palette blended on the photo: to this .png (one image; default <out>.overlay.png), or <name>.overlay.png (--out-dir)')
    .option('--raw', 'write class indices as 8-bit grey instead of palette colours')
    .option('--batch <n>', 'images per inference (images of one processing size are batched)', intOption('--batch', 1, 64), 1);
  runtimeOptions(segment, { tfjsFlags: true, runtimeHelp: 'runtime (default: ort-cpu for .onnx and checkpoints, tfjs-wasm for tfjs models; see "Runtimes" below)' });
  quietOption(presetOptions(segment, 'model'), 'no progress output (--out-dir)');
  outputOptions(segment, { json: 'a summary (per image: input, outputs, size, class histogram, times)', force: 'replace outputs (and the --json file) that exist' })
    .action(async (model: string, images: string[], o) => (await import('./segment.js')).segmentCommand(model, images, o));

  const evalCmd = program.command('eval')
    .description('score a model on a labelled set (mIoU, per-class IoU, pixel accuracy; Cityscapes conventions); exit 1 when --compare-to differs by more than --max-miou-drop')
    .argument('<model>', 'model: an .onnx file, a tfjs model directory, or a checkpoint (converted in memory, nothing written)')
    .requiredOption('--data <dir>', 'labelled set: <dir>/images/*.png|jpg and <dir>/labels/<same name>.png (8-bit class indices, 255 = ignore)')
    .option('--labels <dir>', 'labels from this directory instead of <data>/labels, e.g. PyTorch\'s predictions: pixel accuracy is then label agreement')
    .option('--compare-to <miou|manifest.json>', 'reference mIoU in percent (e.g. PyTorch\'s), or a JSON manifest recording it')
    .option('--max-miou-drop <points>', 'largest |mIoU − reference| allowed, in points (default 0.1; 0.5 for models converted --precision int8)', floatOption('--max-miou-drop'))
    .option('--min-agreement <share>', 'with --labels of a reference model: least share of agreeing labels (default for models converted --precision fp16 0.999, int8 0.99; none for float32)', floatOption('--min-agreement'))
    .option('--limit <n>', 'only the first n images (sorted by name)', intOption('--limit', 1, 10_000_000));
  runtimeOptions(evalCmd);
  quietOption(presetOptions(evalCmd, 'model'));
  outputOptions(evalCmd, { json: 'the scores', force: 'replace the --json file if it exists' })
    .action(async (model: string, o) => (await import('./eval.js')).evalCommand(model, o));

  const verify = program.command('verify')
    .description('run golden inputs through a model and compare with golden outputs; exit 0 pass, 1 mismatch, 2 bad input')
    .argument('<model>', 'model: an .onnx file, or a TensorFlow.js model directory or its model.json')
    .requiredOption('--golden <dir>', 'golden set: a directory with input.npy and reference outputs (or subdirectories of such)')
    .option('--junit <file>', 'also write the report as JUnit XML (a test case per golden case and output), for CI dashboards')
    .option('--tolerance <rel>', 'max |Δ| allowed, relative to max |reference| (default: the runtime\'s, 1e-4 for CPU and wasm, 1e-3 for GPU and WebGL)', floatOption('--tolerance'))
    .option('--min-agreement <share>', 'least share of agreeing argmax labels (default: the runtime\'s, 0.9999 for CPU and wasm, 0.999 for GPU and WebGL)', floatOption('--min-agreement'))
    .option('--layers [names]', 'also compare every intermediate tensor (or these, comma-separated) with the reference interpreter on the golden set\'s checkpoint')
    .option('--checkpoint <file>', 'with --layers: the checkpoint (default: the one the golden manifest names)');
  runtimeOptions(verify, { tfjsFlags: true });
  outputOptions(verify, { json: 'the report', force: 'replace the --json and --junit files if they exist' })
    .action(async (model: string, o) => (await import('./verify.js')).verifyCommand(model, o));

  const serve = program.command('serve')
    .description('serve a page to try a model in a browser: drop an image, see the mask, time it, and check the golden set on that device')
    .argument('<model>', 'model: an .onnx file, a tfjs model directory or its model.json, or a checkpoint (converted in memory to tfjs-layers, nothing written)')
    .option('--port <n>', 'port (default: a free one)', intOption('--port', 0, 65535))
    .option('--host <address>', 'address to listen on; anything but loopback prints a warning', '127.0.0.1')
    .option('--golden <dir>', 'golden set of this model, for the page\'s "check this device" button');
  presetOptions(serve, 'model')
    .action(async (model: string, o) => (await import('./serve.js')).serveCommand(model, o));

  const diff = program.command('diff')
    .description('run one input through two models and compare every intermediate tensor; names the first that diverges. Exit 0 agree, 1 divergence, 2 bad input')
    .argument('<A>', 'a checkpoint (run in the reference interpreter), an .onnx file, or a TensorFlow.js model directory or its model.json')
    .argument('<B>', 'the same kinds as A')
    .option('--input <x.npy>', 'input, N×3×H×W (default: a deterministic 1×3×96×160)')
    .option('--golden <dir>', 'use the golden set\'s input(s)')
    .option('--runtime-a <id>', 'runtime for A (default: from the file: reference, ort-cpu or tfjs-wasm; see "Runtimes" below)', runtimeId)
    .option('--runtime-b <id>', 'runtime for B', runtimeId)
    .option('--layers <names>', 'all (default), or a comma-separated list of tensors to compare')
    .option('--tolerance <rel>', 'per-tensor max |Δ| allowed, relative to max |A| of that tensor', floatOption('--tolerance'), 1e-4);
  runtimesHelp(deviceOption(threadsOption(diff)));
  outputOptions(diff, { json: 'the report', force: 'replace the --json file if it exists' })
    .action(async (a: string, b: string, o) => (await import('./diff.js')).diffCommand(a, b, o));

  const doctor = program.command('doctor')
    .description('list every runtime this machine can run (with its GPU adapter) and run the golden set through each; exit 1 if one fails parity')
    .option('--golden <dir>', 'golden set (default: golden/coincheung-bisenetv2-n19 in a clone; without one, doctor only lists the runtimes)')
    .option('--checkpoint <file>', 'the golden set\'s checkpoint (default: from its manifest)')
    .option('--runtimes <ids>', 'comma-separated runtimes to check (default: all; see "Runtimes" below)', runtimeList('--runtimes'))
    .option('--list', 'only list the runtimes and adapters; run nothing');
  runtimesHelp(deviceOption(doctor));
  outputOptions(doctor, { json: 'the results', force: 'replace the --json file if it exists' })
    .action(async (o) => (await import('./doctor.js')).doctorCommand(o));

  const bench = program.command('bench')
    .description('time a model per runtime and input size (median/min/max, frames/s, GFLOP/s, kernel time where the runtime reports it), as a ratio to each runtime\'s rate on a dense conv stack; warns when the machine is busy')
    .option('--model <path>', 'a model: .onnx, or a tfjs model directory')
    .option('--checkpoint <file>', 'a checkpoint, converted in memory to what each runtime loads')
    .option('--runtime <ids>', 'comma-separated runtimes (default: ort-cpu,tfjs-wasm, those that load the model)', runtimeList('--runtime'))
    .option('--size <HxW,…>', 'input sizes, H and W multiples of 32 (default 512x1024)')
    .option('--runs <n>', 'timed runs per runtime and size', intOption('--runs', 1, 1000), 5)
    .option('--warmup <n>', 'untimed runs first', intOption('--warmup', 0, 100), 1)
    .option('--precision <list>', 'with --checkpoint: also time ort-cpu on the model converted to these precisions, e.g. fp16,int8, and litert-wasm on integer TFLite for int8 (int8 needs --calibration)')
    .option('--calibration <calib.json>', 'with --precision int8: the ranges from bisenet calibrate')
    .option('--no-conv-stack', 'skip the conv-stack reference run')
    .addOption(new Option('--no-ceiling').hideHelp())
    .option('--wide', 'text table with every column (device, MACs, kernel times), wider than 100 columns');
  runtimesHelp(deviceOption(threadsOption(bench)));
  outputOptions(bench, { json: 'the report', force: 'replace the --json file if it exists' })
    .action(async (o) => (await import('./bench.js')).benchCommand(o));

  for (const c of program.commands) {
    const lines = EXAMPLES[c.name()];
    if (lines) c.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ bisenet ${c.name()} ${l}`.trimEnd()).join('\n')}\n`);
  }
  return program;
}

/** Two or three real invocations per command, shown at the end of its --help. */
const EXAMPLES: Record<string, string[]> = {
  inspect: ['model_final_v2_city.pth', 'model.pdparams --json'],
  convert: ['model.pth --to onnx --out model.onnx --labels', 'model.pth --to tfjs-graph --out web/bisenetv2 --quantize float16', 'model.pth --to tensorrt --out trt/ --shapes 1x3x512x1024'],
  infer: ['model.onnx --input x.npy --out logits.npy --labels', 'web/bisenetv2 --input x.npy --out logits.npy --runtime tfjs-wasm'],
  segment: ['model.onnx --image street.jpg --out mask.png --overlay overlay.png', "model.pth 'frames/**/*.png' --out-dir masks/ --overlay --batch 2"],
  eval: ['model.onnx --data data/synthetic-val', 'model.pth --data DIR --compare-to 75.56 --max-miou-drop 0.1 --json scores.json'],
  verify: ['model.onnx --golden golden/coincheung-bisenetv2-n19', 'web/bisenetv2 --golden golden/coincheung-bisenetv2-n19 --runtime tfjs-wasm --junit report.xml', 'model.onnx --golden golden/coincheung-bisenetv2-n19 --layers'],
  serve: ['model.onnx', 'web/bisenetv2 --golden golden/coincheung-bisenetv2-n19 --port 8080'],
  diff: ['model.pth model.onnx', 'model.onnx web/bisenetv2 --runtime-b tfjs-wasm --golden golden/coincheung-bisenetv2-n19'],
  doctor: ['', '--runtimes ort-cpu,tfjs-wasm', '--list'],
  calibrate: ['model.pth --data data/synthetic-calib --out calib.json', 'model.onnx --data DIR --limit 64 --out calib.json'],
  quantize: ['model.pth --to onnx --calibration-data data/synthetic-calib --eval-data data/synthetic-val --max-miou-drop 0.5 --out model.int8.onnx', 'model.pth --to tensorrt --calibration-data DIR --eval-data DIR --out trt/'],
  bench: ['--checkpoint model.pth', '--model model.onnx --runtime ort-cpu --size 512x1024,1024x2048 --json bench.json'],
};

let epipeHandled = false;
/** A reader that stops early (`bisenet eval --help | head`): the output is done, not a crash. Installed once per process (main may run many times in one). */
function endOutputQuietlyOnEpipe(): void {
  if (epipeHandled) return;
  epipeHandled = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); else throw e; });
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  installInterruptHandlers();
  endOutputQuietlyOnEpipe();
  guardStreams(); // text from files (image names, recorded class names) never reaches a terminal raw, on any path
  try {
    await program.parseAsync(argv, { from: 'user' });
    await settleSignals(); // a signal during the last synchronous write is answered now (exit 130/143), not lost
    return 0;
  } catch (e) {
    await settleSignals();
    endOpenLine(); // a progress bar's line ends before the error's
    if (e instanceof ExitCode) return e.code;
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      if (e.code === 'bisenet.badOption') process.stderr.write(`${escapeText(e.message)}\n`);
      return 2;
    }
    // Every message is one line, escaped and bounded: it may quote names and values from a hostile file.
    if (isBisenetError(e)) {
      const more = e.details.length && !verbose ? ` (${e.details.length} details: run with --verbose to list them)` : '';
      process.stderr.write(`error: ${escapeText(e.message)}${more}\n`);
      if (verbose) for (const d of e.details.slice(0, 10_000)) process.stderr.write(`  ${escapeText(d)}\n`);
      return 2;
    }
    // A file-system error on a path the user gave (a link loop, a name too long, a file where a directory is
    // expected, no permission, a full disk) is about that path, not a bug: one line naming it, exit 2.
    const fsError = fileSystemError(e);
    if (fsError) {
      process.stderr.write(`error: ${escapeText(fsError)}\n`);
      return 2;
    }
    const text = e instanceof Error ? e.message : typeof e === 'string' ? e : 'unknown';
    process.stderr.write(`internal error: ${escapeText(text)} (this is a bug in bisenet-port; run with --verbose for the stack trace)\n`);
    if (verbose) process.stderr.write(`${escapeText((e as Error)?.stack ?? '', 20_000)}\n`);
    return 3;
  }
}

/** The errno codes that describe the file system or a path, never the program: what each means, in words. */
const FS_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory', ENOTDIR: 'a part of the path is not a directory', EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links', ENAMETOOLONG: 'name too long', EACCES: 'permission denied', EPERM: 'operation not permitted',
  EEXIST: 'already exists', ENOSPC: 'no space left on the device', EROFS: 'read-only file system', EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files', ENFILE: 'too many open files in the system', EXDEV: 'cannot move across file systems',
  ENOTEMPTY: 'directory not empty', EBUSY: 'resource busy', EFBIG: 'file too large', EIO: 'input/output error',
};

/** `cannot stat <path>: too many levels of symbolic links (ELOOP)` for a Node file-system error, else null. */
export function fileSystemError(e: unknown): string | null {
  const err = e as NodeJS.ErrnoException | undefined;
  if (!err || typeof err !== 'object' || typeof err.code !== 'string' || !(err.code in FS_ERRORS) || typeof err.syscall !== 'string') return null;
  const where = typeof err.path === 'string' ? ` ${err.path.length > 300 ? `${err.path.slice(0, 300)}… (${err.path.length} characters)` : err.path}` : '';
  return `cannot ${err.syscall}${where}: ${FS_ERRORS[err.code]} (${err.code})`;
}
