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
Rotation conventions, in one place.

ROS messages carry quaternions as (x, y, z, w); MuJoCo stores them as (w, x, y, z). Every
conversion between the two goes through xyzw_from_wxyz / wxyz_from_xyzw below, and the maths
helpers here all work on wxyz arrays (MuJoCo's order) unless their name says otherwise.
"""
import math

import numpy as np


def xyzw_from_wxyz(q_wxyz) -> np.ndarray:
    """Convert MuJoCo order (w, x, y, z) to ROS order (x, y, z, w)."""
    q = np.asarray(q_wxyz, dtype=float)
    return np.concatenate([q[..., 1:4], q[..., :1]], axis=-1)


def wxyz_from_xyzw(q_xyzw) -> np.ndarray:
    """Convert ROS order (x, y, z, w) to MuJoCo order (w, x, y, z)."""
    q = np.asarray(q_xyzw, dtype=float)
    return np.concatenate([q[..., 3:4], q[..., :3]], axis=-1)


def quat_normalize(q) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    if q.shape == (4,):
        # One quaternion (the per-message case): scalar maths, no reductions over axes.
        norm = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
        if not (norm >= 1e-12 and math.isfinite(norm)):
            raise ValueError(f'cannot normalize quaternion {q!r}')
        return q / norm
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm < 1e-12) or not np.all(np.isfinite(norm)):
        raise ValueError(f'cannot normalize quaternion {q!r}')
    return q / norm


def quat_multiply(a, b) -> np.ndarray:
    """Hamilton product a * b of wxyz quaternions."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape == b.shape == (4,):
        aw, ax, ay, az = a.tolist()
        bw, bx, by, bz = b.tolist()
        return np.array([
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw])
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def quat_conjugate(q) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_to_matrix(q) -> np.ndarray:
    """Return the rotation matrix of a unit wxyz quaternion."""
    w, x, y, z = quat_normalize(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_quat(m) -> np.ndarray:
    """Return the unit wxyz quaternion (w >= 0) of a rotation matrix (Shepperd's method)."""
    m = np.asarray(m, dtype=float)
    trace = np.trace(m)
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = quat_normalize(q)
    return q if q[0] >= 0 else -q


def quat_angle(q) -> float:
    """Return the rotation angle in [0, pi] of a wxyz quaternion (q, -q alike)."""
    w = abs(float(quat_normalize(q)[0]))
    return 2.0 * float(np.arccos(min(1.0, w)))


def rotation_between(q_from, q_to) -> float:
    """Return the angle in [0, pi] of the rotation taking q_from to q_to (wxyz)."""
    return quat_angle(quat_multiply(q_to, quat_conjugate(q_from)))


def axis_angle_to_quat(axis, angle) -> np.ndarray:
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    return np.concatenate([[np.cos(angle / 2.0)], np.sin(angle / 2.0) * axis])


def random_quat(rng: np.random.Generator) -> np.ndarray:
    """Draw a uniformly distributed unit wxyz quaternion."""
    q = rng.normal(size=4)
    q = q / np.linalg.norm(q)
    return q if q[0] >= 0 else -q


# REP 103 optical frame (x right, y down, z forward) vs MuJoCo camera frame (x right, y up,
# looking along -z): the two differ by a rotation of pi about x. This quaternion (wxyz) rotates
# the MuJoCo camera frame into the optical frame:
# R_world_optical = R_world_mjcam @ R_mjcam_optical.
MJCAM_TO_OPTICAL_WXYZ = np.array([0.0, 1.0, 0.0, 0.0])
