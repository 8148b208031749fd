/**
 * `bisenet-port/tfjs`: what a web app (or Node) needs to load our TensorFlow.js layers models.
 *
 *   import * as tf from '@tensorflow/tfjs';
 *   import { registerBisenetLayers } from 'bisenet-port/tfjs';
 *   registerBisenetLayers(tf); const model = await tf.loadLayersModel('/models/bisenet/model.json');
 *
 * Graph models (`--to tfjs-graph`) need nothing from here. This module imports only tfjs-core and
 * tfjs-layers (no Node APIs), so bundlers can ship it to the browser.
 */
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { EXCLUSIVE_POOL_LAYER_CLASS, RESIZE_LAYER_CLASS } from './emit/tfjs-common.js';

export { EXCLUSIVE_POOL_LAYER_CLASS, RESIZE_LAYER_CLASS } from './emit/tfjs-common.js';

/**
 * The parts of a TensorFlow.js namespace the custom layer is built from. Pass the app's own `tf`
 * (from '@tensorflow/tfjs') where it might be another copy than the one this package resolves:
 * a layer must be registered with the very copy of tfjs that loads the model.
 */
export interface TfjsNamespace {
  layers: { Layer: typeof tfl.layers.Layer };
  serialization: Pick<typeof tfc.serialization, 'registerClass' | 'SerializationMap'>;
  image: Pick<typeof tfc.image, 'resizeBilinear' | 'resizeNearestNeighbor'>;
  tidy: typeof tfc.tidy;
  /** for the exclusive average pool (optional: only PaddleSeg models need it) */
  avgPool?: typeof tfc.avgPool;
  pad?: typeof tfc.pad;
  onesLike?: typeof tfc.onesLike;
  div?: typeof tfc.div;
}

type Shape = (number | null)[];
type Tensor4D = tfc.Tensor4D;

export interface BisenetResizeConfig {
  /** 'bilinear' or 'nearest' */
  interpolation: 'bilinear' | 'nearest';
  /** Output H and W are the input's times this; without it, the output takes the second input's H and W. */
  scale?: number;
  alignCorners?: boolean;
  /** true for bilinear: PyTorch align_corners=False (half-pixel centres) */
  halfPixelCenters?: boolean;
  name?: string;
  trainable?: boolean;
  dtype?: string;
}

/** An instance of the resize layer. */
export interface BisenetResizeLayer extends tfl.layers.Layer {
  readonly interpolation: 'bilinear' | 'nearest';
  readonly scale: number | undefined;
  readonly alignCorners: boolean;
  readonly halfPixelCenters: boolean;
}

/** The resize layer class: constructible from its config, registrable with tfjs serialization. */
export type BisenetResizeClass = { new (config: BisenetResizeConfig): BisenetResizeLayer; className: string }
  & Pick<typeof tfl.layers.Layer, 'fromConfig'>;

/**
 * Builds the resize layer class on a given tfjs: NHWC resize by an integer scale or to the size of
 * a second input, with explicit alignCorners/halfPixelCenters (tfjs-layers' UpSampling2D always
 * uses halfPixelCenters=false, its Resizing layer aligns corners: neither is PyTorch's bilinear).
 */
export function makeResizeLayerClass(tf: TfjsNamespace): BisenetResizeClass {
  class BisenetResize extends tf.layers.Layer {
    static className = RESIZE_LAYER_CLASS;
    readonly interpolation: 'bilinear' | 'nearest';
    readonly scale: number | undefined;
    readonly alignCorners: boolean;
    readonly halfPixelCenters: boolean;

    constructor(config: BisenetResizeConfig) {
      super({ name: config.name, trainable: config.trainable ?? false, dtype: config.dtype as 'float32' | undefined });
      if (config.interpolation !== 'bilinear' && config.interpolation !== 'nearest') {
        throw new Error(`${RESIZE_LAYER_CLASS}: interpolation must be 'bilinear' or 'nearest', got ${String(config.interpolation)}`);
      }
      if (config.scale !== undefined && !(Number.isInteger(config.scale) && config.scale > 0)) {
        throw new Error(`${RESIZE_LAYER_CLASS}: scale must be a positive integer, got ${config.scale}`);
      }
      this.interpolation = config.interpolation;
      this.scale = config.scale;
      this.alignCorners = config.alignCorners ?? false;
      this.halfPixelCenters = config.halfPixelCenters ?? config.interpolation === 'bilinear';
    }

    outSize(x: Shape, like: Shape | undefined): [number | null, number | null] {
      if (this.scale !== undefined) return [x[1] == null ? null : x[1] * this.scale, x[2] == null ? null : x[2] * this.scale];
      if (!like) throw new Error(`${RESIZE_LAYER_CLASS} ${this.name}: without a scale it needs a second input to take its size from`);
      return [like[1] ?? null, like[2] ?? null];
    }

    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as Shape[];
      const x = shapes[0]!;
      const [h, w] = this.outSize(x, shapes[1]);
      return [x[0] ?? null, h, w, x[3] ?? null];
    }

    override call(inputs: tfc.Tensor | tfc.Tensor[]): tfc.Tensor {
      return tf.tidy(() => {
        const list = Array.isArray(inputs) ? inputs : [inputs];
        const x = list[0] as Tensor4D;
        const [h, w] = this.outSize(x.shape, list[1]?.shape);
        const size: [number, number] = [h!, w!];
        return this.interpolation === 'bilinear'
          ? tf.image.resizeBilinear(x, size, this.alignCorners, this.halfPixelCenters)
          : tf.image.resizeNearestNeighbor(x, size, this.alignCorners, this.halfPixelCenters);
      });
    }

    override getConfig(): tfc.serialization.ConfigDict {
      const config: tfc.serialization.ConfigDict = {
        interpolation: this.interpolation, alignCorners: this.alignCorners, halfPixelCenters: this.halfPixelCenters,
      };
      if (this.scale !== undefined) config.scale = this.scale;
      return { ...super.getConfig(), ...config };
    }
  }
  return BisenetResize as unknown as BisenetResizeClass;
}

export interface ExclusivePoolConfig { poolSize: number; strides: number; pads: [number, number, number, number]; name?: string; trainable?: boolean; dtype?: string }

/**
 * Average pooling whose windows average only the pixels inside the image (padding excluded from the
 * count), with explicit [top, left, bottom, right] padding: the zero-padded average divided by the
 * same average over ones. Keras' 'same' pooling excludes padding too, but pads bottom/right only.
 */
export function makeExclusivePoolLayerClass(tf: TfjsNamespace): { new (config: ExclusivePoolConfig): tfl.layers.Layer; className: string } {
  if (!tf.avgPool || !tf.pad || !tf.onesLike || !tf.div) throw new Error(`${EXCLUSIVE_POOL_LAYER_CLASS} needs avgPool, pad, onesLike and div from the tf namespace`);
  const avgPool = tf.avgPool;
  const pad = tf.pad;
  const onesLike = tf.onesLike;
  const div = tf.div;
  class BisenetAvgPoolExclusive extends tf.layers.Layer {
    static className = EXCLUSIVE_POOL_LAYER_CLASS;
    readonly poolSize: number;
    readonly strides: number;
    readonly pads: [number, number, number, number];
    constructor(config: ExclusivePoolConfig) {
      super({ name: config.name, trainable: config.trainable ?? false, dtype: config.dtype as 'float32' | undefined });
      if (!(Number.isInteger(config.poolSize) && config.poolSize > 0 && Number.isInteger(config.strides) && config.strides > 0)
        || !Array.isArray(config.pads) || config.pads.length !== 4 || !config.pads.every((p) => Number.isInteger(p) && p >= 0)) {
        throw new Error(`${EXCLUSIVE_POOL_LAYER_CLASS}: invalid config ${JSON.stringify(config)}`);
      }
      this.poolSize = config.poolSize;
      this.strides = config.strides;
      this.pads = config.pads;
    }
    private out(size: number | null, before: number, after: number): number | null {
      return size == null ? null : Math.floor((size + before + after - this.poolSize) / this.strides) + 1;
    }
    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      const x = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
      const [t, l, b, r] = this.pads;
      return [x[0] ?? null, this.out(x[1] ?? null, t, b), this.out(x[2] ?? null, l, r), x[3] ?? null];
    }
    override call(inputs: tfc.Tensor | tfc.Tensor[]): tfc.Tensor {
      return tf.tidy(() => {
        const x = (Array.isArray(inputs) ? inputs[0] : inputs) as Tensor4D;
        const [t, l, b, r] = this.pads;
        const paddings: [number, number][] = [[0, 0], [t, b], [l, r], [0, 0]];
        const k: [number, number] = [this.poolSize, this.poolSize];
        const s: [number, number] = [this.strides, this.strides];
        const mean = avgPool(pad(x, paddings) as Tensor4D, k, s, 'valid');
        const inside = avgPool(pad(onesLike(x), paddings) as Tensor4D, k, s, 'valid');
        return div(mean, inside);
      });
    }
    override getConfig(): tfc.serialization.ConfigDict {
      return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, pads: this.pads };
    }
  }
  return BisenetAvgPoolExclusive;
}

/** The layer classes on the tfjs this package resolves (what `registerBisenetLayers()` registers). */
export const BisenetResize = makeResizeLayerClass(defaultNamespace());
export const BisenetAvgPoolExclusive = makeExclusivePoolLayerClass(defaultNamespace());

function defaultNamespace(): TfjsNamespace {
  return { layers: tfl.layers, serialization: tfc.serialization, image: tfc.image, tidy: tfc.tidy, avgPool: tfc.avgPool, pad: tfc.pad, onesLike: tfc.onesLike, div: tfc.div };
}

/**
 * Registers the custom layers our layers models use with tfjs's serialization registry, so that
 * `tf.loadLayersModel` can deserialize them. Idempotent. Pass the app's `tf` namespace where the
 * app's tfjs may be another copy than this package's; by default, this package's tfjs-layers.
 * Returns the class names registered (now or before).
 */
export function registerBisenetLayers(tf?: TfjsNamespace): string[] {
  const ns = tf ?? defaultNamespace();
  const registry = ns.serialization.SerializationMap.getMap().classNameMap;
  type Ctor = tfc.serialization.SerializableConstructor<tfc.serialization.Serializable>;
  if (!(RESIZE_LAYER_CLASS in registry)) {
    ns.serialization.registerClass((tf ? makeResizeLayerClass(ns) : BisenetResize) as unknown as Ctor);
  }
  // The exclusive pool (PaddleSeg models only) needs a few more ops from the namespace; a `tf` from
  // '@tensorflow/tfjs' has them.
  if (!(EXCLUSIVE_POOL_LAYER_CLASS in registry) && ns.avgPool && ns.pad && ns.onesLike && ns.div) {
    ns.serialization.registerClass((tf ? makeExclusivePoolLayerClass(ns) : BisenetAvgPoolExclusive) as unknown as Ctor);
  }
  return [RESIZE_LAYER_CLASS, EXCLUSIVE_POOL_LAYER_CLASS].filter((c) => c in registry);
}
