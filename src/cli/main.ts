import * as fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { MAX_OPSET, MIN_OPSET } from '../emit/opset.js';
import { TARGET_IDS, targetHelp } from '../emit/targets.js';
import { RUNTIME_IDS, runtimeHelp } from '../runtime/catalog.js';
import { isBisenetError } from '../util/errors.js';
import { setVerbose } from '../util/verbosity.js';
import { ExitCode } from './exit.js';
import { LIMITS, parseQuantity, setLimit } from '../util/limits.js';
import { escapeText } from '../util/render.js';

/**
 * The `bisenet` command line: it parses arguments and prints; the work is done by the library.
 * Exit codes: 0 success, 1 verification mismatch, 2 user mistake (bad file, option, shape), 3 bug.
 * Target and runtime choices and their help come from the registries' data (src/emit/targets.ts,
 * src/runtime/catalog.ts); each command's module, and so every runner and emitter, is imported when it runs.
 */
export { ExitCode } from './exit.js';

let verbose = false;

/** This package's version, from its package.json (two levels above dist/cli and src/cli alike). */
function packageVersion(): string {
  try { return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version; } catch { return 'unknown'; }
}

function intOption(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new CommanderError(2, 'bisenet.badOption', `error: ${name} must be an integer in ${min}–${max}, got '${v}'`);
    return n;
  };
}
function badOption(message: string): never {
  throw new CommanderError(2, 'bisenet.badOption', `error: ${message}`);
}
/** --opset: checked when parsed, against the range the ONNX emitter writes. */
function opsetOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < MIN_OPSET || n > MAX_OPSET) badOption(`--opset ${v} is not supported (${MIN_OPSET}–${MAX_OPSET})`);
  return n;
}
/** --runtime: one id of the runtime registry. */
function runtimeOption(v: string): string {
  if (!RUNTIME_IDS().includes(v)) badOption(`unknown runtime ${v}; available: ${RUNTIME_IDS().join(', ')}`);
  return v;
}
/** --runtimes: a comma-separated list of registry ids. */
function runtimesOption(v: string): string[] {
  const ids = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (!ids.length) badOption('--runtimes: name at least one runtime');
  for (const id of ids) runtimeOption(id);
  return ids;
}
const RUNTIME_OPTION_HELP = 'runtime (default: ort-cpu for .onnx, tfjs-wasm for tfjs models; see "Runtimes" below)';
const runtimesHelpText = (): string => `\nRuntimes (--runtime):\n${runtimeHelp()}\n`;

function floatOption(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new CommanderError(2, 'bisenet.badOption', `error: ${name} must be a non-negative number, got '${v}'`);
    return n;
  };
}

/** `--tfjs-flags KEY=VALUE,…`: TensorFlow.js environment flags (true/false, numbers, or text). */
function tfjsFlags(v: string): Record<string, boolean | number | string> {
  const flags: Record<string, boolean | number | string> = {};
  for (const part of v.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(part);
    if (!m) throw new CommanderError(2, 'bisenet.badOption', `error: --tfjs-flags takes KEY=VALUE pairs separated by commas (e.g. WEBGL_FORCE_F16_TEXTURES=true), got '${part}'`);
    const value = m[2]!;
    flags[m[1]!] = value === 'true' ? true : value === 'false' ? false : value !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return flags;
}

const TFJS_FLAGS_HELP = 'browser tfjs runtimes: TensorFlow.js flags set before the backend starts, e.g. WEBGL_FORCE_F16_TEXTURES=true,WEBGL_PACK=false';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('bisenet')
    .description('Port BiSeNet V2 checkpoints to ONNX, run them, and verify parity against PyTorch goldens')
    .version(packageVersion())
    .option('-v, --verbose', 'print details of errors (e.g. every mismatching key)')
    .option('--budget <name=value>', 'change a resource limit (repeatable; see the README\'s limits section), e.g. --budget zip-inflated-bytes=4GiB', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--max-memory <size>', `largest estimated memory for a model run (default ${(LIMITS.modelMemory / 2 ** 20).toFixed(0)} MiB here), e.g. 4GiB`)
    .hook('preAction', (cmd) => {
      const g = cmd.opts() as { verbose?: boolean; budget?: string[]; maxMemory?: string };
      verbose = Boolean(g.verbose);
      setVerbose(verbose);
      for (const l of g.budget ?? []) setLimit(l);
      if (g.maxMemory !== undefined) LIMITS.modelMemory = parseQuantity(g.maxMemory, '--max-memory');
    })
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(`${escapeText(s.trimEnd())}\n`) });

  program.command('inspect')
    .description('identify a checkpoint (family, class count, booster heads, tensors, problems) or a .tflite model (checked; input, outputs, metadata)')
    .argument('<checkpoint>', '.pth (torch.save zip), .safetensors or PaddleSeg .pdparams file, or a .tflite model')
    .option('--json', 'print JSON instead of text')
    .action(async (file: string, o: { json?: boolean }) => (await import('./inspect.js')).inspectCommand(file, o));

  program.command('convert')
    .description('convert a checkpoint to a deployable model')
    .argument('<checkpoint>', '.pth (torch.save zip), .safetensors or PaddleSeg .pdparams file')
    .addOption(new Option('--to <target>', 'target format (see "Targets" below)').choices(TARGET_IDS).makeOptionMandatory())
    .requiredOption('--out <path>', 'output: a .onnx file, or a directory for the tfjs and tensorrt targets')
    .option('--opset <n>', `onnx, tensorrt: ONNX opset (${MIN_OPSET}–${MAX_OPSET}, default 17)`, opsetOption)
    .option('--aux', 'also export the four booster heads as outputs aux2, aux3, aux4, aux5_4')
    .option('--labels', 'add a "labels" output: argmax over classes (int64)')
    .addOption(new Option('--family <family>', 'checkpoint family (default: detected from the keys)').choices(['coincheung', 'mmseg', 'paddleseg']))
    .option('--classes <n>', 'expected class count (an error if the checkpoint differs)', intOption('--classes', 1, 100000))
    .addOption(new Option('--dataset <name>', 'preprocessing preset recorded in the model (default: from the class count)').choices(['cityscapes', 'ade20k', 'coco-stuff', 'none']))
    .addOption(new Option('--quantize <dtype>', 'tfjs targets: store weights quantized per tensor; tflite: float16 only (FLOAT16 constants + DEQUANTIZE)').choices(['float16', 'uint8', 'uint16']))
    .option('--shard-size <MiB>', 'tfjs targets: largest weight shard in MiB (default 4)', floatOption('--shard-size'))
    .addOption(new Option('--grouped-conv <form>', 'onnx: grouped convs as one Conv (native) or channel repeat + depthwise (exact; avoids onnxruntime-web WebGPU\'s grouped-conv bug)').choices(['native', 'depthwise']))
    .option('--expose <all|names>', 'onnx, tfjs: also output these intermediate tensors (IR names, comma-separated) or all, after the model\'s own outputs (for bisenet diff and debugging)')
    .option('--shapes <NxCxHxW[:opt:max]>', 'tensorrt: input size (static), or min:opt:max sizes for an optimization profile; tflite: the one input size (default 1x3x512x1024)')
    .option('--allow-nonfinite', 'convert even if weights hold NaN/Inf or a running variance is negative (refused otherwise)')
    .option('--force', 'replace the output if it exists')
    .addHelpText('after', () => `\nTargets (--to):\n${targetHelp()}\n`)
    .action(async (file: string, o) => (await import('./convert.js')).convertCommand(file, o));

  program.command('infer')
    .description('run a model on an input .npy and write its outputs as .npy')
    .argument('<model>', 'model: an .onnx file, or a TensorFlow.js model directory or its model.json')
    .requiredOption('--input <x.npy>', 'input, N×3×H×W float32 (H, W multiples of 32)')
    .requiredOption('--out <y.npy>', 'where to write the first output (logits), float32')
    .option('--aux', 'also write booster outputs to sibling files (<out>.aux2.npy …)')
    .option('--labels', 'also write the labels output (or the argmax of logits) to <out>.labels.npy')
    .option('--runtime <id>', RUNTIME_OPTION_HELP, runtimeOption)
    .option('--tfjs-flags <KEY=VALUE,…>', TFJS_FLAGS_HELP, tfjsFlags)
    .option('--threads <n>', 'CPU threads', intOption('--threads', 1, 1024))
    .option('--device <adapter>', 'WebGPU runtimes: auto (default), gpu, software, part of an adapter name (H100, llvmpipe), or vulkan|opengles[:NAME]')
    .option('--force', 'replace outputs that exist')
    .addHelpText('after', runtimesHelpText)
    .action(async (model: string, o) => (await import('./infer.js')).inferCommand(model, o));

  program.command('segment')
    .description('segment images (PNG or JPEG) with a model, using the preprocessing recorded in it: one image to --out, or many to --out-dir')
    .argument('<model>', 'model: an .onnx file, a tfjs model directory, or a checkpoint (.pth, .safetensors, .pdparams: converted in memory, nothing written)')
    .argument('[images...]', 'images, directories (their .png/.jpg files) or glob patterns (quoted: \'frames/**/*.png\'); with --out-dir')
    .option('--image <file>', 'one image to segment (PNG or JPEG, any size)')
    .option('--out <mask.png>', 'where to write the segmentation of one image (palette colours, or --raw class indices)')
    .option('--out-dir <dir>', 'many images: write <dir>/<name>.png for each (and <name>.overlay.png with --overlay); all or nothing')
    .option('--overlay [file]', 'also write the palette blended on the photo: to this .png (one image; default <out>.overlay.png), or <name>.overlay.png (--out-dir)')
    .option('--raw', 'write class indices as 8-bit grey instead of palette colours')
    .option('--batch <n>', 'images per inference (images of one processing size are batched)', intOption('--batch', 1, 64), 1)
    .option('--runtime <id>', 'runtime (default: ort-cpu for .onnx and checkpoints, tfjs-wasm for tfjs models; see "Runtimes" below)', runtimeOption)
    .option('--tfjs-flags <KEY=VALUE,…>', TFJS_FLAGS_HELP, tfjsFlags)
    .option('--threads <n>', 'CPU threads', intOption('--threads', 1, 1024))
    .option('--device <adapter>', 'WebGPU adapter (see verify --device)')
    .addOption(new Option('--family <family>', 'checkpoint family (default: detected), or the preset family for models that record no preprocessing').choices(['coincheung', 'mmseg', 'paddleseg']))
    .addOption(new Option('--dataset <name>', 'preset dataset, for checkpoints and models that record no preprocessing').choices(['cityscapes', 'ade20k', 'coco-stuff']))
    .option('--quiet', 'no progress output (--out-dir)')
    .option('--force', 'replace outputs that exist')
    .addHelpText('after', runtimesHelpText)
    .action(async (model: string, images: string[], o) => (await import('./segment.js')).segmentCommand(model, images, o));

  program.command('eval')
    .description('score a model on a labelled set (mIoU, per-class IoU, pixel accuracy; Cityscapes conventions); exit 1 when --compare-to differs by more than --max-miou-drop')
    .argument('<model>', 'model: an .onnx file, a tfjs model directory, or a checkpoint (converted in memory, nothing written)')
    .requiredOption('--data <dir>', 'labelled set: <dir>/images/*.png|jpg and <dir>/labels/<same name>.png (8-bit class indices, 255 = ignore)')
    .option('--labels <dir>', 'labels from this directory instead of <data>/labels, e.g. PyTorch\'s predictions: pixel accuracy is then label agreement')
    .option('--runtime <id>', RUNTIME_OPTION_HELP, runtimeOption)
    .option('--threads <n>', 'CPU threads', intOption('--threads', 1, 1024))
    .option('--device <adapter>', 'WebGPU adapter (see verify --device)')
    .option('--json <file>', 'also write the scores as JSON')
    .option('--compare-to <miou|manifest.json>', 'reference mIoU in percent (e.g. PyTorch\'s), or a JSON manifest recording it')
    .option('--max-miou-drop <points>', 'largest |mIoU − reference| allowed, in points', floatOption('--max-miou-drop'), 0.1)
    .option('--limit <n>', 'only the first n images (sorted by name)', intOption('--limit', 1, 10_000_000))
    .addOption(new Option('--family <family>', 'checkpoint family (default: detected), or the preset family for models that record no preprocessing').choices(['coincheung', 'mmseg', 'paddleseg']))
    .addOption(new Option('--dataset <name>', 'preset dataset, for checkpoints and models that record no preprocessing').choices(['cityscapes', 'ade20k', 'coco-stuff']))
    .option('--quiet', 'no progress output')
    .option('--force', 'replace the --json file if it exists')
    .addHelpText('after', runtimesHelpText)
    .action(async (model: string, o) => (await import('./eval.js')).evalCommand(model, o));

  program.command('verify')
    .description('run golden inputs through a model and compare with golden outputs; exit 0 pass, 1 mismatch, 2 bad input')
    .argument('<model>', 'model: an .onnx file, or a TensorFlow.js model directory or its model.json')
    .requiredOption('--golden <dir>', 'golden set: a directory with input.npy and reference outputs (or subdirectories of such)')
    .option('--json <file>', 'also write the report as JSON')
    .option('--junit <file>', 'also write the report as JUnit XML (a test case per golden case and output), for CI dashboards')
    .option('--runtime <id>', RUNTIME_OPTION_HELP, runtimeOption)
    .option('--tfjs-flags <KEY=VALUE,…>', TFJS_FLAGS_HELP, tfjsFlags)
    .option('--threads <n>', 'CPU threads', intOption('--threads', 1, 1024))
    .option('--device <adapter>', 'WebGPU runtimes: auto (default), gpu, software, part of an adapter name (H100, llvmpipe), or vulkan|opengles[:NAME]')
    .option('--tolerance <rel>', 'max |Δ| allowed, relative to max |reference| (default: the runtime\'s, 1e-4 for CPU and wasm, 1e-3 for GPU and WebGL)', floatOption('--tolerance'))
    .option('--min-agreement <share>', 'least share of agreeing argmax labels (default: the runtime\'s, 0.9999 for CPU and wasm, 0.999 for GPU and WebGL)', floatOption('--min-agreement'))
    .option('--layers [names]', 'also compare every intermediate tensor (or these, comma-separated) with the reference interpreter on the golden set\'s checkpoint')
    .option('--checkpoint <file>', 'with --layers: the checkpoint (default: the one the golden manifest names)')
    .option('--force', 'replace the --json file if it exists')
    .addHelpText('after', runtimesHelpText)
    .action(async (model: string, o) => (await import('./verify.js')).verifyCommand(model, o));

  program.command('serve')
    .description('serve a page to try a model in a browser: drop an image, see the mask, time it, and check the golden set on that device')
    .argument('<model>', 'model: an .onnx file, or a TensorFlow.js model directory or its model.json')
    .option('--port <n>', 'port (default: a free one)', intOption('--port', 0, 65535))
    .option('--host <address>', 'address to listen on; anything but loopback prints a warning', '127.0.0.1')
    .option('--golden <dir>', 'golden set of this model, for the page\'s "check this device" button')
    .action(async (model: string, o) => (await import('./serve.js')).serveCommand(model, o));

  program.command('diff')
    .description('run one input through two models and compare every intermediate tensor; names the first that diverges. Exit 0 agree, 1 divergence, 2 bad input')
    .argument('<A>', 'a checkpoint (run in the reference interpreter), an .onnx file, or a TensorFlow.js model directory or its model.json')
    .argument('<B>', 'the same kinds as A')
    .option('--input <x.npy>', 'input, N×3×H×W (default: a deterministic 1×3×96×160)')
    .option('--golden <dir>', 'use the golden set\'s input(s)')
    .option('--runtime-a <id>', 'runtime for A (default: from the file: reference, ort-cpu or tfjs-wasm; see "Runtimes" below)', runtimeOption)
    .option('--runtime-b <id>', 'runtime for B', runtimeOption)
    .option('--layers <names>', 'all (default), or a comma-separated list of tensors to compare')
    .option('--tolerance <rel>', 'per-tensor max |Δ| allowed, relative to max |A| of that tensor', floatOption('--tolerance'), 1e-4)
    .option('--json <file>', 'also write the report as JSON')
    .option('--threads <n>', 'CPU threads', intOption('--threads', 1, 1024))
    .option('--device <adapter>', 'WebGPU adapter (see verify --device)')
    .option('--force', 'replace the JSON report if it exists')
    .addHelpText('after', runtimesHelpText)
    .action(async (a: string, b: string, o) => (await import('./diff.js')).diffCommand(a, b, o));

  program.command('doctor')
    .description('list every runtime this machine can run (with its GPU adapter) and run the golden set through each; exit 1 if one fails parity')
    .option('--golden <dir>', 'golden set', 'golden/coincheung-bisenetv2-n19')
    .option('--checkpoint <file>', 'the golden set\'s checkpoint (default: from its manifest)')
    .option('--runtimes <ids>', 'comma-separated runtimes to check (default: all; see "Runtimes" below)', runtimesOption)
    .option('--device <adapter>', 'WebGPU adapter (see verify --device)')
    .option('--list', 'only list the runtimes and adapters; run nothing')
    .option('--json <file>', 'also write the results as JSON')
    .option('--force', 'replace the --json file if it exists')
    .addHelpText('after', runtimesHelpText)
    .action(async (o) => (await import('./doctor.js')).doctorCommand(o));

  program.command('bench')
    .description('time a model per runtime and input size (median/min/max, frames/s, GFLOP/s, kernel time where the runtime reports it) against each runtime\'s measured conv-stack ceiling')
    .option('--model <path>', 'a model: .onnx, or a tfjs model directory')
    .option('--checkpoint <file>', 'a checkpoint, converted in memory to what each runtime loads')
    .option('--runtime <ids>', 'comma-separated runtimes (default: ort-cpu,tfjs-wasm, those that load the model)')
    .option('--size <HxW,…>', 'input sizes, H and W multiples of 32 (default 512x1024)')
    .option('--runs <n>', 'timed runs per runtime and size', intOption('--runs', 1, 1000), 5)
    .option('--warmup <n>', 'untimed runs first', intOption('--warmup', 0, 100), 1)
    .option('--threads <n>', 'CPU threads', intOption('--threads', 1, 1024))
    .option('--device <adapter>', 'WebGPU adapter (see verify --device)')
    .option('--no-ceiling', 'skip the conv-stack ceiling')
    .option('--json [file]', 'print the report as JSON (or write it to file, printing text)')
    .option('--force', 'replace the --json file if it exists')
    .action(async (o) => (await import('./bench.js')).benchCommand(o));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
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
