/**
 * The lowering table (src/emit/ops.ts): every op of the IR, read from src/ir/graph.ts by the TypeScript
 * compiler, has a lowering for every target (a row of the table, or a code path of its emitter), and
 * a graph holding every op is emitted through every target, each row's op where the row says.
 */
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { EMITTERS } from '../../src/emit/emitters.js';
import { joinChunks, ONNX_CODE_PATHS } from '../../src/emit/onnx.js';
import { CODE, COLUMN, IR_OPS, lower, LOWERINGS, type Column, type IrOp, type Lowering } from '../../src/emit/ops.js';
import { TARGET_IDS } from '../../src/emit/targets.js';
import { TENSORRT_OPS } from '../../src/emit/tensorrt.js';
import { TFJS_GRAPH_CODE_PATHS } from '../../src/emit/tfjs-graph.js';
import { TFJS_LAYERS_CODE_PATHS } from '../../src/emit/tfjs-layers.js';
import { TFLITE_CODE_PATHS, TFLITE_OPS } from '../../src/emit/tflite.js';
import { GraphBuilder, graphParams, type Graph } from '../../src/ir/graph.js';
import { checkTflite } from '../../src/model-check/tflite.js';
import { numel } from '../../src/util/ndarray.js';
import { ROOT } from '../helpers/paths.js';

/** The `op` of every member of the IR's `Attrs` union, as the compiler sees them. */
function irOpNames(): string[] {
  const file = path.join(ROOT, 'src/ir/graph.ts');
  const program = ts.createProgram([file], { strict: true, noEmit: true, noLib: true, types: [] });
  const checker = program.getTypeChecker();
  const decl = program.getSourceFile(file)!.statements.find((s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === 'Attrs');
  const attrs = checker.getTypeAtLocation(decl!.name);
  const names = new Set<string>();
  for (const member of attrs.isUnion() ? attrs.types : [attrs]) {
    const op = checker.getTypeOfSymbolAtLocation(checker.getPropertyOfType(member, 'op')!, decl!);
    for (const t of op.isUnion() ? op.types : [op]) if (t.isStringLiteral()) names.add(t.value);
  }
  return [...names].sort();
}

const CODE_PATHS: Record<Column, object> = {
  onnx: ONNX_CODE_PATHS, 'tfjs-graph': TFJS_GRAPH_CODE_PATHS, 'tfjs-layers': TFJS_LAYERS_CODE_PATHS, tflite: TFLITE_CODE_PATHS,
};
const cell = (op: string, column: Column) => (LOWERINGS as Record<string, Lowering>)[op]?.[column];
const rows = <C extends Column>(column: C) => IR_OPS.flatMap((op) => {
  const c = cell(op, column);
  return c === undefined || c === CODE ? [] : [{ op, row: c as Exclude<Lowering[C], typeof CODE> }];
});

describe('lowering table', () => {
  const irOps = irOpNames();

  it('has one row per op of the IR', () => {
    expect(irOps.length).toBeGreaterThanOrEqual(12);
    expect(irOps).toContain('conv');
    expect([...IR_OPS].sort()).toEqual(irOps);
  });

  it('gives every op a lowering for every target: a row, or a code path of the emitter (not both)', () => {
    const missing: string[] = [];
    for (const target of TARGET_IDS) {
      const column = COLUMN[target];
      for (const op of irOps) {
        const c = cell(op, column);
        const coded = typeof (CODE_PATHS[column] as Record<string, unknown>)[op] === 'function';
        if (c === undefined || (c === CODE) !== coded) missing.push(`${target} (${column} column): ${op} ${c === undefined ? 'has no cell' : coded ? 'has a row and a code path' : 'has no code path'}`);
      }
    }
    expect(missing).toEqual([]);
    // no code path for an op the IR lacks
    for (const paths of Object.values(CODE_PATHS)) expect(Object.keys(paths).filter((op) => !irOps.includes(op))).toEqual([]);
  });

  it('names ops the targets have: ONNX rows only ops TensorRT parses, TFLite rows builtin operators the emitter writes', () => {
    for (const { op, row } of rows('onnx')) expect(TENSORRT_OPS.has(row.op), `${op} → ${row.op}`).toBe(true);
    for (const { op, row } of rows('tflite')) expect(Object.hasOwn(TFLITE_OPS, row.op), `${op} → ${row.op}`).toBe(true);
  });
});

/** Every IR op at least once, each row-lowered op where no fusion or folding removes it (the ReLU after an add, the BatchNorm after a pool). */
function everyOp(labels: boolean): Graph {
  const g = new GraphBuilder('input', 4);
  const conv = g.conv('conv', 'input', 8, { kernel: 3, stride: 2, bias: true });
  const stem = g.unary('stem', 'relu', conv);
  const mp = g.pool('mp', 'maxpool', stem, 3, 1, 1);
  const ap = g.pool('ap', 'avgpool', mp, 3, 1, 1, false);
  const gap = g.unary('gap', 'globalavgpool', ap);
  const bn = g.batchnorm('bn', gap);
  const gate = g.unary('gate', 'sigmoid', bn);
  const mul = g.binary('mul', 'mul', ap, gate);
  const sum = g.binary('sum', 'add', mul, ap);
  const act = g.unary('act', 'relu', sum);
  const cat = g.concat('cat', [act, ap]);
  const up = g.resize('up', cat, 'bilinear', { scale: 2 });
  const logits = g.resize('logits', up, 'nearest', { like: 'input' });
  const outputs = [g.output('logits', logits)];
  if (labels) outputs.push(g.output('labels', g.argmax('labels', logits)));
  return { name: 'every_op', input: { name: 'input', channels: 4 }, outputs, nodes: g.nodes, sizeMultiple: 1, metadata: { family: 'test' } };
}

function weightsOf(graph: Graph): Map<string, Float32Array> {
  let s = 1;
  const r = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  return new Map(graphParams(graph).map((p) => [p.name, Float32Array.from({ length: numel(p.shape) }, () => (p.role === 'running_var' ? 0.5 + r() : r() - 0.5))]));
}

const opts = { metadata: {}, shapes: '1x4x16x16' };
const json = (files: ReturnType<(typeof EMITTERS)[keyof typeof EMITTERS]>) => JSON.parse(Buffer.from((files as Map<string, Uint8Array>).get('model.json')!).toString());
const onnxNodes = (bytes: Uint8Array) => onnxProto.onnx.ModelProto.decode(bytes).graph!.node!;
/** The IR nodes of the ops a column lowers by its rows, with their rows. */
const rowNodes = <C extends Column>(graph: Graph, column: C) => graph.nodes.flatMap((n) => rows(column).filter((r) => r.op === n.attrs.op).map(({ row }) => ({ n, row })));

describe('a graph of every IR op, emitted through every target', () => {
  const graph = everyOp(true);
  const weights = weightsOf(graph);
  const ops = (g: Graph) => new Set(g.nodes.map((n) => n.attrs.op));

  it('holds every op', () => expect([...ops(graph)].sort()).toEqual([...IR_OPS].sort()));

  it('onnx and tensorrt: each row-lowered node is one node of the row\'s type and attributes', () => {
    const nodes = onnxNodes(joinChunks(EMITTERS.onnx(graph, weights, opts) as Uint8Array[]));
    for (const { n, row } of rowNodes(graph, 'onnx')) {
      const node = nodes.find((x) => x.name === n.name);
      expect(node?.opType, n.name).toBe(row.op);
      expect(Object.fromEntries(node!.attribute!.map((a) => [a.name, Number(a.i)])), n.name).toEqual(row.ints ?? {});
      expect(node!.input).toEqual(n.inputs);
    }
    const trt = EMITTERS.tensorrt(graph, weights, opts) as Map<string, Uint8Array>;
    expect(onnxNodes(trt.get('model.onnx')!).map((x) => x.opType)).toContain('ArgMax');
  });

  it('tfjs-graph: each row-lowered node is one NodeDef of the row\'s op', () => {
    const nodes = json(EMITTERS['tfjs-graph'](graph, weights, opts)).modelTopology.node as { name: string; op: string; input: string[] }[];
    const checked = rowNodes(graph, 'tfjs-graph').filter(({ n }) => n.name !== 'stem'); // fused into its conv
    expect(checked.length).toBeGreaterThanOrEqual(6);
    for (const { n, row } of checked) {
      const node = nodes.find((x) => x.name === n.name);
      expect(node?.op, n.name).toBe(row.op);
      expect(node!.input.length).toBe(n.inputs.length + (row.consts?.length ?? 0));
    }
  });

  it('tfjs-layers: each row-lowered node is one layer of the row\'s class; argmax is refused, as the layers format has none', () => {
    expect(() => EMITTERS['tfjs-layers'](graph, weights, opts)).toThrow(/no argmax layer/);
    const noLabels = everyOp(false);
    const layers = json(EMITTERS['tfjs-layers'](noLabels, weightsOf(noLabels), opts)).modelTopology.config.layers as { name: string; class_name: string; config: Record<string, unknown> }[];
    const checked = rowNodes(noLabels, 'tfjs-layers').filter(({ n }) => n.name !== 'stem');
    expect(checked.length).toBeGreaterThanOrEqual(5);
    for (const { n, row } of checked) {
      const layer = layers.find((l) => l.name === n.name);
      expect(layer?.class_name, n.name).toBe(row.className);
      expect(layer!.config).toMatchObject(row.config);
    }
  });

  it('tflite: a valid model whose operators produce every row-lowered node\'s tensor', () => {
    const info = checkTflite(EMITTERS.tflite(graph, weights, opts) as Uint8Array, 'every_op.tflite');
    const produced = new Set(info.produced.map((t) => t.name));
    for (const { n } of rowNodes(graph, 'tflite').filter(({ n }) => n.name !== 'stem')) expect(produced.has(n.name), n.name).toBe(true);
    expect(info.outputs.map((o) => o.name)).toEqual(['logits', 'labels']);
  });
});

describe('lower', () => {
  it('refuses an op without a lowering as a bug, naming it', () => {
    const node = { name: 'x', attrs: { op: 'tanh' as unknown as IrOp }, inputs: ['input'] } as never;
    expect(() => lower('onnx', ONNX_CODE_PATHS, () => undefined, undefined as never, node, undefined)).toThrow(/onnx: IR op tanh has no lowering/);
  });
});
