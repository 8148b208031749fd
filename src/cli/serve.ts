import type { Family } from '../models/bisenetv2.js';
import type { Dataset } from '../model-file/presets.js';
import { isLoopback, startServe } from '../serve/index.js';

interface Opts { port?: number; host: string; golden?: string; family?: Family; dataset?: Dataset }

/** Serves the model's page until interrupted (Ctrl-C). */
export async function serveCommand(model: string, o: Opts): Promise<void> {
  const server = await startServe(model, { host: o.host, port: o.port, golden: o.golden, family: o.family, dataset: o.dataset });
  if (!isLoopback(o.host)) {
    process.stderr.write(`warning: serving on ${o.host}, reachable from other machines: anyone who can reach it can download the model${o.golden ? ' and the golden set' : ''}. `
      + 'Over plain http, browsers give WebGPU and wasm threads only to localhost pages.\n');
  }
  process.stdout.write(`serving ${server.model} at ${server.url}/ (Ctrl-C to stop)\n`);
  const b = server.backends;
  const byLine = new Map<string, string[]>();
  for (const m of b.missing) byLine.set(m.install, [...(byLine.get(m.install) ?? []), m.id]);
  process.stdout.write(`page backends: ${b.offered.join(', ')}${[...byLine].map(([line, ids]) => `; ${ids.join(', ')} with: ${line}`).join('')}\n`);
  await new Promise<void>((done) => {
    const stop = (): void => { void server.close().then(done); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
