import { Command, CommanderError, Option } from 'commander';
import { isBisenetError } from '../util/errors.js';
import { LIMITS, parseQuantity, setLimit } from '../util/limits.js';
import { escapeText } from '../util/render.js';

/**
 * The `bisenet` command line: it parses arguments and prints; the work is done by the library.
 * Exit codes: 0 success, 1 verification mismatch, 2 user mistake (bad file, option, shape), 3 bug.
 */
export class ExitCode extends Error {
  constructor(readonly code: number) { super(`exit ${code}`); }
}

let verbose = false;

function intOption(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new CommanderError(2, 'bisenet.badOption', `error: ${name} must be an integer in ${min}–${max}, got '${v}'`);
    return n;
  };
}
function floatOption(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new CommanderError(2, 'bisenet.badOption', `error: ${name} must be a non-negative number, got '${v}'`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('bisenet')
    .description('Port BiSeNet V2 checkpoints to ONNX, run them, and verify parity against PyTorch goldens')
    .version('0.1.0')
    .option('-v, --verbose', 'print details of errors (e.g. every mismatching key)')
    .option('--limit <name=value>', 'change a resource limit (repeatable; see the README\'s limits section), e.g. --limit zip-inflated-bytes=4GiB', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--max-memory <size>', `largest estimated memory for a model run (default ${(LIMITS.modelMemory / 2 ** 20).toFixed(0)} MiB here), e.g. 4GiB`)
    .hook('preAction', (cmd) => {
      const g = cmd.opts() as { verbose?: boolean; limit?: string[]; maxMemory?: string };
      verbose = Boolean(g.verbose);
      for (const l of g.limit ?? []) setLimit(l);
      if (g.maxMemory !== undefined) LIMITS.modelMemory = parseQuantity(g.maxMemory, '--max-memory');
    })
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(`${escapeText(s.trimEnd())}\n`) });

  program.command('inspect')
    .description('identify a checkpoint: family, class count, booster heads, tensors, problems')
    .argument('<checkpoint>', '.pth (torch.save zip), .safetensors or PaddleSeg .pdparams file')
    .option('--json', 'print JSON instead of text')
    .action(async (file: string, o: { json?: boolean }) => (await import('./inspect.js')).inspectCommand(file, o));

  program.command('convert')
    .description('convert a checkpoint to a deployable model')
    .argument('<checkpoint>', '.pth (torch.save zip), .safetensors or PaddleSeg .pdparams file')
    .addOption(new Option('--to <target>', 'target format').choices(['onnx', 'tfjs-layers', 'tfjs-graph', 'tensorrt']).makeOptionMandatory())
    .requiredOption('--out <path>', 'output: a .onnx file, or a directory for the tfjs and tensorrt targets')
    .option('--opset <n>', 'ONNX opset (13–21)', intOption('--opset', 1, 1000), 17)
    .option('--aux', 'also export the four booster heads as outputs aux2, aux3, aux4, aux5_4')
    .option('--labels', 'add a "labels" output: argmax over classes (int64)')
    .addOption(new Option('--family <family>', 'checkpoint family (default: detected from the keys)').choices(['coincheung', 'mmseg', 'paddleseg']))
    .option('--classes <n>', 'expected class count (an error if the checkpoint differs)', intOption('--classes', 1, 100000))
    .addOption(new Option('--dataset <name>', 'preprocessing preset recorded in the model (default: from the class count)').choices(['cityscapes', 'ade20k', 'coco-stuff', 'none']))
    .addOption(new Option('--quantize <dtype>', 'tfjs targets: store weights quantized per tensor').choices(['float16', 'uint8', 'uint16']))
    .option('--shard-size <MiB>', 'tfjs targets: largest weight shard in MiB (default 4)', floatOption('--shard-size'))
    .addOption(new Option('--grouped-conv <form>', 'onnx: grouped convs as one Conv (native) or channel repeat + depthwise (exact; avoids onnxruntime-web WebGPU\'s grouped-conv bug)').choices(['native', 'depthwise']))
    .option('--shapes <NxCxHxW[:opt:max]>', 'tensorrt: input size (static), or min:opt:max sizes for an optimization profile (default 1x3x512x1024)')
    .option('--allow-nonfinite', 'convert even if weights hold NaN/Inf or a running variance is negative (refused otherwise)')
    .option('--force', 'replace the output if it exists')
    .action(async (file: string, o) => (await import('./convert.js')).convertCommand(file, o));

  program.command('infer')
    .description('run a model on an input .npy and write its outputs as .npy')
    .argument('<model>', 'model: an .onnx file, or a TensorFlow.js model directory or its model.json')
    .requiredOption('--input <x.npy>', 'input, N×3×H×W float32 (H, W multiples of 32)')
    .requiredOption('--out <y.npy>', 'where to write the first output (logits), float32')
    .option('--aux', 'also write booster outputs to sibling files (<out>.aux2.npy …)')
    .option('--labels', 'also write the labels output (or the argmax of logits) to <out>.labels.npy')
    .option('--runtime <id>', 'runtime: ort-cpu, tfjs-wasm, tfjs-cpu, ort-webgpu, ort-webgpu-default, tfjs-webgpu, tensorrt (default: ort-cpu for .onnx, tfjs-wasm for tfjs models)')
    .option('--threads <n>', 'CPU threads', intOption('--threads', 1, 1024))
    .option('--device <adapter>', 'WebGPU runtimes: auto (default), gpu, software, part of an adapter name (H100, llvmpipe), or vulkan|opengles[:NAME]')
    .option('--force', 'replace outputs that exist')
    .action(async (model: string, o) => (await import('./infer.js')).inferCommand(model, o));

  program.command('segment')
    .description('segment an image (PNG or JPEG) with a model, using the preprocessing recorded in it, and write a PNG')
    .argument('<model>', 'model file (.onnx) or tfjs model directory')
    .requiredOption('--image <file>', 'image to segment (PNG or JPEG, any size)')
    .requiredOption('--out <mask.png>', 'where to write the segmentation (palette colours, or --raw class indices)')
    .option('--raw', 'write class indices as 8-bit grey instead of palette colours')
    .option('--device <adapter>', 'WebGPU adapter (see verify --device)')
    .option('--runtime <id>', 'runtime (default: from the model file)')
    .option('--threads <n>', 'CPU threads', intOption('--threads', 1, 1024))
    .addOption(new Option('--family <family>', 'preset family, for models that record no preprocessing').choices(['coincheung', 'mmseg', 'paddleseg']))
    .addOption(new Option('--dataset <name>', 'preset dataset, for models that record no preprocessing').choices(['cityscapes', 'ade20k', 'coco-stuff']))
    .option('--force', 'replace the output if it exists')
    .action(async (model: string, o) => (await import('./segment.js')).segmentCommand(model, o));

  program.command('verify')
    .description('run golden inputs through a model and compare with golden outputs; exit 0 pass, 1 mismatch, 2 bad input')
    .argument('<model>', 'model: an .onnx file, or a TensorFlow.js model directory or its model.json')
    .requiredOption('--golden <dir>', 'golden set: a directory with input.npy and reference outputs (or subdirectories of such)')
    .option('--json <file>', 'also write the report as JSON')
    .option('--runtime <id>', 'runtime: ort-cpu, tfjs-wasm, tfjs-cpu, ort-webgpu, ort-webgpu-default, tfjs-webgpu, tensorrt (default: ort-cpu for .onnx, tfjs-wasm for tfjs models)')
    .option('--threads <n>', 'CPU threads', intOption('--threads', 1, 1024))
    .option('--device <adapter>', 'WebGPU runtimes: auto (default), gpu, software, part of an adapter name (H100, llvmpipe), or vulkan|opengles[:NAME]')
    .option('--tolerance <rel>', 'max |Δ| allowed, relative to max |reference|', floatOption('--tolerance'), 1e-4)
    .option('--min-agreement <share>', 'least share of agreeing argmax labels', floatOption('--min-agreement'), 0.9999)
    .option('--force', 'replace the --json file if it exists')
    .action(async (model: string, o) => (await import('./verify.js')).verifyCommand(model, o));

  program.command('doctor')
    .description('list every runtime this machine can run (with its GPU adapter) and run the golden set through each; exit 1 if one fails parity')
    .option('--golden <dir>', 'golden set', 'golden/coincheung-bisenetv2-n19')
    .option('--checkpoint <file>', 'the golden set\'s checkpoint (default: from its manifest)')
    .option('--runtimes <ids>', 'comma-separated runtimes to check (default: all)')
    .option('--device <adapter>', 'WebGPU adapter (see verify --device)')
    .option('--list', 'only list the runtimes and adapters; run nothing')
    .option('--json <file>', 'also write the results as JSON')
    .option('--force', 'replace the --json file if it exists')
    .action(async (o) => (await import('./doctor.js')).doctorCommand(o));

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
    const text = e instanceof Error ? e.message : typeof e === 'string' ? e : 'unknown';
    process.stderr.write(`internal error: ${escapeText(text)} (this is a bug in bisenet-port; run with --verbose for the stack trace)\n`);
    if (verbose) process.stderr.write(`${escapeText((e as Error)?.stack ?? '', 20_000)}\n`);
    return 3;
  }
}
