import { Command, CommanderError, Option } from 'commander';
import { MAX_OPSET, MIN_OPSET } from '../emit/opset.js';
import { type Target, TARGET_IDS, TARGETS, targetHelp } from '../emit/targets.js';
import { isBisenetError } from '../util/errors.js';
import { setVerbose } from '../util/verbosity.js';
import { ExitCode } from './exit.js';
import { LIMITS, parseQuantity, setLimit } from '../util/limits.js';
import { escapeText, guardStreams } from '../util/render.js';
import { endOpenLine, installInterruptHandlers, settleSignals } from '../util/interrupt.js';
import { PACKAGE } from '../util/version.js';
import {
  badOption, deviceOption, floatOption, int8Options, intOption, outputOptions, PRECISION_IDS, presetOptions, quietOption, renamedOption, runtimeId,
  runtimeOptions, runtimesHelp, shared, threadsOption,
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

/** The targets that take a calibration, i.e. write int8 models: the ones quantize writes. */
const INT8_TARGETS = TARGET_IDS.filter((t) => (TARGETS[t].options as readonly string[]).includes('calibration'));

const targetsHelpText = (): string => `\nTargets (--to):\n${targetHelp()}\n`;

/** eval's labels from another directory (the boolean --labels of convert, quantize and infer is another option). */
const LABELS_DIR_DEFINITION = { flags: '--labels-dir <dir>', help: 'labels from this directory instead of <data>/labels, e.g. PyTorch\'s predictions: pixel accuracy is then label agreement' };

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

  const inspect = program.command('inspect')
    .description('identify a checkpoint (family, class count, booster heads, tensors, problems) or describe an exported model, ONNX, tfjs or .tflite (format, opsets, producer, inputs and outputs, operators, weights, recorded classes and preprocessing)')
    // Optional in the parser only: `inspect --json FILE`, written before --json took a file, still names the file inspected.
    .argument('[file]', 'a checkpoint (.pth torch.save zip, .safetensors, PaddleSeg .pdparams) or an exported model (.onnx file, TensorFlow.js model directory or its model.json, .tflite file)')
    .usage('[options] <file>');
  outputOptions(inspect, { json: true })
    .action(async (file: string | undefined, o) => {
      if (file === undefined && typeof o.json !== 'string') badOption("inspect: missing required argument 'file'");
      return (await import('./inspect.js')).inspectCommand(file ?? o.json, file === undefined ? { ...o, json: true } : o);
    });

  const convert = program.command('convert')
    .description('convert a checkpoint to a deployable model')
    .argument('<checkpoint>', '.pth (torch.save zip), .safetensors or PaddleSeg .pdparams file');
  shared(convert, ['to', { mandatory: true }], ['out', { mandatory: true }])
    .option('--opset <n>', `onnx, tensorrt: ONNX opset (${MIN_OPSET}–${MAX_OPSET}, default 17)`, opsetOption);
  shared(convert, 'aux', 'labels')
    .option('--classes <n>', 'expected class count (an error if the checkpoint differs)', intOption('--classes', 1, 100000));
  presetOptions(convert, 'convert')
    .addOption(new Option('--quantize <dtype>', 'tfjs targets: store weights quantized per tensor; tflite: float16 only (FLOAT16 constants + DEQUANTIZE)').choices(['float16', 'uint8', 'uint16']))
    .option('--shard-size <MiB>', 'tfjs targets: largest weight shard in MiB (default 4)', floatOption('--shard-size'))
    .addOption(new Option('--grouped-conv <form>', 'onnx: grouped convs as one Conv (native) or channel repeat + depthwise (exact; avoids onnxruntime-web WebGPU\'s grouped-conv bug)').choices(['native', 'depthwise']))
    .option('--expose <all|names>', 'onnx, tfjs: also output these intermediate tensors (IR names, comma-separated) or all, after the model\'s own outputs (for bisenet diff and debugging)');
  shared(convert, 'shapes')
    .addOption(new Option('--precision <p>', 'onnx, tensorrt: fp32 (default); fp16 (float16 weights and compute, float32 input/outputs); int8 (QDQ, needs --calibration; tensorrt: also calib.cache). tflite: int8 (integer TFLite: int8 weights and activations, needs --calibration)').choices(PRECISION_IDS));
  int8Options(convert)
    .option('--allow-nonfinite', 'convert even if weights hold NaN/Inf or a running variance is negative (refused otherwise)');
  outputOptions(convert, { json: true })
    .addHelpText('after', targetsHelpText)
    .action(async (file: string, o) => (await import('./convert.js')).convertCommand(file, o));

  const calibrate = program.command('calibrate')
    .description('record the range of every tensor of a model over calibration images fed as segment feeds them (min/max, a percentile, TensorRT\'s entropy threshold), for int8 conversion')
    .argument('<model>', 'a checkpoint (.pth, .safetensors, .pdparams; converted in memory) or an .onnx written by bisenet convert');
  shared(calibrate, ['data', { mandatory: true }], ['out', { mandatory: true }], 'limit')
    .option('--percentile <p>', 'percentile recorded beside min/max and entropy (default 99.99)', floatOption('--percentile'));
  quietOption(presetOptions(threadsOption(calibrate), 'model'));
  outputOptions(calibrate)
    .action(async (model: string, o) => (await import('./calibrate.js')).calibrateCommand(model, o));

  const quantize = program.command('quantize')
    .description('int8 with the layers that cannot take it kept in float: calibrate, measure each conv\'s damage, keep the worst in float until eval\'s mIoU drop is within the bound; exit 1 if no mix reaches it')
    .argument('<checkpoint>', '.pth (torch.save zip), .safetensors or PaddleSeg .pdparams file');
  shared(quantize, ['to', { mandatory: true }], ['out', { mandatory: true }])
    .requiredOption('--calibration-data <dir>', 'calibration images (a folder, or a labelled set\'s images/); not the eval images')
    .requiredOption('--eval-data <dir>', 'labelled set the mIoU is judged on (see eval --data)');
  shared(quantize, 'maxMiouDrop');
  int8Options(quantize)
    .option('--max-float <n>', 'most convs the search may keep in float (default a quarter of them)', intOption('--max-float', 0, 100000))
    .option('--calibration-limit <n>', 'only the first n calibration images', intOption('--calibration-limit', 1, 10_000_000))
    .option('--eval-limit <n>', 'only the first n eval images', intOption('--eval-limit', 1, 10_000_000))
    .option('--sensitivity-images <n>', 'calibration images each conv\'s damage is measured on (default 2)', intOption('--sensitivity-images', 1, 1000));
  shared(quantize, 'shapes', 'labels');
  quietOption(threadsOption(quantize));
  outputOptions(quantize)
    .addHelpText('after', targetsHelpText)
    .hook('preAction', (_c, action) => {
      // The search is int8's: the targets that take a calibration (the registry's options) are the ones it writes.
      const to = action.getOptionValue('to') as Target;
      if (!INT8_TARGETS.includes(to)) badOption(`quantize --to ${to}: quantize writes int8 models; int8 targets: ${INT8_TARGETS.join(', ')}`);
    })
    .action(async (checkpoint: string, o) => (await import('./quantize.js')).quantizeCommand(checkpoint, o));

  const infer = program.command('infer')
    .description('run a model on an input .npy and write its outputs as .npy')
    .argument('<model>', 'model: an .onnx file, or a TensorFlow.js model directory or its model.json');
  shared(infer, ['input', { mandatory: true }], ['out', { mandatory: true }], 'aux', 'labels');
  outputOptions(runtimeOptions(infer, { tfjsFlags: true }))
    .action(async (model: string, o) => (await import('./infer.js')).inferCommand(model, o));

  const segment = program.command('segment')
    .description('segment images (PNG or JPEG) with a model, using the preprocessing recorded in it: one image to --out, or many to --out-dir')
    .argument('<model>', 'model: an .onnx file, a tfjs model directory, or a checkpoint (.pth, .safetensors, .pdparams: converted in memory, nothing written)')
    .argument('[images...]', 'images, directories (their .png/.jpg files) or glob patterns (quoted: \'frames/**/*.png\'); with --out-dir')
    .option('--image <file>', 'one image to segment (PNG or JPEG, any size)');
  shared(segment, 'out')
    .option('--out-dir <dir>', 'many images: write <dir>/<name>.png for each (and <name>.overlay.png with --overlay); all or nothing, but Ctrl-C keeps the finished ones')
    .option('--overlay [file]', 'also write the palette blended on the photo: to this .png (one image; default <out>.overlay.png), or <name>.overlay.png (--out-dir)')
    .option('--raw', 'write class indices as 8-bit grey instead of palette colours')
    .option('--batch <n>', 'images per inference (images of one processing size are batched)', intOption('--batch', 1, 64), 1);
  runtimeOptions(segment, { tfjsFlags: true });
  quietOption(presetOptions(segment, 'model'));
  outputOptions(segment, { json: true })
    .action(async (model: string, images: string[], o) => (await import('./segment.js')).segmentCommand(model, images, o));

  const evalCmd = program.command('eval')
    .description('score a model on a labelled set (mIoU, per-class IoU, pixel accuracy; Cityscapes conventions); exit 1 when --compare-to differs by more than --max-miou-drop')
    .argument('<model>', 'model: an .onnx file, a tfjs model directory, or a checkpoint (converted in memory, nothing written)');
  shared(evalCmd, ['data', { mandatory: true }]).addOption(new Option(LABELS_DIR_DEFINITION.flags, LABELS_DIR_DEFINITION.help));
  renamedOption(evalCmd, '--labels <dir>', LABELS_DIR_DEFINITION, '--labels alone adds or writes a labels output in convert, quantize and infer')
    .option('--compare-to <miou|manifest.json>', 'reference mIoU in percent (e.g. PyTorch\'s), or a JSON manifest recording it');
  shared(evalCmd, 'maxMiouDrop', 'minAgreement', 'limit');
  runtimeOptions(evalCmd);
  quietOption(presetOptions(evalCmd, 'model'));
  outputOptions(evalCmd, { json: true })
    .action(async (model: string, o) => (await import('./eval.js')).evalCommand(model, o));

  const verify = program.command('verify')
    .description('run golden inputs through a model and compare with golden outputs; exit 0 pass, 1 mismatch, 2 bad input')
    .argument('<model>', 'model: an .onnx file, or a TensorFlow.js model directory or its model.json');
  shared(verify, ['golden', { mandatory: true }])
    .option('--junit <file>', 'also write the report as JUnit XML (a test case per golden case and output), for CI dashboards');
  shared(verify, 'tolerance', 'minAgreement', 'layers', 'checkpoint');
  runtimeOptions(verify, { tfjsFlags: true });
  outputOptions(verify, { json: true })
    .action(async (model: string, o) => (await import('./verify.js')).verifyCommand(model, o));

  const serve = program.command('serve')
    .description('serve a page to try a model in a browser: drop an image, see the mask, time it, and check the golden set on that device')
    .argument('<model>', 'model: an .onnx file, a tfjs model directory or its model.json, or a checkpoint (converted in memory to tfjs-layers, nothing written)')
    .option('--port <n>', 'port (default: a free one)', intOption('--port', 0, 65535))
    .option('--host <address>', 'address to listen on; anything but loopback prints a warning', '127.0.0.1');
  presetOptions(shared(serve, 'golden'), 'model')
    .action(async (model: string, o) => (await import('./serve.js')).serveCommand(model, o));

  const diff = program.command('diff')
    .description('run one input through two models and compare every intermediate tensor; names the first that diverges. Exit 0 agree, 1 divergence, 2 bad input')
    .argument('<A>', 'a checkpoint (run in the reference interpreter), an .onnx file, or a TensorFlow.js model directory or its model.json')
    .argument('<B>', 'the same kinds as A');
  shared(diff, 'input', 'golden')
    .option('--runtime-a <id>', 'runtime for A (default: from the file: reference, ort-cpu or tfjs-wasm; see "Runtimes" below)', runtimeId)
    .option('--runtime-b <id>', 'runtime for B', runtimeId);
  shared(diff, 'layers', ['tolerance', { default: 1e-4 }]);
  runtimesHelp(deviceOption(threadsOption(diff)));
  outputOptions(diff, { json: true })
    .action(async (a: string, b: string, o) => (await import('./diff.js')).diffCommand(a, b, o));

  const doctor = program.command('doctor')
    .description('list every runtime this machine can run (with its GPU adapter) and run the golden set through each; exit 1 if one fails parity');
  shared(doctor, 'golden', 'checkpoint', 'runtimes')
    .option('--list', 'only list the runtimes and adapters; run nothing');
  runtimesHelp(deviceOption(doctor));
  outputOptions(doctor, { json: true })
    .action(async (o) => (await import('./doctor.js')).doctorCommand(o));

  const bench = program.command('bench')
    .description('time a model per runtime and input size (median/min/max, frames/s, GFLOP/s, kernel time where the runtime reports it), as a ratio to each runtime\'s rate on a dense conv stack; warns when the machine is busy')
    .option('--model <path>', 'a model: .onnx, or a tfjs model directory');
  shared(bench, 'checkpoint', 'runtimes');
  renamedOption(bench, '--runtime <ids>', 'runtimes', 'as doctor\'s; --runtime names one runtime in the other commands')
    .option('--size <HxW,…>', 'input sizes, H and W multiples of 32 (default 512x1024)')
    .option('--runs <n>', 'timed runs per runtime and size', intOption('--runs', 1, 1000), 5)
    .option('--warmup <n>', 'untimed runs first', intOption('--warmup', 0, 100), 1);
  shared(bench, 'precisions', 'calibration');
  renamedOption(bench, '--precision <list>', 'precisions', 'a list; --precision names one precision in convert')
    .option('--no-conv-stack', 'skip the conv-stack reference run')
    .addOption(new Option('--no-ceiling').hideHelp())
    .option('--wide', 'text table with every column (device, MACs, kernel times), wider than 100 columns');
  runtimesHelp(deviceOption(threadsOption(bench)));
  outputOptions(bench, { json: true })
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
  bench: ['--checkpoint model.pth', '--model model.onnx --runtimes ort-cpu,tfjs-wasm --size 512x1024,1024x2048 --json bench.json'],
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
