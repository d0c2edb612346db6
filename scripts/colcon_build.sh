#!/usr/bin/env bash
# Build the inhand package the standard ROS way (colcon, ament_python) into OUT, using the
# venv's ament/colcon wheels, to prove a ROS robot can build it. Usage: colcon_build.sh OUT
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
VENV="$ROOT/.venv"
export PATH="$VENV/bin:$PATH" AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
cd "$OUT"
# Only the package itself: third_party/tf2_msgs is for pip-only checkouts (ROS has its own).
colcon --log-base "$OUT/log" build --base-paths "$ROOT" --packages-select inhand \
  --build-base "$OUT/build" --install-base "$OUT/install" --event-handlers console_direct-
