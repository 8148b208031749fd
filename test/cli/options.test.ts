import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command, Option } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { helpFor, isRenamed, PRECISION_IDS, SHARED, type Definition } from '../../src/cli/options.js';
import { RUNTIME_IDS } from '../../src/runtime/catalog.js';
import { TARGET_IDS, TARGETS } from '../../src/emit/targets.js';
import { runCli } from '../helpers/cli.js';
import { fixture, ROOT, tmpDir, UPSTREAM } from '../helpers/paths.js';

/** Hidden options that are not an old spelling of another: bench's --no-ceiling (its conv-stack switch's first name). */
const HIDDEN_OWN = new Set(['--no-ceiling']);

interface Use { command: string; option: Option }

/** Every option of the program (its global options under 'bisenet'), by long flag; --help and --version are commander's. */
function optionsByFlag(program: Command, o: { renamed?: boolean } = {}): Map<string, Use[]> {
  const by = new Map<string, Use[]>();
  const add = (command: string, option: Option): void => {
    if (!option.long || option.long === '--version' || option.long === '--help') return;
    if (isRenamed(option) !== Boolean(o.renamed)) return;
    by.set(option.long, [...(by.get(option.long) ?? []), { command, option }]);
  };
  for (const option of program.options) add('bisenet', option);
  for (const c of program.commands) for (const option of c.options) add(c.name(), option);
  return by;
}

/** What makes two options one definition: flags (so the argument's shape), choices, parser (the help is checked against the definition). */
const shape = (o: Option) => ({
  flags: o.flags, choices: o.argChoices ?? null, required: o.required, optional: o.optional,
  variadic: o.variadic, negate: o.negate, parser: o.parseArg?.toString() ?? null,
});

/** The long flag of every option defined in src/cli/*.ts, as written: `.option('--x …'`, `.requiredOption(`, `new Option(`, `flags: '--x …'`. */
function definedInSource(): { flag: string; file: string }[] {
  const dir = path.join(ROOT, 'src', 'cli');
  const found: { flag: string; file: string }[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const m of text.matchAll(/(?:\.option|\.requiredOption|new Option|flags:)\s*\(?\s*(['"`])(?:-[a-zA-Z], )?(--[a-z][\w-]*)/g)) found.push({ flag: m[2]!, file });
  }
  return found;
}

/** A command's whole --help, the text added after it included. */
function helpOf(cmd: Command): string {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => { out += s; } });
  cmd.outputHelp();
  return out;
}

describe('one definition per option', () => {
  const program = buildProgram();
  const by = optionsByFlag(program);

  it('an option several commands take has one flags string, help, choice list and parser everywhere, and is defined in SHARED', () => {
    const sharedFlags = new Set(Object.values(SHARED).map((d) => d.flags));
    const several = [...by].filter(([, uses]) => uses.length > 1);
    expect(several.length).toBeGreaterThan(20);
    for (const [flag, uses] of several) {
      const first = shape(uses[0]!.option);
      for (const u of uses.slice(1)) expect(shape(u.option), `${flag} in ${u.command} differs from ${uses[0]!.command}`).toEqual(first);
      expect(sharedFlags.has(first.flags), `${flag} (${uses.map((u) => u.command).join(', ')}) is not a SHARED definition`).toBe(true);
    }
  });

  it('each command shows a shared option\'s help for its own use, and a definition\'s uses name only commands that take it', () => {
    const defs = new Map<string, Definition>(Object.values(SHARED).map((d: Definition) => [d.flags, d]));
    for (const [flag, uses] of by) {
      const d = defs.get(uses[0]!.option.flags);
      if (!d) continue;
      for (const u of uses) expect(u.option.description, `${u.command} ${flag}`).toBe(helpFor(d, u.command));
      for (const c of Object.keys(d.uses ?? {})) expect(uses.map((u) => u.command), `${flag}'s use in ${c}`).toContain(c);
    }
    // A use of its own where the commands differ: segment's --out is a mask, convert's a model.
    expect(program.commands.find((c) => c.name() === 'segment')!.options.find((o) => o.long === '--out')!.description).toMatch(/mask/);
    expect(program.commands.find((c) => c.name() === 'convert')!.options.find((o) => o.long === '--out')!.description).toMatch(/model/);
  });

  it('no option flag is written in two places in src/cli/, and the scan sees every option the program has', () => {
    const found = definedInSource();
    const files = new Map<string, string[]>();
    for (const { flag, file } of found) files.set(flag, [...(files.get(flag) ?? []), file]);
    for (const [flag, where] of files) expect(where, `${flag} is defined ${where.length} times (${where.join(', ')})`).toHaveLength(1);
    // Each option of the program is one of the definitions found: an option written another way would escape the scan.
    expect(new Set(found.map((f) => f.flag))).toEqual(new Set(by.keys()));
  });

  it('a hidden option is an old spelling of a visible one (or listed here), and it sets that option with a one-line warning', async () => {
    for (const [flag, uses] of by) for (const u of uses) if (u.option.hidden) expect(HIDDEN_OWN.has(flag), `${u.command} ${flag} is hidden`).toBe(true);
    const renamed = optionsByFlag(program, { renamed: true });
    expect([...renamed.keys()].sort()).toEqual(['--labels', '--precision', '--runtime']);
    for (const [flag, uses] of renamed) {
      for (const u of uses) {
        expect(u.option.hidden, flag).toBe(true);
        // Not a visible option of its own command, which would make it two options at once.
        expect(program.commands.find((c) => c.name() === u.command)!.options.filter((o) => o.long === flag), `${u.command} ${flag}`).toHaveLength(1);
      }
    }
  });

  describe('the old spellings still work', () => {
    afterEach(() => { vi.restoreAllMocks(); });
    const parse = async (argv: string[]): Promise<{ opts: Record<string, unknown>; stderr: string }> => {
      const p = buildProgram();
      let opts: Record<string, unknown> = {};
      for (const c of p.commands) c.action((...args: unknown[]) => { opts = args.at(-2) as Record<string, unknown>; });
      let stderr = '';
      vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { stderr += String(s); return true; });
      await p.parseAsync(argv, { from: 'user' });
      return { opts, stderr };
    };

    it('eval --labels DIR is --labels-dir, bench --runtime is --runtimes, bench --precision is --precisions', async () => {
      let r = await parse(['eval', 'm.onnx', '--data', 'd', '--labels', 'pt']);
      expect(r.opts.labelsDir).toBe('pt');
      expect(r.stderr).toBe('warning: eval --labels is now --labels-dir (--labels alone adds or writes a labels output in convert, quantize and infer)\n');
      r = await parse(['bench', '--runtime', 'ort-cpu,tfjs-wasm', '--precision', 'fp16']);
      expect(r.opts.runtimes).toEqual(['ort-cpu', 'tfjs-wasm']);
      expect(r.opts.precisions).toEqual(['fp16']);
      expect(r.stderr.split('\n').filter(Boolean)).toEqual([
        'warning: bench --runtime is now --runtimes (as doctor\'s; --runtime names one runtime in the other commands)',
        'warning: bench --precision is now --precisions (a list; --precision names one precision in convert)',
      ]);
      r = await parse(['bench', '--runtimes', 'ort-cpu']);
      expect(r.opts.runtimes).toEqual(['ort-cpu']);
      expect(r.stderr).toBe('');
      await expect(parse(['bench', '--runtimes', 'ort-cpu', '--runtime', 'tfjs-wasm'])).rejects.toThrow(/^error: bench --runtime is the old spelling of --runtimes: give only --runtimes$/);
    });
  });
});

describe('comma lists and choices are checked against the registries before any work', () => {
  const oneError = (r: { status: number | null; stdout: string; stderr: string }, re: RegExp): void => {
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(re);
  };
  const runtimes = RUNTIME_IDS().join(', ');

  it('runtimes (bench, doctor), precisions (bench), targets (quantize), datasets: the bad item and the valid ones, exit 2, nothing written', () => {
    const dir = tmpDir('bisenet-options-');
    const json = path.join(dir, 'report.json');
    const ckpt = fixture(UPSTREAM, 'model.pth');
    oneError(runCli(['bench', '--checkpoint', ckpt, '--runtimes', 'ort-cpu,tpu', '--json', json]), new RegExp(`^error: unknown runtime tpu; available: ${runtimes}\n$`));
    oneError(runCli(['bench', '--checkpoint', ckpt, '--runtime', 'tpu', '--json', json]), /^error: unknown runtime tpu; available: ort-cpu, /);
    oneError(runCli(['doctor', '--runtimes', 'ort-cpu,,tpu', '--json', json]), /^error: unknown runtime tpu; available: ort-cpu, /);
    oneError(runCli(['bench', '--checkpoint', ckpt, '--precisions', 'fp16,fp64', '--json', json]), new RegExp(`^error: unknown precision fp64; available: ${PRECISION_IDS.join(', ')}\n$`));
    oneError(runCli(['bench', '--checkpoint', ckpt, '--precisions', ',', '--json', json]), /^error: --precisions: name at least one precision$/m);
    const int8 = TARGET_IDS.filter((t) => (TARGETS[t].options as string[]).includes('calibration'));
    expect(int8).toEqual(['onnx', 'tensorrt', 'tflite']);
    oneError(runCli(['quantize', ckpt, '--to', 'tfjs-graph', '--out', path.join(dir, 'm'), '--calibration-data', dir, '--eval-data', dir]),
      new RegExp(`^error: quantize --to tfjs-graph: quantize writes int8 models; int8 targets: ${int8.join(', ')}\n$`));
    oneError(runCli(['segment', ckpt, '--image', 'x.png', '--out', path.join(dir, 'mask.png'), '--dataset', 'none']),
      /^error: segment --dataset none: only convert records no preset; name a dataset: cityscapes, ade20k, coco-stuff$/m);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('inspect --json FILE writes the JSON beside the text, as every command\'s --json does, and needs --force to replace it', () => {
    const dir = tmpDir('bisenet-options-');
    const json = path.join(dir, 'inspect.json');
    const ckpt = fixture(UPSTREAM, 'model.pth');
    const r = runCli(['inspect', ckpt, '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(runCli(['inspect', ckpt]).stdout);
    expect(JSON.parse(fs.readFileSync(json, 'utf8'))).toEqual(JSON.parse(runCli(['inspect', ckpt, '--json']).stdout));
    oneError(runCli(['inspect', ckpt, '--json', json]), /--force/);
    expect(runCli(['inspect', ckpt, '--json', json, '--force']).status).toBe(0);
    // Written before --json took a file, `inspect --json CHECKPOINT` still inspects the checkpoint, as JSON on stdout.
    const old = runCli(['inspect', '--json', ckpt]);
    expect(old.status, old.stderr).toBe(0);
    expect(JSON.parse(old.stdout)).toEqual(JSON.parse(fs.readFileSync(json, 'utf8')));
    oneError(runCli(['inspect']), /^error: inspect: missing required argument 'file'$/m);
  });
});

describe('examples', () => {
  it('every command\'s help ends with two or three examples that use only its own options', () => {
    const program = buildProgram();
    const global = new Set(program.options.map((o) => o.long));
    for (const cmd of program.commands) {
      const help = helpOf(cmd);
      const m = /\nExamples:\n((?: {2}\$ bisenet .*\n)+)\n*$/.exec(help);
      expect(m, `${cmd.name()} --help has no Examples section at its end`).not.toBeNull();
      const lines = m![1]!.trimEnd().split('\n');
      expect(lines.length, cmd.name()).toBeGreaterThanOrEqual(2);
      expect(lines.length, cmd.name()).toBeLessThanOrEqual(3);
      const own = new Set(cmd.options.filter((o) => !o.hidden).map((o) => o.long));
      for (const line of lines) {
        expect(line.startsWith(`  $ bisenet ${cmd.name()}`), line).toBe(true);
        for (const flag of line.match(/(?<=\s)--[a-z][\w-]*/g) ?? []) expect(own.has(flag) || global.has(flag), `${line}: ${flag}`).toBe(true);
      }
    }
  });
});
