import * as fs from 'node:fs';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../src/convert/index.js';
import { modelMetadataFor, preprocessingFor } from '../src/model-file/presets.js';
import { fixture, tmpDir } from './helpers/paths.js';
import { coco171Checkpoint } from './helpers/synth-checkpoint.js';

const meta = (bytes: Uint8Array) => Object.fromEntries(onnxProto.onnx.ModelProto.decode(bytes).metadataProps!.map((p) => [p.key, p.value]));

describe('preprocessing presets in the exported model', () => {
  it('records the family and dataset preset in ONNX metadata_props', () => {
    const m = meta(convertCheckpoint(fixture('coincheung-bisenetv2-n19', 'model.pth'), { to: 'onnx' }).bytes);
    expect(m).toMatchObject({ family: 'coincheung', num_classes: '19', dataset: 'cityscapes' });
    const pre = JSON.parse(m.preprocessing!);
    expect(pre).toMatchObject({ color_order: 'RGB', mean: [0.3257, 0.369, 0.3223], std: [0.2112, 0.2148, 0.2115], size_multiple: 32 });
    expect(pre.scale).toBeCloseTo(1 / 255, 12);
    expect(JSON.parse(m.class_names!)).toHaveLength(19);
    expect(JSON.parse(m.palette!)[0]).toEqual([128, 64, 128]);
  });

  it('uses ImageNet statistics on 0..255 for mmseg, whatever the dataset', () => {
    const m = meta(convertCheckpoint(fixture('mmseg-bisenetv2-n150-b2', 'model.pth'), { to: 'onnx' }).bytes);
    expect(m.dataset).toBe('ade20k');
    expect(JSON.parse(m.preprocessing!)).toMatchObject({ scale: 1, mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] });
  });

  it('picks the dataset from the class count, and refuses a forced dataset of another count', () => {
    expect(modelMetadataFor('coincheung', 171).dataset).toBe('coco-stuff');
    expect(modelMetadataFor('coincheung', 7)).toEqual({ dataset: 'unknown' });
    expect(modelMetadataFor('coincheung', 19, 'none')).toEqual({ dataset: 'unknown' });
    expect(() => modelMetadataFor('coincheung', 19, 'ade20k')).toThrowError(/--dataset ade20k has 150 classes, the checkpoint 19/);
    expect(preprocessingFor('coincheung', 'ade20k').mean).toEqual([0.4934323, 0.46819794, 0.43106043]);
  });

  it('puts the same preset in tfjs userDefinedMetadata', () => {
    const dir = tmpDir();
    const c = convertCheckpoint(coco171Checkpoint(dir).file, { to: 'tfjs-graph' }); // 171 classes: COCO-Stuff
    fs.rmSync(dir, { recursive: true, force: true });
    const json = JSON.parse(Buffer.from(c.bytes).toString('utf8'));
    expect(json.userDefinedMetadata.bisenet).toMatchObject({ family: 'coincheung', dataset: 'coco-stuff' });
    expect(JSON.parse(json.userDefinedMetadata.bisenet.preprocessing).std).toEqual([0.27469736, 0.27012361, 0.28515933]);
  });
});
