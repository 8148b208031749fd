/**
 * Optional runtime packages (GPU and browser runtimes are optional peer dependencies, not part of a
 * default install): whether one is installed, and the exact `npm i` line that installs it, with the
 * version the project pins in its package.json's peerDependencies.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** How this package was installed, which decides where optional packages must go to be found. */
export type InstallKind = { kind: 'local' } | { kind: 'global'; prefix: string; defaultPrefix: boolean } | { kind: 'npx' };

/** Where this package lives: a global prefix, npx's cache, or a project (or this checkout). */
export function installKind(pkgRoot = fileURLToPath(new URL('../..', import.meta.url)), execPath = process.execPath): InstallKind {
  const nm = path.dirname(pkgRoot);
  if (path.basename(nm) !== 'node_modules') return { kind: 'local' };
  if (nm.split(path.sep).includes('_npx')) return { kind: 'npx' };
  // A global install: <prefix>/lib/node_modules on POSIX, <prefix>/node_modules on Windows.
  const posix = path.basename(path.dirname(nm)) === 'lib';
  const prefix = posix ? path.dirname(path.dirname(nm)) : path.dirname(nm);
  const bin = posix ? path.join(prefix, 'bin', 'bisenet') : path.join(prefix, 'bisenet.cmd');
  if (!fs.existsSync(bin)) return { kind: 'local' };
  // npm's default global prefix is node's own install prefix.
  const nodePrefix = process.platform === 'win32' ? path.dirname(execPath) : path.dirname(path.dirname(execPath));
  return { kind: 'global', prefix, defaultPrefix: path.resolve(prefix) === path.resolve(nodePrefix) };
}

/**
 * The command that installs `pkgs` where this package finds them, with the versions this release is
 * tested with: `npm i onnxruntime-web@1.30.0 webgpu@0.6.2` in a project, `npm i -g …` beside a
 * global install (with its `--prefix` when not npm's default), `npx -p …` when run through npx.
 */
export function installLine(pkgs: readonly string[], where: InstallKind = installKind()): string {
  const specs = pkgs.map((p) => { const v = pinnedVersion(p); return v ? `${p}@${v}` : p; });
  if (where.kind === 'npx') return `npx ${['bisenet-port', ...specs].map((s) => `-p ${s}`).join(' ')} bisenet …`;
  if (where.kind === 'global') return `npm i -g ${where.defaultPrefix ? '' : `--prefix ${where.prefix} `}${specs.join(' ')}`;
  return `npm i ${specs.join(' ')}`;
}
