/**
 * A `.tflite` file read in the model-file room: its bytes within the budgets, then the whole file through the
 * one gate, checkTflite (../model-check/tflite.ts), before anything in it is trusted or any LiteRT sees it.
 * Imports util and the model checks only, so that LiteRT's runner and Chromium's routes read it here.
 */
import { checkTflite, type TfliteInfo } from '../model-check/tflite.js';
import { readFileChecked } from '../util/fs.js';

/** A `.tflite` file as read and checked once: its bytes and what the check read from them. */
export interface TfliteFile { bytes: Buffer; info: TfliteInfo }

/** Reads a `.tflite` file within the budgets and checks it whole (exit 2 naming the file where it fails). */
export function readTfliteFile(modelPath: string): TfliteFile {
  const bytes = readFileChecked(modelPath, 'TFLite model');
  return { bytes, info: checkTflite(bytes, modelPath) };
}
