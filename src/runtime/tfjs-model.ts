/**
 * A tfjs layers or graph model behind one small interface, and one inference through it (NCHW in,
 * NHWC inside, NCHW out): shared by the Node tfjs runners and the browser pages, so it uses no Node
 * APIs (the page imports its compiled JavaScript with the UMD `tf` as the namespace).
 */
import type * as TfcNs from '@tensorflow/tfjs-core';
import type * as TflNs from '@tensorflow/tfjs-layers';
import type * as TfconvNs from '@tensorflow/tfjs-converter';
import { METADATA_KEY, type BisenetTfjsMetadata } from '../emit/tfjs-common.js';
import { causeText, fail } from '../util/errors.js';
import type { NdArray } from '../util/ndarray.js';
import { toNchw, toNhwc } from './layout.js';

type Tfc = typeof TfcNs;

/** The parts of tfjs a model needs: core, layers (loadLayersModel) and converter (loadGraphModel). */
export interface TfjsParts { tf: Tfc; layers: Pick<typeof TflNs, 'loadLayersModel' | 'model'>; converter: Pick<typeof TfconvNs, 'loadGraphModel'> }

/** A loaded tfjs model, whichever format, behind one small interface. */
export interface Loaded {
  kind: 'layers-model' | 'graph-model';
  inputName: string;
  outputNames: string[];
  /** Intermediate tensors returned after the outputs (layer or node names, which are the IR's). */
  exposed: string[];
  /** The tensors named (outputs, then exposed intermediates; all by default), in the order of `[...outputNames, ...exposed]` filtered to those. */
  execute(x: TfcNs.Tensor4D, names?: string[]): TfcNs.Tensor[];
  dispose(): void;
}

export type TfjsModelKind = Loaded['kind'];

/** Which format a model.json holds (graph models carry a list of nodes). */
export function tfjsModelKind(json: { format?: unknown; modelTopology?: unknown }): TfjsModelKind {
  return json.format === 'graph-model' || (json.format === undefined && Array.isArray((json.modelTopology as { node?: unknown } | undefined)?.node)) ? 'graph-model' : 'layers-model';
}

/**
 * Loads a model through a tfjs IOHandler (files in Node, HTTP in a page). `json` is its model.json,
 * already read; `registerLayers` registers our custom layers with the tfjs that loads it.
 */
/** Float tensors a graph model's nodes produce (not constants, shapes or indices), by node name. */
function graphFloatNodes(topology: unknown): string[] {
  const nodes = (topology as { node?: { name?: unknown; op?: unknown; attr?: Record<string, { type?: unknown }> }[] } | undefined)?.node ?? [];
  const NOT_FLOAT = new Set(['Const', 'Placeholder', 'Shape', 'ArgMax', 'ArgMin', 'Cast']);
  return nodes.filter((n) => typeof n.name === 'string' && typeof n.op === 'string' && !NOT_FLOAT.has(n.op) && n.attr?.T?.type === 'DT_FLOAT').map((n) => n.name as string);
}

/** Which of `available` to expose: none, all, or those named that the model has; never an output. */
const pickExposed = (expose: 'all' | string[] | undefined, available: string[], outputs: string[]): string[] =>
  (expose === undefined ? [] : expose === 'all' ? available : expose.filter((n) => available.includes(n))).filter((n) => !outputs.includes(n));

/**
 * Loads a model through a tfjs IOHandler (files in Node, HTTP in a page). `json` is its model.json,
 * already read; `registerLayers` registers our custom layers with the tfjs that loads it; `expose`
 * asks for intermediate tensors beside the outputs (RunnerOptions.expose).
 */
export async function loadTfjsModel(t: TfjsParts, handler: TfcNs.io.IOHandler, json: { format?: unknown; modelTopology?: unknown; userDefinedMetadata?: Record<string, unknown> },
  file: string, registerLayers: () => Promise<void> | void, expose?: 'all' | string[]): Promise<Loaded> {
  const meta = (json.userDefinedMetadata?.[METADATA_KEY] ?? null) as BisenetTfjsMetadata | null;
  const kind = tfjsModelKind(json);
  try {
    if (kind === 'layers-model') {
      await registerLayers();
      const loaded = await t.layers.loadLayersModel(handler);
      const outputNames = meta?.outputs ?? loaded.outputNames;
      const inputName = meta?.input ?? loaded.inputNames[0]!;
      // Intermediates: a sub-model on the same layers whose outputs are the model's, then theirs.
      const layerNames = loaded.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name);
      const exposed = pickExposed(expose, layerNames, loaded.outputNames);
      const model = exposed.length
        ? t.layers.model({ inputs: loaded.inputs, outputs: [...loaded.outputs, ...exposed.map((n) => loaded.getLayer(n).output as TflNs.SymbolicTensor)] })
        : loaded;
      const all = [...outputNames, ...exposed];
      return {
        kind, inputName, outputNames, exposed,
        execute: (x, names) => {
          const y = model.predict(x);
          const ys = Array.isArray(y) ? y : [y];
          if (!names) return ys;
          // The layers format computes every output; the unwanted ones are dropped before read-back.
          const keep = ys.filter((_, i) => names.includes(all[i]!));
          for (const t of ys) if (!keep.includes(t)) t.dispose();
          return keep;
        },
        dispose: () => model.dispose(),
      };
    }
    const model = await t.converter.loadGraphModel(handler);
    const sigOut = Object.keys((model.modelSignature as { outputs?: Record<string, unknown> } | undefined)?.outputs ?? {});
    const outputNames = meta?.outputs ?? (sigOut.length ? sigOut : model.outputNodes);
    const inputName = meta?.input ?? model.inputNodes[0]!;
    const exposed = pickExposed(expose, graphFloatNodes(json.modelTopology), outputNames);
    return {
      kind, inputName, outputNames, exposed,
      execute: (x, names) => {
        const y = model.execute({ [inputName]: x }, names ?? [...outputNames, ...exposed]);
        return Array.isArray(y) ? y : [y];
      },
      dispose: () => model.dispose(),
    };
  } catch (e) {
    if ((e as { name?: string }).name === 'BisenetError') throw e;
    return fail('format', `${file}: TensorFlow.js cannot load this ${kind}: ${causeText(e)}`);
  }
}

/**
 * One inference through a loaded model (any backend, the active one): NCHW in, NHWC inside, NCHW out.
 */
export async function runLoaded(tf: Tfc, model: Loaded, inputs: Record<string, NdArray>, runtime: string, modelPath: string, outputs?: string[]): Promise<Record<string, NdArray>> {
  const input = inputs[model.inputName] ?? Object.values(inputs)[0];
  if (!input) fail('usage', `no input given (the model takes ${model.inputName})`);
  if (input!.dtype !== 'float32') fail('usage', `inputs of dtype ${input!.dtype} are not supported; use float32`);
  const nhwc = toNhwc(input!);
  const x = tf.tensor4d(nhwc.data as Float32Array, nhwc.shape as [number, number, number, number], 'float32');
  let ys: TfcNs.Tensor[] = [];
  // Only the tensors asked for are read back (a graph model does not even compute the others).
  const all = [...model.outputNames, ...model.exposed];
  const wanted = outputs?.filter((n) => all.includes(n));
  const names = wanted?.length ? all.filter((n) => wanted.includes(n)) : all;
  try {
    try {
      ys = model.execute(x, names);
    } catch (e) {
      return fail('runtime', `TensorFlow.js (${runtime}) failed to run ${modelPath}: ${causeText(e)}`);
    }
    const out: Record<string, NdArray> = {};
    for (let i = 0; i < ys.length; i++) {
      const y = ys[i]!;
      // Every 4-D tensor inside our tfjs models is NHWC (they are emitted so), intermediates too.
      out[names[i] ?? `output${i}`] = toNchw(y.shape, (await y.data()) as Float32Array | Int32Array);
    }
    return out;
  } finally {
    x.dispose();
    for (const y of ys) y.dispose();
  }
}
