/**
 * Optional runtime packages (GPU and browser runtimes are optional peer dependencies, not part of a
 * default install): whether one is installed, and the exact `npm i` line that installs it, with the
 * version the project pins in its package.json's peerDependencies.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

/** package.json of this package: two levels above src/runtime and dist/runtime alike. */
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

let peerVersions: Record<string, string> | null = null;

function pinnedVersion(pkg: string): string | undefined {
  if (!peerVersions) {
    try {
      const j = JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')) as { peerDependencies?: Record<string, string> };
      peerVersions = j.peerDependencies ?? {};
    } catch { peerVersions = {}; }
  }
  return peerVersions[pkg];
}

/**
 * Whether a package can be imported from here: its folder in one of the node_modules Node would
 * search from this file. Nothing is loaded, and a package's `exports` map cannot hide it.
 */
export function isInstalled(pkg: string): boolean {
  const dirs = createRequire(import.meta.url).resolve.paths(pkg) ?? [];
  return dirs.some((d) => fs.existsSync(path.join(d, pkg, 'package.json')));
}

/** The packages of `pkgs` that are not installed; `installed` is replaceable for tests. */
export function missingPackages(pkgs: readonly string[], installed: (pkg: string) => boolean = isInstalled): string[] {
  return pkgs.filter((p) => !installed(p));
}

/** `npm i onnxruntime-web@1.30.0 webgpu@0.6.2`: the versions this release is tested with. */
export function installLine(pkgs: readonly string[]): string {
  return `npm i ${pkgs.map((p) => { const v = pinnedVersion(p); return v ? `${p}@${v}` : p; }).join(' ')}`;
}
