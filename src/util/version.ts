import * as fs from 'node:fs';

/**
 * This package's name and version, from its package.json (two levels above dist/util and src/util alike):
 * the one source of the version the CLI prints and every emitter records as the model's producer.
 */
export const PACKAGE: { name: string; version: string } = (() => {
  try {
    const p = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
    return { name: typeof p.name === 'string' ? p.name : 'bisenet-port', version: typeof p.version === 'string' ? p.version : 'unknown' };
  } catch {
    return { name: 'bisenet-port', version: 'unknown' };
  }
})();

/** `bisenet-port 0.1.0`: what a model records as its producer. */
export const PRODUCER = `${PACKAGE.name} ${PACKAGE.version}`;
