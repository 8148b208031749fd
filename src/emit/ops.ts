/**
 * How each IR op lowers to each target, as data: one row per IR op, one column per emitter (the
 * TensorRT target writes the ONNX column). A cell is either the op's lowering in the target's own
 * terms, for the ops that lower to one target op with fixed attributes, or CODE: the emitter lowers
 * it by hand (convs, BatchNorm, pools and resizes with their padding and rounding rules, argmax, and
 * the few ops whose lowering depends on more than the node). Each emitter runs its column's rows
 * with a few-line executor and has one code path for each of its CODE cells, no more and no fewer
 * (`CodePaths`; the compiler asks). So an op is added here, with its lowering for every target.
 * As in onnx's helper tables, tfjs-converter's op lists and tinygrad's per-backend code_for_op.
 *
 * One table rather than one per emitter: a row shows an op's lowerings side by side, and the type
 * of the table makes a row without a cell for some target an error. Data only (it imports types
 * only), so that every emitter can read it without loading another.
 */
import type { Attrs, Node } from '../ir/graph.js';
import type { Target } from './targets.js';

export type IrOp = Attrs['op'];

/** The cell of an op an emitter lowers in code. */
export const CODE = 'code';
type Code = typeof CODE;

/** An int32 constant appended to a node's inputs; one tensor by this name however many nodes read it. */
export interface Int32Input { name: string; shape: readonly number[]; values: readonly number[] }

/** ONNX: one node of type `op` on the IR node's inputs, with these INT attributes. */
export interface OnnxRow { op: string; ints?: Readonly<Record<string, number>> }

/** tfjs graph model: one NodeDef of `op` (attr T = float32) on the inputs and `consts`; `inputCount` names the attr holding the input count. */
export interface TfjsGraphRow {
  op: string;
  consts?: readonly Int32Input[];
  inputCount?: string;
  /** further attrs, as model.json writes them */
  attr?: Readonly<Record<string, { type: 'DT_INT32' } | { b: boolean }>>;
}

/** tfjs layers model: one Keras layer of `className` with `config` on the inputs. */
export interface TfjsLayersRow { className: string; config: Readonly<Record<string, unknown>> }

/** A scalar field of a TFLite options table, in the schema's field order. */
export type TfliteField = { i8: number } | { i32: number } | { bool: boolean };
/**
 * TFLite: one builtin operator on the inputs and `consts`, with its options table. `int8Output`: the
 * output's quantization in an int8 model: the calibrated range, the calibrated range at the input's
 * step (a ReLU: its output takes at least its input's scale), or fixed parameters.
 */
export interface TfliteRow {
  op: string;
  options?: { table: string; fields: readonly TfliteField[] };
  consts?: readonly Int32Input[];
  int8Output: 'calibrated' | 'calibrated-input-step' | { scale: readonly number[]; zeroPoint: readonly number[] };
}

export interface Lowering {
  onnx: OnnxRow | Code;
  'tfjs-graph': TfjsGraphRow | Code;
  'tfjs-layers': TfjsLayersRow | Code;
  tflite: TfliteRow | Code;
}
export type Column = keyof Lowering;

/** The column each target writes. */
export const COLUMN: { [T in Target]: Column } = { onnx: 'onnx', tensorrt: 'onnx', 'tfjs-graph': 'tfjs-graph', 'tfjs-layers': 'tfjs-layers', tflite: 'tflite' };

const NO_ACTIVATION: TfliteField = { i8: 0 }; // fused_activation_function NONE
const SPATIAL_AXES: Int32Input = { name: 'const/spatial_axes', shape: [2], values: [1, 2] }; // H, W of NHWC
/** The channel axis of NHWC as a scalar, shared with the tfjs graph model's hand-written ArgMax. */
export const TFJS_CHANNEL_AXIS: Int32Input = { name: 'const/channel_axis', shape: [], values: [3] };

export const LOWERINGS = {
  conv: { onnx: CODE, 'tfjs-graph': CODE, 'tfjs-layers': CODE, tflite: CODE },
  batchnorm: { onnx: CODE, 'tfjs-graph': CODE, 'tfjs-layers': CODE, tflite: CODE },
  maxpool: { onnx: CODE, 'tfjs-graph': CODE, 'tfjs-layers': CODE, tflite: CODE },
  avgpool: { onnx: CODE, 'tfjs-graph': CODE, 'tfjs-layers': CODE, tflite: CODE },
  resize: { onnx: CODE, 'tfjs-graph': CODE, 'tfjs-layers': CODE, tflite: CODE },
  // ONNX: int32 labels for TensorRT take a Cast; tfjs layers: refused (no argmax layer).
  argmax: { onnx: CODE, 'tfjs-graph': CODE, 'tfjs-layers': CODE, tflite: CODE },
  relu: {
    onnx: { op: 'Relu' },
    'tfjs-graph': { op: 'Relu' },
    'tfjs-layers': { className: 'Activation', config: { activation: 'relu' } },
    tflite: { op: 'RELU', int8Output: 'calibrated-input-step' },
  },
  sigmoid: {
    onnx: { op: 'Sigmoid' },
    'tfjs-graph': { op: 'Sigmoid' },
    'tfjs-layers': { className: 'Activation', config: { activation: 'sigmoid' } },
    // int8 LOGISTIC: the quantization spec's fixed output range [0, 1).
    tflite: { op: 'LOGISTIC', int8Output: { scale: [1 / 256], zeroPoint: [-128] } },
  },
  add: { // the 1×1 context broadcasts over H, W
    onnx: { op: 'Add' },
    'tfjs-graph': { op: 'AddV2' },
    'tfjs-layers': { className: 'Add', config: {} },
    tflite: { op: 'ADD', options: { table: 'AddOptions', fields: [NO_ACTIVATION] }, int8Output: 'calibrated' },
  },
  mul: {
    onnx: { op: 'Mul' },
    'tfjs-graph': { op: 'Mul' },
    'tfjs-layers': { className: 'Multiply', config: {} },
    tflite: { op: 'MUL', options: { table: 'MulOptions', fields: [NO_ACTIVATION] }, int8Output: 'calibrated' },
  },
  concat: {
    onnx: { op: 'Concat', ints: { axis: 1 } },
    'tfjs-graph': { op: 'ConcatV2', consts: [TFJS_CHANNEL_AXIS], inputCount: 'N', attr: { Tidx: { type: 'DT_INT32' } } },
    'tfjs-layers': { className: 'Concatenate', config: { axis: -1 } },
    tflite: CODE, // int8: every input requantized to the output's parameters
  },
  globalavgpool: {
    onnx: { op: 'GlobalAveragePool' },
    'tfjs-graph': { op: 'Mean', consts: [SPATIAL_AXES], attr: { Tidx: { type: 'DT_INT32' }, keep_dims: { b: true } } },
    'tfjs-layers': CODE, // GlobalAveragePooling2D, then a Reshape to 1×1×C
    tflite: { op: 'MEAN', consts: [SPATIAL_AXES], options: { table: 'ReducerOptions', fields: [{ bool: true }] }, int8Output: 'calibrated' },
  },
} as const satisfies { readonly [K in IrOp]: Lowering };

/** Every IR op (the keys of the table, which its type makes the IR's op union exactly). */
export const IR_OPS = Object.keys(LOWERINGS) as IrOp[];

/** The attrs of the nodes of op K (maxpool and avgpool share PoolAttrs). */
export type AttrsOf<K extends IrOp> = Attrs extends infer A ? (A extends { op: infer O } ? (K extends O ? A : never) : never) : never;
/** The ops a column lowers in code. */
export type CodedOps<C extends Column> = { [K in IrOp]: (typeof LOWERINGS)[K][C] extends Code ? K : never }[IrOp];
/** An emitter's hand-written lowerings: one for each CODE cell of its column. */
export type CodePaths<C extends Column, Ctx, Io> = { readonly [K in CodedOps<C>]: (ctx: Ctx, n: Node<AttrsOf<K>>, io: Io) => void };
type RowOf<C extends Column> = Exclude<Lowering[C], Code>;

/**
 * Lowers node `n` for a column: its row through `row`, else its code path. An op with neither is a
 * bug (the table's type and `CodePaths` rule it out at compile time).
 */
export function lower<C extends Column, Ctx, Io>(
  column: C, code: CodePaths<C, Ctx, Io>, row: (ctx: Ctx, n: Node, r: RowOf<C>, io: Io) => void, ctx: Ctx, n: Node, io: Io,
): void {
  const cell = (LOWERINGS as Record<string, Lowering>)[n.attrs.op]?.[column];
  if (cell !== undefined && cell !== CODE) return row(ctx, n, cell as RowOf<C>, io);
  const path = (code as unknown as Record<string, ((ctx: Ctx, n: Node, io: Io) => void) | undefined>)[n.attrs.op];
  if (cell === undefined || !path) throw new Error(`${column}: IR op ${n.attrs.op} has no lowering (neither a row of src/emit/ops.ts nor a code path)`);
  path(ctx, n, io);
}
