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
The cube as one known 3D object: which ArUco markers it carries and where their corners are.

The layout is built from inhand.cube_markers.CubeMarkers (config/cube/aruco_cube.yaml), the
same description the simulator uses to texture the cube, so the estimator and the sim cannot
drift apart. Corner order is cv2.aruco's (top-left, top-right, bottom-right, bottom-left as the
marker is read), which is what keeps face identity: a detected id and its corner order pin the
cube's orientation, with no symmetry to flip.
"""
from dataclasses import dataclass

import cv2
import numpy as np


class MarkerLayoutError(ValueError):
    """The marker layout is inconsistent (wrong shapes, duplicate ids, non-square markers)."""


@dataclass(frozen=True)
class MarkerLayout:
    """Marker ids and their corner positions (cube body frame, metres)."""

    dictionary: object
    ids: tuple
    corners: np.ndarray          # (N, 4, 3), corners[i] belongs to ids[i]
    marker_size: float
    cube_size: float

    def __post_init__(self):
        corners = np.asarray(self.corners, dtype=float)
        if corners.ndim != 3 or corners.shape[1:] != (4, 3) or corners.shape[0] != len(self.ids):
            raise MarkerLayoutError(
                f'corners must be ({len(self.ids)}, 4, 3), got {corners.shape}')
        if len(set(self.ids)) != len(self.ids):
            raise MarkerLayoutError(f'duplicate marker ids in {self.ids}')
        if not np.all(np.isfinite(corners)):
            raise MarkerLayoutError('marker corners must be finite')
        sides = np.linalg.norm(corners - np.roll(corners, -1, axis=1), axis=2)
        if not np.allclose(sides, self.marker_size, rtol=1e-3, atol=1e-6):
            raise MarkerLayoutError(
                f'marker corners do not form squares of side {self.marker_size} m')
        object.__setattr__(self, 'corners', corners)
        object.__setattr__(self, '_index', {int(i): n for n, i in enumerate(self.ids)})

    def index_of(self, marker_id: int) -> int | None:
        return self._index.get(int(marker_id))

    def corners_of(self, marker_id: int) -> np.ndarray:
        index = self.index_of(marker_id)
        if index is None:
            raise KeyError(f'marker id {marker_id} is not on the cube')
        return self.corners[index]

    def normal_of(self, marker_id: int) -> np.ndarray:
        """Outward unit normal of a marker in the cube frame (the side it is read from)."""
        c = self.corners_of(marker_id)
        # cv2.aruco corners run clockwise as seen by a camera looking at the marker, so
        # (c1 - c0) x (c3 - c0) points away from the viewer, i.e. into the cube.
        n = -np.cross(c[1] - c[0], c[3] - c[0])
        return n / np.linalg.norm(n)

    def marker_in_cube(self, marker_id: int) -> tuple[np.ndarray, np.ndarray]:
        """
        Return (R, t) of the marker frame in the cube frame, in cv2.aruco's convention.

        The marker frame has its origin at the marker centre, x along the top edge, y up the
        marker and z out of it, so that its corners are (-s/2, s/2, 0), (s/2, s/2, 0),
        (s/2, -s/2, 0), (-s/2, -s/2, 0): the frame per-marker PnP (IPPE_SQUARE) solves for.
        """
        c = self.corners_of(marker_id)
        x = c[1] - c[0]
        y = c[0] - c[3]
        x, y = x / np.linalg.norm(x), y / np.linalg.norm(y)
        return np.column_stack([x, y, np.cross(x, y)]), c.mean(axis=0)

    @staticmethod
    def from_cube_markers(cube_markers) -> 'MarkerLayout':
        """Build from an inhand.cube_markers.CubeMarkers (or anything with the same API)."""
        ids = tuple(int(i) for i in cube_markers.ids)
        corners = np.stack([np.asarray(cube_markers.corners_in_cube(i), dtype=float)
                            for i in ids])
        return MarkerLayout(dictionary=cube_markers.dictionary, ids=ids, corners=corners,
                            marker_size=float(cube_markers.marker_size),
                            cube_size=float(cube_markers.cube_size))


def load_cube_layout(name='cube/aruco_cube.yaml') -> MarkerLayout:
    """Load the cube's marker layout from its config file (via inhand.cube_markers)."""
    from inhand.cube_markers import load_cube_markers
    return MarkerLayout.from_cube_markers(load_cube_markers(name))


# Face frames of a synthetic cube: (outward normal, marker "up" direction) per face.
_SYNTHETIC_FACES = (
    ((0, 0, 1), (0, 1, 0)), ((0, 0, -1), (0, 1, 0)), ((1, 0, 0), (0, 0, 1)),
    ((-1, 0, 0), (0, 0, 1)), ((0, 1, 0), (0, 0, 1)), ((0, -1, 0), (0, 0, 1)),
)


def synthetic_cube_layout(cube_size=0.05, marker_size=0.04, ids=(0, 1, 2, 3, 4, 5),
                          dictionary_id=cv2.aruco.DICT_4X4_50) -> MarkerLayout:
    """Return a six-face cube layout for tests that must not depend on the cube's config."""
    corners = []
    half, h = cube_size / 2.0, marker_size / 2.0
    for normal, up in _SYNTHETIC_FACES:
        n, y = np.array(normal, float), np.array(up, float)
        x = np.cross(y, n)
        centre = half * n
        corners.append([centre - h * x + h * y, centre + h * x + h * y,
                        centre + h * x - h * y, centre - h * x - h * y])
    return MarkerLayout(dictionary=cv2.aruco.getPredefinedDictionary(dictionary_id),
                        ids=tuple(ids), corners=np.array(corners), marker_size=marker_size,
                        cube_size=cube_size)
