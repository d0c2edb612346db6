# Copyright 2026 The inhand Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
A small buffer of static transforms (tf2_ros has no wheel): compose chains to the world frame.

Fed from /tf_static (every publisher latches its own TFMessage; a subscriber receives all of
them), it answers "pose of frame F in the world" by walking F's parents, so a real rig's
world -> camera_link -> camera_optical chain works as well as the simulator's direct
world -> <camera>_optical transforms.
"""
from inhand.transforms import quat_to_matrix
import numpy as np


class StaticTransforms:
    """Parent links and transforms, p_parent = R @ p_child + t."""

    def __init__(self):
        self._parent = {}

    def add(self, parent: str, child: str, translation, quat_wxyz):
        """Add or replace the transform of child in parent; raise ValueError if invalid."""
        translation = np.asarray(translation, dtype=float)
        quat = np.asarray(quat_wxyz, dtype=float)
        if not parent or not child or parent == child:
            raise ValueError(f'invalid static transform {parent!r} -> {child!r}')
        if translation.shape != (3,) or quat.shape != (4,) \
                or not np.all(np.isfinite(translation)) or not np.all(np.isfinite(quat)):
            raise ValueError(f'non-finite static transform {parent!r} -> {child!r}')
        norm = float(np.linalg.norm(quat))
        if abs(norm - 1.0) > 1e-3:
            raise ValueError(f'static transform {parent!r} -> {child!r}: quaternion norm {norm}')
        self._parent[child] = (parent, quat_to_matrix(quat / norm), translation)

    def lookup(self, target: str, source: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Return (R, t) of frame source in frame target, or None if not connected."""
        R, t = np.eye(3), np.zeros(3)
        frame, seen = source, set()
        while frame != target:
            if frame in seen or frame not in self._parent:
                return None
            seen.add(frame)
            parent, R_pc, t_pc = self._parent[frame]
            R, t = R_pc @ R, R_pc @ t + t_pc
            frame = parent
        return R, t

    def __len__(self):
        return len(self._parent)
