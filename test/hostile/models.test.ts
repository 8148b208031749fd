/**
 * Models as inputs (the first round's class 6, models): a converted model whose constants would multiply a
 * tensor (an upsampling or padding factor, a Tile, a Resize, a broadcast), whose wiring is broken (a cycle, an
 * unknown input, a loop) or whose weights live elsewhere is refused before any runtime runs it, in Node and
 * before a browser starts; onnxruntime's own failure is one escaped line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/checkpoint/npy.js';
import { runBench } from '../../src/bench/index.js';
import { writeDirAtomic } from '../../src/util/fs.js';
import { bisenet, oneErrorLine } from '../helpers/cli.js';
import { converted, upstreamOnnxFolder } from '../helpers/models.js';
import { fixture, UPSTREAM } from '../helpers/paths.js';

let work: string;
let model: string;
upstreamOnnxFolder('bisenet-hostile-models-', (dir, m) => { work = dir; model = m; });

describe('6. models as inputs', () => {
  it('models whose constants multiply a tensor (UpSampling2D 500×500, an ONNX Tile) are refused before they run, in Node and before a browser starts', () => {
    const x = path.join(work, 'amp-x.npy');
    fs.writeFileSync(x, encodeNpy({ dtype: 'float32', shape: [1, 3, 32, 32], data: new Float32Array(3072) }));
    // tfjs layers model: one UpSampling2D asks for 500×500.
    const dir = path.join(work, 'amp-tfjs');
    writeDirAtomic(dir, converted(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-layers' }).files!);
    const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const ups = (mj.modelTopology.config.layers as { class_name: string; config: { size: number[] } }[]).find((l) => l.class_name === 'UpSampling2D')!;
    ups.config.size = [500, 500];
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(mj));
    const zp = (mj.modelTopology.config.layers as { class_name: string; config: { padding: unknown } }[]).find((l) => l.class_name === 'ZeroPadding2D');
    if (zp) {
      const padded = path.join(work, 'amp-tfjs-pad');
      fs.cpSync(dir, padded, { recursive: true });
      ups.config.size = [2, 2];
      zp.config.padding = [[5000, 5000], [5000, 5000]];
      fs.writeFileSync(path.join(padded, 'model.json'), JSON.stringify(mj));
      oneErrorLine(bisenet('infer', padded, '--input', x, '--out', path.join(work, 'amp-pad.npy')), /pads by \[\[5000, 5000\], \[5000, 5000\]\]/);
    }
    for (const rt of ['tfjs-wasm', 'chromium-webgl']) {
      oneErrorLine(bisenet('infer', dir, '--input', x, '--out', path.join(work, `amp-${rt}.npy`), '--runtime', rt), /upsamples by \[500, ?500\], more than 1024× in area/);
    }
    // tfjs graph model: the constants that size tensors live in the weights (a resize factor, a Pad's paddings).
    const gdir = path.join(work, 'amp-graph');
    writeDirAtomic(gdir, converted(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-graph' }).files!);
    const gj = JSON.parse(fs.readFileSync(path.join(gdir, 'model.json'), 'utf8'));
    const setInt32 = (pattern: RegExp, values: (n: number) => number[]): string => {
      const group = gj.weightsManifest[0] as { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] };
      const blob = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(gdir, p))));
      let off = 0;
      for (const w of group.weights) {
        const n = w.shape.reduce((a, b) => a * b, 1);
        if (pattern.test(w.name) && w.dtype === 'int32') {
          Buffer.from(new Int32Array(values(n)).buffer).copy(blob, off);
          let o = 0;
          for (const p of group.paths) { const len = fs.statSync(path.join(gdir, p)).size; fs.writeFileSync(path.join(gdir, p), blob.subarray(o, o + len)); o += len; }
          return w.name;
        }
        off += n * 4;
      }
      throw new Error(`no int32 weight matching ${pattern}`);
    };
    const original = new Map(gj.weightsManifest[0].paths.map((p: string) => [p, fs.readFileSync(path.join(gdir, p))]));
    const restore = () => { for (const [p, b] of original) fs.writeFileSync(path.join(gdir, p as string), b as Buffer); };
    setInt32(/^const\/scale_\d+$/, () => [600, 600]);
    oneErrorLine(bisenet('infer', gdir, '--input', x, '--out', path.join(work, 'amp-g1.npy')), /resizes by \[600, 600\], more than 1024× in area/);
    restore();
    setInt32(/\/paddings$/, (n) => Array.from({ length: n }, () => 3000));
    oneErrorLine(bisenet('infer', gdir, '--input', x, '--out', path.join(work, 'amp-g2.npy'), '--runtime', 'chromium-wasm'), /pads by \[3000, 3000/);
    // ONNX: a Tile of the input with repeats 600×600 written as a constant.
    const m = onnxProto.onnx.ModelProto.decode(fs.readFileSync(model));
    const g = m.graph!;
    const reps = new BigInt64Array([1n, 1n, 600n, 600n]);
    g.initializer!.push(onnxProto.onnx.TensorProto.create({ name: 'amp.reps', dims: [4], dataType: 7, rawData: new Uint8Array(reps.buffer) }));
    g.node!.push(onnxProto.onnx.NodeProto.create({ name: 'amp.tile', opType: 'Tile', input: [g.input![0]!.name!, 'amp.reps'], output: ['amp.tiled'] }));
    g.output!.push(onnxProto.onnx.ValueInfoProto.create({ name: 'amp.tiled', type: { tensorType: { elemType: 1 } } }));
    const tiled = path.join(work, 'amp-tile.onnx');
    fs.writeFileSync(tiled, onnxProto.onnx.ModelProto.encode(m).finish());
    for (const rt of ['ort-cpu', 'chromium-ort-wasm']) {
      oneErrorLine(bisenet('infer', tiled, '--input', x, '--out', path.join(work, `amp-${rt}.npy`), '--runtime', rt), /node 'amp\.tile' \('Tile'\) repeats its input \[1, ?1, ?600, ?600\] times/);
    }
    expect(fs.readdirSync(work).filter((f) => f.startsWith('amp-') && f.endsWith('.npy') && f !== 'amp-x.npy')).toEqual([]);
  }, 600_000);
  it('tfjs models whose wiring is broken (a cycle, an unknown or out-of-range input, a loop op) are refused before tfjs walks them', async () => {
    const { loadRunner } = await import('../../src/runtime/index.js');
    // Model JSON edited as plain data, the way an adversary edits it.
    type Json = any;
    const write = (dir: string, files: Map<string, Uint8Array>, edit: (j: Json) => void) => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      for (const [f, b] of files) fs.writeFileSync(path.join(dir, f), b);
      const j = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      edit(j);
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(j));
    };
    const layers = converted(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-layers' }).files!;
    const graph = converted(fixture(UPSTREAM, 'model.pth'), { to: 'tfjs-graph' }).files!;
    const dir = path.join(work, 'wiring');
    const cases: [string, Map<string, Uint8Array>, (j: Json) => void, RegExp][] = [
      ['layers: a cycle', layers, (j) => { const L = j.modelTopology.config.layers; L[1].inbound_nodes = [[[L[2].name, 0, 0, {}]]]; }, /form a cycle/],
      ['layers: a layer reading itself', layers, (j) => { const L = j.modelTopology.config.layers; L[2].inbound_nodes = [[[L[2].name, 0, 0, {}]]]; }, /form a cycle/],
      ['layers: an unknown input', layers, (j) => { j.modelTopology.config.layers[2].inbound_nodes = [[['nowhere', 0, 0, {}]]]; }, /reads layer 'nowhere', which the model does not define/],
      ['layers: a node index out of range', layers, (j) => { const L = j.modelTopology.config.layers; L[2].inbound_nodes = [[[L[1].name, 99, 0, {}]]]; }, /reads node 99/],
      ['layers: no outputs', layers, (j) => { j.modelTopology.config.output_layers = []; }, /output_layers is missing or empty/],
      ['graph: a cycle', graph, (j) => { const N = j.modelTopology.node; const i = N.findIndex((n: { input?: string[] }) => n.input?.length); N[i].input[0] = N[N.length - 1].name; }, /form a cycle/],
      ['graph: an unknown input', graph, (j) => { const N = j.modelTopology.node; N.find((n: { input?: string[] }) => n.input?.length).input[0] = 'nowhere:0'; }, /reads 'nowhere', which the graph does not define/],
      ['graph: a loop op', graph, (j) => { j.modelTopology.node.push({ name: 'loop', op: 'NextIteration', input: [] }); }, /is a 'NextIteration'.*no loops/],
      ['layers: strides 0 (XNNPACK prints its own errors)', layers, (j) => {
        j.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'Conv2D').config.strides = [0, 0];
      }, /strides \[0, 0\] is not a list of positive integers/],
      ['graph: strides 0', graph, (j) => {
        j.modelTopology.node.find((n: { attr?: { strides?: unknown } }) => n.attr?.strides).attr.strides.list.i = ['1', '0', '0', '1'];
      }, /strides .* are not positive integers/],
      ['graph: no weights (tfjs would initialise fresh ones)', graph, (j) => { delete j.weightsManifest; }, /no weightsManifest/],
      ['layers: no weights', layers, (j) => { j.weightsManifest = []; }, /no weightsManifest/],
      ['graph: a fused op tfjs does not compute', graph, (j) => {
        j.modelTopology.node.find((n: { attr?: { fused_ops?: unknown } }) => n.attr?.fused_ops).attr.fused_ops.list.s[0] = Buffer.from('Evil').toString('base64');
      }, /fuses 'Evil', which TensorFlow.js does not compute/],
    ];
    for (const [what, files, edit, re] of cases) {
      write(dir, files, edit);
      await expect(loadRunner(dir, 'tfjs-wasm'), what).rejects.toThrowError(re);
    }
    // Two small constants whose sum broadcasts to 12000×12000 (the constants live in an extra shard).
    const S = 12000;
    const withExtra = new Map(graph);
    withExtra.set('extra.bin', new Uint8Array(8 * S));
    write(dir, withExtra, (j) => {
      const c = (name: string, shape: number[]) => ({ name, op: 'Const', attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } }, dtype: { type: 'DT_FLOAT' } } });
      j.modelTopology.node.push(c('bc/a', [1, S, 1, 1]), c('bc/b', [1, 1, S, 1]), { name: 'bc/t', op: 'AddV2', input: ['bc/a', 'bc/b'], attr: { T: { type: 'DT_FLOAT' } } });
      j.weightsManifest.push({ paths: ['extra.bin'], weights: [{ name: 'bc/a', shape: [1, S, 1, 1], dtype: 'float32' }, { name: 'bc/b', shape: [1, 1, S, 1], dtype: 'float32' }] });
    });
    await expect(loadRunner(dir, 'tfjs-wasm')).rejects.toThrowError(/'bc\/t' \('AddV2'\) broadcasts constants to \[1, 12000, 12000, 1\]/);
  }, 120_000);
  it('ONNX ops that take their size from constants in any form, in subgraphs too, loops and external weights are refused before a session', async () => {
    const O = onnxProto.onnx;
    const i64 = (name: string, v: number[]) => O.TensorProto.create({ name, dims: [v.length], dataType: 7, rawData: new Uint8Array(new BigInt64Array(v.map(BigInt)).buffer) });
    const f32 = (name: string, v: number[]) => O.TensorProto.create({ name, dims: [v.length], dataType: 1, rawData: new Uint8Array(new Float32Array(v).buffer) });
    const constNode = (out: string, attr: onnxProto.onnx.IAttributeProto) => O.NodeProto.create({ name: `c.${out}`, opType: 'Constant', output: [out], attribute: [attr] });
    const attrInts = (name: string, ints: number[]) => ({ name, type: O.AttributeProto.AttributeType.INTS, ints });
    /** x (1×3×32×32) → nodes → y, with initializers. */
    const build = (nodes: onnxProto.onnx.INodeProto[], inits: onnxProto.onnx.ITensorProto[] = [], opset = 17): Uint8Array => O.ModelProto.encode({
      irVersion: 8, opsetImport: [{ domain: '', version: opset }],
      graph: { name: 'g', node: nodes, initializer: inits,
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [1, 3, 32, 32].map((d) => ({ dimValue: d })) } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }] },
    }).finish();
    const cases: [string, Uint8Array, RegExp][] = [
      ['Resize scales as value_floats', build([constNode('s', { name: 'value_floats', type: O.AttributeProto.AttributeType.FLOATS, floats: [1, 1, 575, 575] }),
        O.NodeProto.create({ name: 'rs', opType: 'Resize', input: ['x', '', 's'], output: ['y'] })]), /scales its input by \[1, 1, 575, 575\]/],
      ['Resize sizes', build([O.NodeProto.create({ name: 'rs', opType: 'Resize', input: ['x', '', '', 'sz'], output: ['y'] })], [i64('sz', [1, 3, 20000, 20000])]), /resizes to \[1, 3, 20000, 20000\]/],
      ['Pad 2300', build([O.NodeProto.create({ name: 'pd', opType: 'Pad', input: ['x', 'p'], output: ['y'] })], [i64('p', [0, 0, 2300, 2300, 0, 0, 2300, 2300])]), /pads by/],
      ['Expand as value_ints', build([constNode('e', attrInts('value_ints', [1, 3, 9000, 9000])),
        O.NodeProto.create({ name: 'ex', opType: 'Expand', input: ['x', 'e'], output: ['y'] })]), /makes a tensor of shape \[1, 3, 9000, 9000\]/],
      ['Range', build([O.NodeProto.create({ name: 'rg', opType: 'Range', input: ['a', 'b', 'd'], output: ['y'] })], [f32('a', [0]), f32('b', [7e8]), f32('d', [1])]), /makes 700000000 values/],
      ['ConvTranspose strides', build([O.NodeProto.create({ name: 'ct', opType: 'ConvTranspose', input: ['x', 'w'], output: ['y'], attribute: [attrInts('strides', [700, 700])] })],
        [O.TensorProto.create({ name: 'w', dims: [3, 3, 1, 1], dataType: 1, rawData: new Uint8Array(36) })]), /upsamples by strides \[700, 700\]/],
      ['Tile inside an If branch', build([O.NodeProto.create({ name: 'if', opType: 'If', input: ['cond'], output: ['y'], attribute: [
        { name: 'then_branch', type: O.AttributeProto.AttributeType.GRAPH, g: { name: 't', node: [O.NodeProto.create({ name: 'tile', opType: 'Tile', input: ['x', 'r'], output: ['yt'] })], output: [{ name: 'yt' }] } },
        { name: 'else_branch', type: O.AttributeProto.AttributeType.GRAPH, g: { name: 'e', node: [O.NodeProto.create({ name: 'id', opType: 'Identity', input: ['x'], output: ['ye'] })], output: [{ name: 'ye' }] } },
      ] })], [i64('r', [1, 1, 40, 40]), O.TensorProto.create({ name: 'cond', dims: [], dataType: 9, rawData: new Uint8Array([1]) })]), /'tile' \('Tile'\) repeats its input \[1, 1, 40, 40\]/],
      ['ConstantOfShape of a Concat of constants', build([O.NodeProto.create({ name: 'cat', opType: 'Concat', input: ['d0', 'd1', 'd2'], output: ['shp'], attribute: [{ name: 'axis', type: O.AttributeProto.AttributeType.INT, i: 0 }] }),
        O.NodeProto.create({ name: 'cos', opType: 'ConstantOfShape', input: ['shp'], output: ['y'] })], [i64('d0', [1, 19]), i64('d1', [9000]), i64('d2', [9000])]), /'cos' \('ConstantOfShape'\) makes a tensor of shape \[1, 19, 9000, 9000\]/],
      ['Resize to Shape(x) times a constant', build([O.NodeProto.create({ name: 'shp', opType: 'Shape', input: ['x'], output: ['s'] }),
        O.NodeProto.create({ name: 'mul', opType: 'Mul', input: ['s', 'k'], output: ['sz'] }),
        O.NodeProto.create({ name: 'rs', opType: 'Resize', input: ['x', '', '', 'sz'], output: ['y'] })], [i64('k', [1, 1, 575, 575])]), /resizes to its input's size times \[1, 1, 575, 575\]/],
      ['constants broadcast to a huge tensor', build([O.NodeProto.create({ name: 'outer', opType: 'Add', input: ['a', 'b'], output: ['y'] })],
        [O.TensorProto.create({ name: 'a', dims: [1, 1, 12000, 1], dataType: 1, rawData: new Uint8Array(48000) }), O.TensorProto.create({ name: 'b', dims: [1, 1, 1, 12000], dataType: 1, rawData: new Uint8Array(48000) })]),
      /broadcasts constants to \[1, 1, 12000, 12000\]/],
      ['a large constant broadcast against the input', build([O.NodeProto.create({ name: 'add', opType: 'Add', input: ['x', 'big'], output: ['y'] })],
        [O.TensorProto.create({ name: 'big', dims: [1, 1, 2048, 2048], dataType: 1, rawData: new Uint8Array(4 * 2048 * 2048) })]), /broadcasts a constant of shape \[1, 1, 2048, 2048\] against run-time data/],
      ['Loop', build([O.NodeProto.create({ name: 'lp', opType: 'Loop', input: ['m', ''], output: ['y'] })], [i64('m', [1e12])]), /is a 'Loop'.*BiSeNetV2 has no loops/],
      ['external weights', build([O.NodeProto.create({ name: 'cv', opType: 'Conv', input: ['x', 'w'], output: ['y'] })],
        [O.TensorProto.create({ name: 'w', dims: [3, 3, 1, 1], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: 'weights.bin' }] })]), /stored in an external file/],
    ];
    const { loadRunner } = await import('../../src/runtime/index.js');
    for (const [what, bytes, re] of cases) {
      const file = path.join(work, 'onnx-amp.onnx');
      fs.writeFileSync(file, bytes);
      await expect(loadRunner(file, 'ort-cpu'), what).rejects.toThrowError(re);
    }
    // onnxruntime's own error log stays out of stderr: a failing run is one escaped line, even with escapes in a node name.
    const evil = path.join(work, 'onnx-evil.onnx');
    fs.writeFileSync(evil, build([O.NodeProto.create({ name: 'rs\x1b]0;PWNED\x07\x1b[2J', opType: 'Reshape', input: ['x', 'shp'], output: ['y'] })], [i64('shp', [5, 7])]));
    const x = path.join(work, 'onnx-x.npy');
    fs.writeFileSync(x, encodeNpy({ dtype: 'float32', shape: [1, 3, 32, 32], data: new Float32Array(3072) }));
    const r = bisenet('infer', evil, '--input', x, '--out', path.join(work, 'onnx-y.npy'));
    oneErrorLine(r, /onnxruntime failed to run .*Reshape/);
    expect(r.stderr).not.toMatch(/\x1b/);
    // bench's own onnxruntime session turns the same failure into a runtime error (it was exit 3).
    await expect(runBench({ model: evil, runtimes: ['ort-cpu'], sizes: [[32, 32]], runs: 1, warmup: 0, convStack: false })).rejects.toThrowError(/onnxruntime failed to run/);
    expect(fs.existsSync(path.join(work, 'onnx-y.npy'))).toBe(false);
  }, 120_000);
});
