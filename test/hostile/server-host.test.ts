/**
 * The loopback server (issue 20, class 1): a request whose Host is not the listen address or localhost (with
 * its port) is refused — a remote page cannot read the model or golden set through DNS rebinding — and
 * /lib/ serves the page's own modules only, not the rest of dist/.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostAllowed } from '../../src/runtime/web-server.js';
import { startServe } from '../../src/serve/index.js';
import { converted } from '../helpers/models.js';
import { fixture, golden, tmpDir, UPSTREAM } from '../helpers/paths.js';

let work: string;
let server: { url: string; close(): Promise<void> };
let port: number;

beforeAll(async () => {
  work = tmpDir('bisenet-host-');
  const model = path.join(work, 'm.onnx');
  fs.writeFileSync(model, converted(fixture(UPSTREAM, 'model.pth'), { to: 'onnx' }).bytes);
  server = await startServe(model, { golden: golden(UPSTREAM) });
  port = Number(new URL(server.url).port);
}, 120_000);
afterAll(async () => { await server?.close(); fs.rmSync(work, { recursive: true, force: true }); });

const get = (pathname: string, host: string | null): Promise<number> => new Promise((ok, bad) => {
  const req = http.request({ host: '127.0.0.1', port, path: pathname, method: 'GET', setHost: host !== null, headers: host === null ? {} : { Host: host } }, (res) => {
    res.resume();
    res.on('end', () => ok(res.statusCode ?? 0));
  });
  req.on('error', bad);
  req.end();
});

describe('Host header', () => {
  it('answers its own address and localhost, with the port', async () => {
    for (const h of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) expect(await get('/config.json', h), h).toBe(200);
  });

  it('refuses any other Host (and none) for every route', async () => {
    const hosts = ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`, `127.0.0.1:${port + 1}`,
      `localhost:${port}@evil.example`, `10.0.0.1:${port}`, `[::1]:${port}`];
    for (const route of ['/', '/config.json', '/golden/index.json', '/lib/web/app.js', '/model.onnx']) {
      for (const h of hosts) expect(await get(route, h), `${route} Host: ${h}`).toBe(421);
      expect([400, 421], `${route} without Host`).toContain(await get(route, null));
    }
  });

  it('the rule, for a wildcard and an IPv6 listen address', () => {
    expect(hostAllowed('[::1]:8080', '::1', 8080)).toBe(true);
    expect(hostAllowed('evil.example:8080', '0.0.0.0', 8080)).toBe(false);
    expect(hostAllowed('192.168.1.4:8080', '0.0.0.0', 8080)).toBe(true);
    expect(hostAllowed('localhost', '127.0.0.1', 80)).toBe(true);
    expect(hostAllowed('localhost', '127.0.0.1', 8080)).toBe(false);
  });
});

describe('what /lib/ serves', () => {
  it('the page modules and what they import, nothing else of dist/', async () => {
    const h = `127.0.0.1:${port}`;
    expect(await get('/lib/web/app.js', h)).toBe(200);
    expect(await get('/lib/web/engine.js', h)).toBe(200);
    expect(await get('/lib/runtime/tfjs-model.js', h)).toBe(200);
    for (const p of ['/lib/cli/main.js', '/lib/serve.js', '/lib/checkpoint/pickle.js', '/lib/runtime/web-server.js', '/lib/index.js']) expect(await get(p, h), p).toBe(404);
  });
});
