import { isLoopback, startServe } from '../serve.js';

interface Opts { port?: number; host: string; golden?: string }

/** Serves the model's page until interrupted (Ctrl-C). */
export async function serveCommand(model: string, o: Opts): Promise<void> {
  const server = await startServe(model, { host: o.host, port: o.port, golden: o.golden });
  if (!isLoopback(o.host)) {
    process.stderr.write(`warning: serving on ${o.host}, reachable from other machines: anyone who can reach it can download the model${o.golden ? ' and the golden set' : ''}. `
      + 'Over plain http, browsers give WebGPU and wasm threads only to localhost pages.\n');
  }
  process.stdout.write(`serving ${model} at ${server.url}/ (Ctrl-C to stop)\n`);
  await new Promise<void>((done) => {
    const stop = (): void => { void server.close().then(done); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
