#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa's lavapipe) for the WebGPU runtimes on a machine without a
# GPU, as CI does before `npm test`. Debian bookworm (and similar) only.
#
# Why this way: bookworm's own Mesa 22 lavapipe is rejected by Dawn (it lacks
# shaderUniform*ArrayDynamicIndexing); Mesa 25's, from bookworm-backports, works. Installing that
# package would upgrade the whole system Mesa (GL drivers, libdrm…), so only its lavapipe library is
# unpacked, into $BISENET_LAVAPIPE_DIR (default ~/.cache/bisenet-port/lavapipe), with an ICD file
# naming it by absolute path. src/runtime/webgpu.ts adds that ICD to the Vulkan loader's drivers
# (VK_ADD_DRIVER_FILES) at run time: nothing else needs setting. The Vulkan loader itself
# (libvulkan1, bookworm's) is installed with apt when missing; it changes nothing else.
#
# Idempotent: does nothing when the driver is already there. Needs root for apt (as CI has).
set -euo pipefail

MESA_VERSION_PREFIX=25.
DIR="${BISENET_LAVAPIPE_DIR:-$HOME/.cache/bisenet-port/lavapipe}"
STAMP="$DIR/installed-from"

have_loader() { ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; }

if [[ -f "$STAMP" && -f "$DIR/libvulkan_lvp.so" && -f "$DIR/lvp_icd.json" ]] && have_loader; then
  echo "ci-vulkan: lavapipe already in $DIR ($(cat "$STAMP"))"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "ci-vulkan: no apt-get here; install a Vulkan driver yourself (Mesa >= 23 lavapipe) or set VK_ICD_FILENAMES" >&2
  exit 1
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else echo "ci-vulkan: needs root (apt) the first time" >&2; exit 1; fi
fi

. /etc/os-release
CODENAME="${VERSION_CODENAME:-bookworm}"
BACKPORTS="${CODENAME}-backports"
if ! grep -rqs "$BACKPORTS" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "ci-vulkan: adding $BACKPORTS to apt's sources (packages from it are only installed when asked for by name)"
  $SUDO tee /etc/apt/sources.list.d/bisenet-backports.sources >/dev/null <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $BACKPORTS
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
$SUDO apt-get update -qq

if ! have_loader; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libvulkan1 >/dev/null
fi

VERSION=$(apt-cache policy mesa-vulkan-drivers | awk '/^ +[0-9*]/{v=$1; if (v=="***") v=$2; print v}' | grep "^$MESA_VERSION_PREFIX" | head -1 || true)
if [[ -z "$VERSION" ]]; then
  echo "ci-vulkan: no mesa-vulkan-drivers $MESA_VERSION_PREFIX* in apt's lists (is $BACKPORTS reachable?)" >&2
  exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && apt-get download -qq "mesa-vulkan-drivers=$VERSION" 2>/dev/null || (cd "$TMP" && $SUDO apt-get download -qq "mesa-vulkan-drivers=$VERSION"))
dpkg-deb -x "$TMP"/mesa-vulkan-drivers_*.deb "$TMP/root"
LVP=$(find "$TMP/root" -name libvulkan_lvp.so | head -1)
[[ -n "$LVP" ]] || { echo "ci-vulkan: libvulkan_lvp.so not in the package" >&2; exit 1; }

mkdir -p "$DIR"
cp "$LVP" "$DIR/libvulkan_lvp.so"
API=$(cat "$TMP"/root/usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | grep -o '"api_version": *"[^"]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/' || true)
cat > "$DIR/lvp_icd.json" <<EOF
{
  "file_format_version": "1.0.0",
  "ICD": { "library_path": "$DIR/libvulkan_lvp.so", "api_version": "${API:-1.3.0}" }
}
EOF
# Its libraries must all resolve against the system's (libdrm, LLVM 15, xcb…): checked here, not at run time.
if ldd -r "$DIR/libvulkan_lvp.so" 2>&1 | grep -E 'not found|undefined symbol' >&2; then
  echo "ci-vulkan: lavapipe's libraries do not resolve on this system (above)" >&2
  exit 1
fi
echo "mesa-vulkan-drivers $VERSION" > "$STAMP"
echo "ci-vulkan: lavapipe (Mesa $VERSION) installed in $DIR"
