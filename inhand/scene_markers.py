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
Geometry of what the scene_markers node draws in rviz, without ROS.

Cube faces coloured by their axis (x red, y green, z blue; the + face bright, the - face dark),
so a cube's orientation reads at a glance; the cube's wireframe; the position covariance of
an estimate as an ellipsoid; a camera's viewing frustum from its intrinsics; and which joints
sit at a limit or were clamped by the limiter. The node turns these into visualization_msgs.
"""
from inhand.transforms import matrix_to_quat
import numpy as np

# Face -> (outward normal, RGB): axis colours, darker on the negative face.
FACES = {
    '+x': ((1, 0, 0), (0.90, 0.15, 0.15)), '-x': ((-1, 0, 0), (0.45, 0.05, 0.05)),
    '+y': ((0, 1, 0), (0.15, 0.80, 0.20)), '-y': ((0, -1, 0), (0.05, 0.40, 0.08)),
    '+z': ((0, 0, 1), (0.20, 0.35, 0.95)), '-z': ((0, 0, -1), (0.08, 0.15, 0.45)),
}

JOINT_OK, JOINT_AT_LIMIT, JOINT_CLAMPED = 0, 1, 2


def cube_faces(size: float, alpha: float = 1.0) -> tuple:
    """Return (vertices (36, 3), colours (36, 4)): two triangles per face, cube frame."""
    vertices, colours = [], []
    half = size / 2.0
    for normal, rgb in FACES.values():
        n = np.array(normal, dtype=float)
        # Two in-face axes with u x v = n, so the triangles wind outward.
        u = np.roll(np.abs(n), 1)
        v = np.cross(n, u)
        centre = n * half
        corners = [centre + half * (a * u + b * v) for a, b in ((-1, -1), (1, -1), (1, 1),
                                                                (-1, 1))]
        for i, j, k in ((0, 1, 2), (0, 2, 3)):
            vertices += [corners[i], corners[j], corners[k]]
        colours += [(*rgb, alpha)] * 6
    return np.array(vertices), np.array(colours)


def cube_edges(size: float) -> np.ndarray:
    """Return the (24, 3) end points of the 12 edges of a cube centred at the origin."""
    half = size / 2.0
    points = []
    for axis in range(3):
        for a in (-half, half):
            for b in (-half, half):
                start = np.empty(3)
                others = [i for i in range(3) if i != axis]
                start[others[0]], start[others[1]] = a, b
                start[axis] = -half
                end = start.copy()
                end[axis] = half
                points += [start, end]
    return np.array(points)


def covariance_ellipsoid(covariance, sigmas: float = 2.0) -> tuple:
    """
    Return (diameters (3,), quat_wxyz) of the sigmas-sigma ellipsoid of a 3x3 covariance.

    The axes are the eigenvectors (a right-handed frame); negative eigenvalues (a covariance
    that is not quite positive semi-definite) count as zero. Raises ValueError for a matrix
    that is not 3x3, not finite or not symmetric.
    """
    c = np.asarray(covariance, dtype=float)
    if c.shape != (3, 3) or not np.all(np.isfinite(c)):
        raise ValueError('covariance must be a finite 3x3 matrix')
    if not np.allclose(c, c.T, atol=1e-12 + 1e-6 * np.abs(c).max()):
        raise ValueError('covariance is not symmetric')
    values, vectors = np.linalg.eigh((c + c.T) / 2.0)
    if np.linalg.det(vectors) < 0:
        vectors[:, 2] = -vectors[:, 2]
    diameters = 2.0 * sigmas * np.sqrt(np.clip(values, 0.0, None))
    return diameters, matrix_to_quat(vectors)


def frustum_lines(k, width: int, height: int, depth: float) -> np.ndarray:
    """
    Return the (16, 3) end points of a pinhole camera's frustum in its optical frame.

    Four edges from the optical centre to the image corners at distance depth (z forward),
    and the four edges of that far rectangle.
    """
    k = np.asarray(k, dtype=float).reshape(3, 3)
    if k[0, 0] <= 0 or k[1, 1] <= 0 or width <= 0 or height <= 0 or depth <= 0:
        raise ValueError('frustum needs positive focal lengths, image size and depth')
    corners = []
    for u, v in ((0, 0), (width, 0), (width, height), (0, height)):
        x = (u - k[0, 2]) / k[0, 0]
        y = (v - k[1, 2]) / k[1, 1]
        corners.append(np.array([x * depth, y * depth, depth]))
    points = []
    for i in range(4):
        points += [np.zeros(3), corners[i]]
    for i in range(4):
        points += [corners[i], corners[(i + 1) % 4]]
    return np.array(points)


def joint_states(commanded, lower, upper, requested=None, limit_margin: float = 0.02,
                 clamp_tolerance: float = 0.01) -> np.ndarray:
    """
    Classify each joint: JOINT_CLAMPED where the limiter sent something else than requested.

    JOINT_AT_LIMIT where the commanded position is within limit_margin of a limit, else
    JOINT_OK. requested (the raw command, NaN for joints it did not name) may be None.
    """
    commanded = np.asarray(commanded, dtype=float)
    states = np.full(commanded.shape, JOINT_OK)
    near = (commanded <= np.asarray(lower) + limit_margin) | \
        (commanded >= np.asarray(upper) - limit_margin)
    states[near] = JOINT_AT_LIMIT
    if requested is not None:
        requested = np.asarray(requested, dtype=float)
        with np.errstate(invalid='ignore'):
            clamped = np.abs(requested - commanded) > clamp_tolerance
        states[clamped & np.isfinite(requested)] = JOINT_CLAMPED
    return states
