import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../src/convert/index.js';
import { modelMetadataFor, preprocessingFor } from '../../src/model-file/presets.js';
import { fixture } from '../helpers/paths.js';

const meta = (bytes: Uint8Array) => Object.fromEntries(onnxProto.onnx.ModelProto.decode(bytes).metadataProps!.map((p) => [p.key, p.value]));

describe('family presets in the exported model', () => {
  it('PaddleSeg: Normalize defaults (mean 0.5, std 0.5 on 0..1 RGB), Cityscapes names and palette for 19 classes', () => {
    const m = meta(convertCheckpoint(fixture('paddleseg-bisenetv2-n19', 'model.pdparams'), { to: 'onnx' }).bytes);
    expect(m).toMatchObject({ family: 'paddleseg', num_classes: '19', dataset: 'cityscapes' });
    const pre = JSON.parse(m.preprocessing!);
    expect(pre).toMatchObject({ color_order: 'RGB', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], size_multiple: 32 });
    expect(pre.scale).toBeCloseTo(1 / 255, 12);
    expect(JSON.parse(m.class_names!)[18]).toBe('bicycle');
    expect(JSON.parse(m.palette!)).toHaveLength(19);
  });

  it('mmseg: ImageNet statistics on 0..255 RGB for every dataset; the dataset follows the class count', () => {
    for (const [n, d] of [[19, 'cityscapes'], [150, 'ade20k'], [171, 'coco-stuff']] as const) {
      const m = modelMetadataFor('mmseg', n);
      expect(m.dataset).toBe(d);
      expect(JSON.parse(m.preprocessing!)).toMatchObject({ scale: 1, mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] });
    }
    expect(modelMetadataFor('paddleseg', 171).dataset).toBe('coco-stuff');
    expect(modelMetadataFor('paddleseg', 171).class_names).toBeUndefined(); // names known for Cityscapes only
    expect(preprocessingFor('coincheung', 'coco-stuff').mean).toEqual([0.46962251, 0.4464104, 0.40718787]);
  });

  it('--dataset none records no preprocessing', () => {
    const m = meta(convertCheckpoint(fixture('mmseg-bisenetv2-n150-b2', 'model.pth'), { to: 'onnx', dataset: 'none' }).bytes);
    expect(m).toMatchObject({ family: 'mmseg', num_classes: '150', dataset: 'unknown' });
    expect(m.preprocessing).toBeUndefined();
  });
});
