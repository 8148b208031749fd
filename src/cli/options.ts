/**
 * The CLI's shared option groups: each is defined once here, and every command subscribes to the groups it
 * takes (as Polygraphy's tools subscribe to argument groups). Choices come from the registries (runtimes,
 * targets, families, datasets, precisions); values are checked when the command line is parsed.
 */
import { type Command, CommanderError, Option } from 'commander';
import { RUNTIME_IDS, runtimeHelp } from '../runtime/catalog.js';
import type { Family } from '../models/bisenetv2.js';

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

const runtimesHelpText = (): string => `\nRuntimes (--runtime):\n${runtimeHelp()}\n`;
const DEVICE_HELP = 'WebGPU runtimes: auto (default), gpu, software, part of an adapter name (H100, llvmpipe), or vulkan|opengles[:NAME]';

/** --threads. */
export function threadsOption(cmd: Command): Command {
  return cmd.option('--threads <n>', 'CPU threads', intOption('--threads', 1, 1024));
}

/** --device: the WebGPU adapter. */
export function deviceOption(cmd: Command): Command {
  return cmd.option('--device <adapter>', DEVICE_HELP);
}

/**
 * Where a model runs: --runtime (one registry id), --threads, --device, and --tfjs-flags for the commands whose
 * runtimes take them; the runtime list is added to the command's help.
 */
export function runtimeOptions(cmd: Command, o: { runtimeHelp?: string; tfjsFlags?: boolean } = {}): Command {
  cmd.option('--runtime <id>', o.runtimeHelp ?? 'runtime (default: ort-cpu for .onnx, tfjs-wasm for tfjs models; see "Runtimes" below)', runtimeId);
  if (o.tfjsFlags) cmd.option('--tfjs-flags <KEY=VALUE,…>', 'browser tfjs runtimes: TensorFlow.js flags set before the backend starts, e.g. WEBGL_FORCE_F16_TEXTURES=true,WEBGL_PACK=false', tfjsFlags);
  return deviceOption(threadsOption(cmd)).addHelpText('after', runtimesHelpText);
}

/** The runtime list at the end of a command's help, for commands that name runtimes their own way (diff, doctor, bench). */
export function runtimesHelp(cmd: Command): Command {
  return cmd.addHelpText('after', runtimesHelpText);
}

export const FAMILIES: Family[] = ['coincheung', 'mmseg', 'paddleseg'];
const DATASETS_CHOICES = ['cityscapes', 'ade20k', 'coco-stuff'];

/**
 * The preprocessing preset: --family and --dataset. For a checkpoint being converted ('convert'), the family is
 * detected from its keys and the dataset recorded in the model ('none' records none); for a model run on images
 * ('model'), they choose the preset of checkpoints and of models that record none.
 */
export function presetOptions(cmd: Command, use: 'convert' | 'model'): Command {
  return use === 'convert'
    ? cmd.addOption(new Option('--family <family>', 'checkpoint family (default: detected from the keys)').choices(FAMILIES))
      .addOption(new Option('--dataset <name>', 'preprocessing preset recorded in the model (default: from the class count)').choices([...DATASETS_CHOICES, 'none']))
    : cmd.addOption(new Option('--family <family>', 'checkpoint family (default: detected), or the preset family for models that record no preprocessing').choices(FAMILIES))
      .addOption(new Option('--dataset <name>', 'preset dataset, for checkpoints and models that record no preprocessing').choices(DATASETS_CHOICES));
}

/**
 * The report and the outputs: --json [file] means one thing everywhere (bare: the JSON replaces the text on
 * stdout; with a file: written there, beside the text), and --force replaces outputs that exist.
 */
export function outputOptions(cmd: Command, o: { json?: string; force?: string } = {}): Command {
  if (o.json) cmd.option('--json [file]', `${o.json}: printed instead of the text, or written to file beside it`);
  return cmd.option('--force', o.force ?? 'replace outputs that exist');
}

/** --quiet: no progress lines. */
export function quietOption(cmd: Command, what = 'no progress output'): Command {
  return cmd.option('--quiet', what);
}

/** The int8 choices convert and quantize share: which ranges set activation scales, layers kept in float, and the QDQ form. */
export function int8Options(cmd: Command, o: { prefix: string }): Command {
  return cmd
    .option('--calibration <calib.json>', `${o.prefix}tensor ranges from bisenet calibrate`)
    .addOption(new Option('--statistic <s>', `${o.prefix}which calibrated threshold sets activation scales (default entropy, as TensorRT's entropy calibrator)`).choices(STATISTIC_IDS))
    .option('--keep-float <patterns>', `${o.prefix}conv layers kept in float, comma-separated names or * patterns (e.g. head.classifier.conv,detail.*)`)
    .option('--qdq-outputs', `${o.prefix}onnx: also quantize conv outputs, the form onnxruntime runs with integer kernels (TensorRT wants inputs only)`);
}

/** `--json [file]`: the file it names (null when bare or absent). */
export const jsonFile = (json: string | boolean | undefined): string | null => (typeof json === 'string' ? json : null);
/** `--json` bare: the JSON replaces the text on stdout. */
export const jsonOnStdout = (json: string | boolean | undefined): boolean => json === true;
