/**
 * The CLI's shared option groups: each is defined once here, and every command subscribes to the groups it
 * takes (as Polygraphy's tools subscribe to argument groups). Choices come from the registries (runtimes,
 * targets, families, datasets, precisions); values are checked when the command line is parsed.
 */
import { type Command, CommanderError, Option } from 'commander';
import { RUNTIME_IDS, runtimeHelp } from '../runtime/catalog.js';
import { TARGET_IDS, TARGETS, type Target } from '../emit/targets.js';
import { DATASETS } from '../model-file/presets.js';
import type { Family } from '../models/bisenetv2.js';
import { fail } from '../util/errors.js';

/** --precision and --statistic choices (the emitters' lists, which the CLI's entry may not import: it loads no emitter). */
export const PRECISION_IDS = ['fp32', 'fp16', 'int8'];
export const STATISTIC_IDS = ['entropy', 'percentile', 'minmax'];

export function badOption(message: string): never {
  throw new CommanderError(2, 'bisenet.badOption', `error: ${message}`);
}

/** An integer option within [min, max]. */
export function intOption(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) badOption(`${name} must be an integer in ${min}–${max}, got '${v}'`);
    return n;
  };
}

/** A non-negative finite number. */
export function floatOption(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) badOption(`${name} must be a non-negative number, got '${v}'`);
    return n;
  };
}

/** One id of the runtime registry. */
export function runtimeId(v: string): string {
  if (!RUNTIME_IDS().includes(v)) badOption(`unknown runtime ${v}; available: ${RUNTIME_IDS().join(', ')}`);
  return v;
}

/** A comma-separated list of runtime ids, each checked against the registry. */
export function runtimeList(name: string) {
  return (v: string): string[] => {
    const ids = v.split(',').map((s) => s.trim()).filter(Boolean);
    if (!ids.length) badOption(`${name}: name at least one runtime`);
    for (const id of ids) runtimeId(id);
    return ids;
  };
}

/** `--tfjs-flags KEY=VALUE,…`: TensorFlow.js environment flags (true/false, numbers, or text). */
function tfjsFlags(v: string): Record<string, boolean | number | string> {
  const flags: Record<string, boolean | number | string> = {};
  for (const part of v.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(part);
    if (!m) badOption(`--tfjs-flags takes KEY=VALUE pairs separated by commas (e.g. WEBGL_FORCE_F16_TEXTURES=true), got '${part}'`);
    const value = m![2]!;
    flags[m![1]!] = value === 'true' ? true : value === 'false' ? false : value !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return flags;
}

const runtimesHelpText = (): string => `\nRuntimes (--runtime, --runtimes):\n${runtimeHelp()}\n`;

/** A comma-separated list of precisions (bench --precisions), each one of PRECISION_IDS. */
function precisionList(v: string): string[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (!list.length) badOption('--precisions: name at least one precision');
  for (const p of list) if (!PRECISION_IDS.includes(p)) badOption(`unknown precision ${p}; available: ${PRECISION_IDS.join(', ')}`);
  return list;
}

const FAMILIES: Family[] = ['coincheung', 'mmseg', 'paddleseg'];

/**
 * One option's definition: its flags, help, and choices or parser. `uses`: where commands use the option
 * differently, what it means in each (a command's help shows its own line; `help` is the line for the others).
 */
export interface Definition { flags: string; help: string; uses?: Readonly<Record<string, string>>; choices?: readonly string[]; parse?: (value: string) => unknown }

/** The help a command shows for a definition: its own use where the definition names one, else the common line. */
export const helpFor = (d: Definition, command: string): string => d.uses?.[command] ?? d.help;

/**
 * Every option that more than one command takes, defined once: the same flags, help, choices and parser in
 * each (test/cli/options.test.ts holds it). Where the commands' uses differ, the help says how, in one place.
 * A command adds one with `shared(cmd, name)`; an option only one command takes is written in that command.
 */
export const SHARED = {
  out: { flags: '--out <path>', help: 'where to write the result', uses: {
    convert: 'the model: an .onnx or .tflite file, a directory for tfjs and tensorrt',
    quantize: 'the model: an .onnx or .tflite file, a directory for tensorrt',
    calibrate: 'the ranges, calib.json',
    infer: 'the first output (logits), .npy',
    segment: 'one image\'s mask (.png)',
  } },
  json: { flags: '--json [file]', help: 'the report as JSON: printed instead of the text, or written to file beside it' },
  force: { flags: '--force', help: 'replace the files the command writes (its outputs, the --json and --junit files) if they exist' },
  quiet: { flags: '--quiet', help: 'no progress output' },
  golden: { flags: '--golden <dir>', help: 'golden set: a directory with input.npy and reference outputs (or subdirectories of such)', uses: {
    verify: 'golden set to compare with: a directory with input.npy and reference outputs (or subdirectories of such)',
    diff: 'golden set whose inputs are fed to both models',
    doctor: 'golden set run on every runtime (default: golden/coincheung-bisenetv2-n19 in a clone; without one, doctor only lists the runtimes)',
    serve: 'golden set the page checks this device with',
  } },
  checkpoint: { flags: '--checkpoint <file>', help: 'a checkpoint (.pth, .safetensors, .pdparams)', uses: {
    verify: 'with --layers: the golden set\'s checkpoint (default: the one its manifest names)',
    doctor: 'the golden set\'s checkpoint (default: from its manifest)',
    bench: 'the model to time (.pth, .safetensors, .pdparams), converted in memory to what each runtime loads',
  } },
  data: { flags: '--data <dir>', help: 'images', uses: {
    eval: 'labelled set: <dir>/images/*.png|jpg and <dir>/labels/<same name>.png (8-bit class indices, 255 = ignore)',
    calibrate: 'calibration images: a folder of .png/.jpg, or a labelled set (its images/); not the images you evaluate on',
  } },
  input: { flags: '--input <x.npy>', help: 'input, N×3×H×W float32, H and W multiples of 32', uses: {
    diff: 'input fed to both models, N×3×H×W float32, H and W multiples of 32 (default: a deterministic 1×3×96×160)',
  } },
  limit: { flags: '--limit <n>', help: 'only the first n images (sorted by name)', parse: intOption('--limit', 1, 10_000_000) },
  aux: { flags: '--aux', help: 'the four booster heads too (aux2, aux3, aux4, aux5_4)', uses: {
    convert: 'the four booster heads as outputs too (aux2, aux3, aux4, aux5_4)',
    infer: 'write the booster heads the model has beside --out (<out>.aux2.npy …)',
  } },
  labels: { flags: '--labels', help: 'a "labels" output too, the argmax over classes (int64)', uses: {
    convert: 'add a "labels" output, the argmax over classes (int64)',
    quantize: 'add a "labels" output, the argmax over classes (int64)',
    infer: 'write the labels (the model\'s output, or the argmax of the logits) to <out>.labels.npy',
  } },
  layers: { flags: '--layers [names]', help: 'compare intermediate tensors: all (bare, or all), or these IR names, comma-separated', uses: {
    verify: 'also compare intermediate tensors with the reference interpreter on the golden set\'s checkpoint: all (bare, or all), or these IR names, comma-separated',
    diff: 'the tensors to compare, A\'s with B\'s: all (default), or these IR names, comma-separated',
  } },
  tolerance: { flags: '--tolerance <rel>', help: 'largest |Δ| allowed, relative to max |reference|', uses: {
    verify: 'largest |Δ| allowed, relative to max |reference| (default: the runtime\'s, 1e-4 for CPU and wasm, 1e-3 for GPU and WebGL)',
    diff: 'largest |Δ| allowed per tensor, relative to max |A| of that tensor',
  }, parse: floatOption('--tolerance') },
  minAgreement: { flags: '--min-agreement <share>', help: 'least share of agreeing argmax labels', uses: {
    verify: 'least share of agreeing argmax labels (default: the runtime\'s, 0.9999 for CPU and wasm, 0.999 for GPU and WebGL)',
    eval: 'with --labels-dir of a reference model\'s predictions: least pixel agreement (default 0.999 for models converted --precision fp16, 0.99 for int8, none for float32)',
  }, parse: floatOption('--min-agreement') },
  maxMiouDrop: { flags: '--max-miou-drop <points>', help: 'largest mIoU drop allowed, in points', uses: {
    eval: 'largest |mIoU − --compare-to| allowed, in points (default 0.1; 0.5 for models converted --precision int8)',
    quantize: 'largest mIoU drop of int8 against float32, in points (default 0.5)',
  }, parse: floatOption('--max-miou-drop') },
  to: { flags: '--to <target>', help: 'target format (see "Targets" below)', choices: TARGET_IDS },
  shapes: { flags: '--shapes <NxCxHxW[:opt:max]>', help: 'tensorrt: input size (static), or min:opt:max sizes for an optimization profile; tflite: the one input size (default 1x3x512x1024)' },
  calibration: { flags: '--calibration <calib.json>', help: 'int8: tensor ranges from bisenet calibrate' },
  statistic: { flags: '--statistic <s>', help: 'int8: which calibrated threshold sets activation scales (default entropy, as TensorRT\'s entropy calibrator)', choices: STATISTIC_IDS },
  keepFloat: { flags: '--keep-float <patterns>', help: 'int8: conv layers kept in float, comma-separated names or * patterns (e.g. head.classifier.conv,detail.*)' },
  qdqOutputs: { flags: '--qdq-outputs', help: 'int8, onnx: also quantize conv outputs, the form onnxruntime runs with integer kernels (TensorRT wants inputs only)' },
  family: { flags: '--family <family>', help: 'the preset\'s family, for a model that records no preprocessing (a checkpoint\'s is detected from its keys)', uses: {
    convert: 'checkpoint family (default: detected from the keys)',
  }, choices: FAMILIES },
  dataset: { flags: '--dataset <name>', help: 'preprocessing preset for a checkpoint, or for a model that records none', uses: {
    convert: 'preprocessing preset recorded in the model (default: from the class count; none records none)',
  }, choices: [...DATASETS, 'none'] },
  runtime: { flags: '--runtime <id>', help: 'runtime (default: ort-cpu for .onnx and checkpoints, tfjs-wasm for tfjs models; see "Runtimes" below)', parse: runtimeId },
  runtimes: { flags: '--runtimes <ids>', help: 'comma-separated runtimes (see "Runtimes" below)', uses: {
    doctor: 'comma-separated runtimes to check (default: all; see "Runtimes" below)',
    bench: 'comma-separated runtimes to time (default: ort-cpu and tfjs-wasm, those that load the model; see "Runtimes" below)',
  }, parse: runtimeList('--runtimes') },
  threads: { flags: '--threads <n>', help: 'CPU threads', parse: intOption('--threads', 1, 1024) },
  device: { flags: '--device <adapter>', help: 'WebGPU runtimes: auto (default), gpu, software, part of an adapter name (H100, llvmpipe), or vulkan|opengles[:NAME]' },
  tfjsFlags: { flags: '--tfjs-flags <KEY=VALUE,…>', help: 'browser tfjs runtimes: TensorFlow.js flags set before the backend starts, e.g. WEBGL_FORCE_F16_TEXTURES=true,WEBGL_PACK=false', parse: tfjsFlags },
  precisions: { flags: '--precisions <list>', help: 'with --checkpoint: also time ort-cpu on the model converted to these precisions, e.g. fp16,int8, and litert-wasm on integer TFLite for int8 (int8 needs --calibration)', parse: precisionList },
} satisfies Record<string, Definition>;

export type SharedName = keyof typeof SHARED;
/** How one command takes a shared option: required, or with a default of its own. */
export interface Use { mandatory?: boolean; default?: unknown }

function build(d: Definition, command: string, use: Use = {}): Option {
  const o = new Option(d.flags, helpFor(d, command));
  if (d.choices) o.choices(d.choices);
  if (d.parse) o.argParser(d.parse);
  if (use.default !== undefined) o.default(use.default);
  if (use.mandatory) o.makeOptionMandatory();
  return o;
}

/** Adds shared options to a command, by name, or [name, use] for a required one or one with a default. */
export function shared(cmd: Command, ...names: (SharedName | [SharedName, Use])[]): Command {
  for (const n of names) cmd.addOption(typeof n === 'string' ? build(SHARED[n], cmd.name()) : build(SHARED[n[0]], cmd.name(), n[1]));
  return cmd;
}

const RENAMED = new WeakSet<Option>();
/** Whether an option is an old spelling kept by renamedOption (hidden; it sets the option it was renamed to). */
export const isRenamed = (o: Option): boolean => RENAMED.has(o);

/**
 * An option's old spelling, kept working: hidden from the help, it sets the option it was renamed to and says so
 * in one line on stderr. Both at once are refused.
 */
export function renamedOption(cmd: Command, old: string, now: SharedName | Definition, why: string): Command {
  const d: Definition = typeof now === 'string' ? SHARED[now] : now;
  const alias = new Option(old, `old spelling of ${d.flags.split(' ')[0]}`).hideHelp();
  RENAMED.add(alias);
  if (d.parse) alias.argParser(d.parse);
  cmd.addOption(alias);
  const target = build(d, cmd.name());
  return cmd.hook('preAction', (_c, action) => {
    const v = action.getOptionValue(alias.attributeName());
    if (v === undefined) return;
    if (action.getOptionValue(target.attributeName()) !== undefined) badOption(`${cmd.name()} ${alias.long} is the old spelling of ${target.long}: give only ${target.long}`);
    process.stderr.write(`warning: ${cmd.name()} ${alias.long} is now ${target.long} (${why})\n`);
    action.setOptionValue(target.attributeName(), v);
    action.setOptionValue(alias.attributeName(), undefined);
  });
}

/** --threads. */
export const threadsOption = (cmd: Command): Command => shared(cmd, 'threads');

/** --device: the WebGPU adapter. */
export const deviceOption = (cmd: Command): Command => shared(cmd, 'device');

/**
 * Where a model runs: --runtime (one registry id), --threads, --device, and --tfjs-flags for the commands whose
 * runtimes take them; the runtime list is added to the command's help.
 */
export function runtimeOptions(cmd: Command, o: { tfjsFlags?: boolean } = {}): Command {
  shared(cmd, 'runtime');
  if (o.tfjsFlags) shared(cmd, 'tfjsFlags');
  return runtimesHelp(shared(cmd, 'threads', 'device'));
}

/** The runtime list at the end of a command's help. */
export function runtimesHelp(cmd: Command): Command {
  return cmd.addHelpText('after', runtimesHelpText);
}

/**
 * The preprocessing preset: --family and --dataset. For a checkpoint being converted ('convert'), the family is
 * detected from its keys and the dataset recorded in the model ('none' records none); for a model run on images
 * ('model'), they choose the preset of checkpoints and of models that record none, and 'none' means nothing.
 */
export function presetOptions(cmd: Command, use: 'convert' | 'model'): Command {
  shared(cmd, 'family', 'dataset');
  if (use === 'model') {
    cmd.hook('preAction', (_c, action) => {
      if (action.getOptionValue('dataset') === 'none') badOption(`${cmd.name()} --dataset none: only convert records no preset; name a dataset: ${DATASETS.join(', ')}`);
    });
  }
  return cmd;
}

/**
 * The report and the outputs: --json [file] means one thing everywhere (bare: the JSON replaces the text on
 * stdout; with a file: written there, beside the text), and --force replaces outputs that exist.
 */
export function outputOptions(cmd: Command, o: { json?: boolean } = {}): Command {
  if (o.json) shared(cmd, 'json');
  return shared(cmd, 'force');
}

/** --quiet: no progress lines. */
export const quietOption = (cmd: Command): Command => shared(cmd, 'quiet');

/** The int8 choices convert and quantize share: which ranges set activation scales, layers kept in float, and the QDQ form. */
export const int8Options = (cmd: Command): Command => shared(cmd, 'calibration', 'statistic', 'keepFloat', 'qdqOutputs');

/** `--out` of convert and quantize: a file target's name must end as its target's files do (model.onnx, model.tflite). */
export function checkModelOutName(to: Target, out: string): void {
  const file = (TARGETS[to] as { file?: { extension: string; what: string } }).file;
  if (file && !out.toLowerCase().endsWith(file.extension)) fail('usage', `--out ${out}: ${file.what}'s file name must end in ${file.extension}`);
}

/** `--json [file]`: the file it names (null when bare or absent). */
export const jsonFile = (json: string | boolean | undefined): string | null => (typeof json === 'string' ? json : null);
/** `--json` bare: the JSON replaces the text on stdout. */
export const jsonOnStdout = (json: string | boolean | undefined): boolean => json === true;
