#!/usr/bin/env bash
# Build the interface packages under third_party/ with colcon and the pip ament/rosidl wheels,
# then copy the results into the venv. Usage: build_ros_msgs.sh VENV
set -euo pipefail
VENV=$(realpath "$1")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WS="$ROOT/build/ros_msgs"
PY="$VENV/bin/python"
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PYINC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
NPINC=$("$PY" -c 'import numpy; print(numpy.get_include())')
PYVER=$("$PY" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')
# The wheels were built in manylinux and bake its Python paths into their CMake exports.
{ grep -rlE '/opt/python/cp3[0-9]+-cp3[0-9]+' "$VENV/share" --include='*.cmake' | xargs -r sed -i -E \
  -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$PYINC#g" \
  -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$NPINC#g"; } || true
rm -rf "$WS"
mkdir -p "$WS"
(
  export PATH="$VENV/bin:$PATH" CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV"
  export Python3_EXECUTABLE="$PY"
  cd "$WS"
  colcon --log-base "$WS/log" build --base-paths "$ROOT/third_party" --build-base "$WS/build" \
    --install-base "$WS/install" --merge-install --event-handlers console_direct- \
    --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$PY" > "$WS/build.log" 2>&1 \
    || { tail -40 "$WS/build.log"; exit 1; }
)
cp -a "$WS/install/lib/"lib*.so "$VENV/lib/"
for pkg in "$WS/install/lib/$PYVER/site-packages/"*/; do
  rm -rf "$SITE/$(basename "$pkg")"
  cp -a "$pkg" "$SITE/"
done
mkdir -p "$VENV/share"
cp -a "$WS/install/share/." "$VENV/share/"
