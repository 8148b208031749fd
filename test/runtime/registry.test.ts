import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TARGET_IDS, TARGETS } from '../../src/emit/targets.js';
import { installLine, probeRuntime, requirePackages, RUNTIMES, runtimeById } from '../../src/runtime/index.js';
import { bisenet } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';

const pkg = JSON.parse(fs.readFileSync(`${ROOT}/package.json`, 'utf8')) as {
  dependencies: Record<string, string>; devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>; peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

describe('runtime registry', () => {
  it('every runtime names a known model format, and ids are unique', () => {
    expect(new Set(RUNTIMES.map((r) => r.id)).size).toBe(RUNTIMES.length);
    // 'checkpoint': the reference runtime runs the checkpoint itself.
    for (const r of RUNTIMES) expect([...TARGET_IDS, 'checkpoint'], r.id).toContain(r.model);
    expect(RUNTIMES.filter((r) => r.model === 'checkpoint').map((r) => r.id)).toEqual(['reference']);
    // GPU runtimes are never picked by default.
    for (const r of RUNTIMES.filter((x) => x.gpu)) expect(r.default, r.id).toBe(false);
  });

  it('every optional package is an optional peer dependency, pinned, and a dev dependency (so CI tests it)', () => {
    for (const p of new Set(RUNTIMES.flatMap((r) => r.packages))) {
      expect(pkg.peerDependencies[p], p).toMatch(/^\d+\.\d+\.\d+$/);
      expect(pkg.peerDependenciesMeta[p]?.optional, p).toBe(true);
      expect(pkg.devDependencies[p], p).toBe(pkg.peerDependencies[p]);
      expect(pkg.dependencies[p], p).toBeUndefined();
    }
  });

  it('a runtime whose packages are missing is "not installed" with the exact npm line, and refuses to load', async () => {
    const rt = runtimeById('ort-webgpu');
    const line = `npm i onnxruntime-web@${pkg.peerDependencies['onnxruntime-web']} webgpu@${pkg.peerDependencies.webgpu}`;
    expect(installLine(rt.packages)).toBe(line);
    const nothing = () => false;
    const p = await probeRuntime(rt, {}, nothing);
    expect(p.available).toBe(false);
    expect(p.missing).toEqual(['onnxruntime-web', 'webgpu']);
    expect(p.install).toBe(line);
    expect(p.detail).toBe(`not installed: ${line}`);
    expect(() => requirePackages(rt, (x) => x !== 'webgpu')).toThrowError(`runtime ort-webgpu needs webgpu, not installed (optional): npm i webgpu@${pkg.peerDependencies.webgpu}`);
    expect(() => requirePackages(rt, () => true)).not.toThrow();
  });

  it('the CLI help lists every runtime and target from the registries', () => {
    const verify = bisenet('verify', '--help').stdout;
    for (const r of RUNTIMES) expect(verify).toContain(`  ${r.id} `);
    const convert = bisenet('convert', '--help').stdout;
    for (const t of TARGET_IDS) expect(convert).toContain(`  ${t} `);
    expect(convert).toContain(TARGETS.onnx.description);
  });

  it('rejects a runtime or an opset outside the registries when parsing, before any work', () => {
    let r = bisenet('verify', 'no-such-model.onnx', '--golden', 'none', '--runtime', 'tpu');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown runtime tpu; available: ort-cpu, /);
    r = bisenet('doctor', '--runtimes', 'ort-cpu,nope', '--list');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown runtime nope/);
    for (const bad of ['12', '22', '17.5', 'x']) {
      r = bisenet('convert', 'no-such.pth', '--to', 'onnx', '--out', 'never.onnx', '--opset', bad);
      expect(r.status, bad).toBe(2);
      expect(r.stderr, bad).toBe(`error: --opset ${bad} is not supported (13–21)\n`);
    }
  });
});

describe('install line', () => {
  const node = '/opt/node/bin/node';
  it('names the place this package was installed', async () => {
    const { installKind } = await import('../../src/runtime/packages.js');
    const tmp = fs.mkdtempSync(`${(await import('node:os')).tmpdir()}/bisenet-kind-`);
    fs.mkdirSync(`${tmp}/lib/node_modules/bisenet-port`, { recursive: true });
    fs.mkdirSync(`${tmp}/bin`);
    expect(installKind(`${tmp}/lib/node_modules/bisenet-port`, node)).toEqual({ kind: 'local' }); // no bin/bisenet: a project's node_modules
    fs.writeFileSync(`${tmp}/bin/bisenet`, '');
    const g = installKind(`${tmp}/lib/node_modules/bisenet-port`, node);
    expect(g).toEqual({ kind: 'global', prefix: tmp, defaultPrefix: false });
    expect(installLine(['webgpu'], g)).toBe(`npm i -g --prefix ${tmp} webgpu@${pkg.peerDependencies.webgpu}`);
    expect(installLine(['webgpu'], installKind(`${tmp}/lib/node_modules/bisenet-port`, `${tmp}/bin/node`))).toBe(`npm i -g webgpu@${pkg.peerDependencies.webgpu}`);
    expect(installLine(['webgpu'], installKind('/home/u/.npm/_npx/0a1b/node_modules/bisenet-port', node))).toBe(`npx -p bisenet-port -p webgpu@${pkg.peerDependencies.webgpu} bisenet …`);
    expect(installKind(ROOT, node)).toEqual({ kind: 'local' });
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});
