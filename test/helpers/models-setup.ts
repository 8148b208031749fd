/** vitest's globalSetup: the run's folder of converted models (test/helpers/models.ts), removed after the run. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bisenet-test-models-'));
  project.provide('modelCache', dir);
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
