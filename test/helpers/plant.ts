/**
 * Plants one fault in an emitted model by editing its files as an outsider would: the ONNX
 * protobuf through onnx-proto, a tfjs model through its model.json and weight shards. Nothing
 * here knows how the emitters work beyond what the files show.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type Fault = 'resize-coordinates' | 'bn-eps' | 'pool-exclude-pad' | 'weight-transposed' | 'relu-missing';
export const FAULTS: Fault[] = ['resize-coordinates', 'bn-eps', 'pool-exclude-pad', 'weight-transposed', 'relu-missing'];

/** Where each fault goes (mmseg's BGA upsampling is bilinear; its CE block keeps the one unfolded BatchNorm). */
export const SITES = {
  resize: 'bga.semantic_up',
  bn: 'semantic.context.bn',
  pool: 'bga.detail_pool',
  conv: 'detail.stage2.1.conv',
  relu: 'semantic.stage4.0.conv1.relu',
  /** the conv a fused ReLU lives in, in tfjs models */
  reluConv: 'semantic.stage4.0.conv1.conv',
} as const;

/** Swaps the two spatial axes of a k×k kernel stored with them at `hAxis`, `hAxis + 1` of `shape`. */
function transposeSpatial(data: Float32Array, shape: number[], hAxis: number): Float32Array {
  const out = new Float32Array(data.length);
  const outer = shape.slice(0, hAxis).reduce((a, b) => a * b, 1);
  const k = shape[hAxis]!;
  const inner = shape.slice(hAxis + 2).reduce((a, b) => a * b, 1);
  for (let o = 0; o < outer; o++) {
    for (let y = 0; y < k; y++) {
      for (let x = 0; x < k; x++) {
        for (let i = 0; i < inner; i++) out[((o * k + x) * k + y) * inner + i] = data[((o * k + y) * k + x) * inner + i]!;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- ONNX

type Attr = onnxProto.onnx.IAttributeProto;
const setAttr = (node: onnxProto.onnx.INodeProto, name: string, f: (a: Attr) => void): void => {
  const a = node.attribute!.find((x) => x.name === name);
  if (!a) throw new Error(`${node.name} has no attribute ${name}`);
  f(a);
};

export function plantOnnx(bytes: Uint8Array, fault: Fault, opts: { reluByDeletion?: boolean } = {}): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const g = model.graph!;
  const node = (name: string) => {
    const n = g.node!.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };
  switch (fault) {
    case 'resize-coordinates':
      setAttr(node(SITES.resize), 'coordinate_transformation_mode', (a) => { a.s = new TextEncoder().encode('asymmetric'); });
      break;
    case 'bn-eps':
      setAttr(node(SITES.bn), 'epsilon', (a) => { a.f = 1e-3; });
      break;
    case 'pool-exclude-pad':
      setAttr(node(SITES.pool), 'count_include_pad', (a) => { a.i = 0; });
      break;
    case 'weight-transposed': {
      const init = g.initializer!.find((t) => t.name === `${SITES.conv}.weight`)!;
      const raw = init.rawData!;
      const w = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      init.rawData = new Uint8Array(transposeSpatial(w, init.dims!.map(Number), 2).buffer);
      break;
    }
    case 'relu-missing': {
      const relu = node(SITES.relu);
      if (opts.reluByDeletion) {
        // Removed and its consumers rewired to its input, as one deletes a node with the onnx package.
        g.node = g.node!.filter((x) => x !== relu);
        for (const n of g.node) n.input = n.input!.map((i) => (i === SITES.relu ? relu.input![0]! : i));
      } else {
        relu.opType = 'Identity';
      }
      break;
    }
  }
  return onnx.ModelProto.encode(model).finish();
}

// ---------------------------------------------------------------------------------------------- tfjs

interface ManifestEntry { name: string; shape: number[]; dtype: string; quantization?: unknown }
interface ModelJson {
  format: string;
  modelTopology: { node?: { name: string; op: string; input?: string[]; attr?: Record<string, any> }[]; config?: { layers: { class_name: string; name: string; config: Record<string, any>; inbound_nodes: any[] }[] } };
  weightsManifest: { paths: string[]; weights: ManifestEntry[] }[];
}

/** Copies a tfjs model directory, letting `edit` change model.json and the float32 weights by name. */
function editTfjs(src: string, dst: string, edit: (json: ModelJson, weight: (name: string) => { data: Float32Array; shape: number[] }) => void): void {
  fs.mkdirSync(dst, { recursive: true });
  const json = JSON.parse(fs.readFileSync(path.join(src, 'model.json'), 'utf8')) as ModelJson;
  const group = json.weightsManifest[0]!;
  const shards = group.paths.map((p) => fs.readFileSync(path.join(src, p)));
  const all = Buffer.concat(shards);
  const offsets = new Map<string, { offset: number; entry: ManifestEntry }>();
  let off = 0;
  for (const e of group.weights) {
    if (e.quantization) throw new Error('quantized weights are not handled here');
    offsets.set(e.name, { offset: off, entry: e });
    off += e.shape.reduce((a, b) => a * b, 1) * 4;
  }
  const views = new Map<string, Float32Array>();
  edit(json, (name) => {
    const o = offsets.get(name);
    if (!o) throw new Error(`no weight ${name}`);
    const n = o.entry.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(all.buffer.slice(all.byteOffset + o.offset, all.byteOffset + o.offset + 4 * n));
    views.set(name, data);
    return { data, shape: o.entry.shape };
  });
  for (const [name, data] of views) Buffer.from(data.buffer).copy(all, offsets.get(name)!.offset);
  let at = 0;
  group.paths.forEach((p, i) => {
    fs.writeFileSync(path.join(dst, p), all.subarray(at, at + shards[i]!.length));
    at += shards[i]!.length;
  });
  fs.writeFileSync(path.join(dst, 'model.json'), JSON.stringify(json));
}

export function plantTfjs(src: string, dst: string, fault: Fault): void {
  editTfjs(src, dst, (json, weight) => {
    const transposeWeight = (name: string) => {
      const w = weight(name);
      w.data.set(transposeSpatial(w.data, w.shape, 0)); // HWIO: H and W lead
    };
    if (json.format === 'graph-model') {
      const nodes = json.modelTopology.node!;
      const node = (name: string) => nodes.find((n) => n.name === name)!;
      switch (fault) {
        case 'resize-coordinates': node(SITES.resize).attr!.half_pixel_centers = { b: false }; break;
        case 'bn-eps': node(SITES.bn).attr!.epsilon = { f: 1e-3 }; break;
        case 'pool-exclude-pad': {
          // TF pooling with 'SAME' padding leaves the padding out of each average.
          const pool = node(SITES.pool);
          const pad = node(pool.input![0]!);
          pool.input = [pad.input![0]!];
          pool.attr!.padding = { s: btoa('SAME') };
          break;
        }
        case 'weight-transposed': transposeWeight(`${SITES.conv}/kernel`); break;
        case 'relu-missing': {
          const conv = node(SITES.reluConv);
          conv.attr!.fused_ops = { list: { s: [btoa('BiasAdd')] } };
          break;
        }
      }
      return;
    }
    const layers = json.modelTopology.config!.layers;
    const layer = (name: string) => layers.find((l) => l.name === name)!;
    switch (fault) {
      case 'resize-coordinates': layer(SITES.resize).config.half_pixel_centers = false; break;
      case 'bn-eps': layer(SITES.bn).config.epsilon = 1e-3; break;
      case 'pool-exclude-pad': {
        // Keras' 'same' pooling excludes padding; the explicit pad in front is made a no-op.
        const pool = layer(SITES.pool);
        layer(pool.inbound_nodes[0][0][0]).config.padding = [[0, 0], [0, 0]];
        pool.config.padding = 'same';
        break;
      }
      case 'weight-transposed': transposeWeight(`${SITES.conv}/kernel`); break;
      case 'relu-missing': layer(SITES.reluConv).config.activation = 'linear'; break;
    }
  });
}
