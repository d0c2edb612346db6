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
Pinhole cameras with validated intrinsics (from CameraInfo) and world-frame extrinsics.

ROS-free: intrinsics are read from any object with CameraInfo's field names (width, height, k,
d, distortion_model), so sensor_msgs/CameraInfo, a SimpleNamespace in a test or a YAML mapping
all work. Extrinsics are the pose of the camera's REP-103 optical frame (z forward, x right,
y down) in the world frame. A camera that is uncalibrated (K all zeros, as many drivers publish
before calibration) or malformed raises CameraModelError naming the camera and the field.
"""
from dataclasses import dataclass
import math

import cv2
from inhand.transforms import quat_to_matrix
import numpy as np

# Distortion models OpenCV understands, with the coefficient counts it accepts for each.
_DISTORTION_SIZES = {
    'plumb_bob': (5,),
    'rational_polynomial': (8,),
    '': (0, 4, 5, 8, 12, 14),
    'none': (0,),
}


class CameraModelError(ValueError):
    """A camera's calibration (CameraInfo) or extrinsics are missing or malformed."""


@dataclass(frozen=True)
class Intrinsics:
    """Image size, 3x3 camera matrix and distortion coefficients of one camera."""

    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray

    @property
    def has_distortion(self) -> bool:
        return bool(np.any(self.dist != 0.0))


@dataclass(frozen=True)
class Extrinsics:
    """Pose of a camera's optical frame in the world frame: p_world = R @ p_optical + t."""

    R: np.ndarray
    t: np.ndarray

    @staticmethod
    def from_pose(position, quat_wxyz, where='extrinsics') -> 'Extrinsics':
        """Build from a position and a wxyz quaternion, validating both."""
        position = np.asarray(position, dtype=float)
        quat = np.asarray(quat_wxyz, dtype=float)
        if position.shape != (3,) or not np.all(np.isfinite(position)):
            raise CameraModelError(f'{where}: position must be 3 finite numbers, got {position}')
        if quat.shape != (4,) or not np.all(np.isfinite(quat)):
            raise CameraModelError(f'{where}: quaternion must be 4 finite numbers, got {quat}')
        norm = float(np.linalg.norm(quat))
        if abs(norm - 1.0) > 1e-3:
            raise CameraModelError(f'{where}: quaternion is not unit length (norm {norm:.6f})')
        return Extrinsics(R=quat_to_matrix(quat / norm), t=position)


@dataclass(frozen=True)
class CameraModel:
    """One calibrated camera: name, intrinsics, extrinsics (optical frame in world)."""

    name: str
    intrinsics: Intrinsics
    extrinsics: Extrinsics

    @property
    def K(self) -> np.ndarray:
        return self.intrinsics.K

    @property
    def world_to_camera(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (R_cw, t_cw) with p_optical = R_cw @ p_world + t_cw."""
        R_wc, t_wc = self.extrinsics.R, self.extrinsics.t
        return R_wc.T, -R_wc.T @ t_wc

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (pixels (N,2), depth (N,)) of world points, with the lens distortion."""
        points_world = np.asarray(points_world, dtype=float).reshape(-1, 3)
        R_cw, t_cw = self.world_to_camera
        in_cam = points_world @ R_cw.T + t_cw
        rvec, _ = cv2.Rodrigues(R_cw)
        pixels, _ = cv2.projectPoints(points_world, rvec, t_cw, self.K, self.intrinsics.dist)
        return pixels.reshape(-1, 2), in_cam[:, 2]

    def undistort_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Map distorted pixel coordinates (N,2) to ideal pinhole pixels of the same K."""
        pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        if not self.intrinsics.has_distortion or len(pixels) == 0:
            return pixels.copy()
        ideal = cv2.undistortPoints(pixels.reshape(-1, 1, 2), self.K, self.intrinsics.dist,
                                    P=self.K)
        return ideal.reshape(-1, 2)


def intrinsics_from_camera_info(info, name='camera') -> Intrinsics:
    """Validate a CameraInfo-like object and return its Intrinsics, or raise CameraModelError."""
    where = f'camera {name!r} camera_info'
    try:
        width, height = int(info.width), int(info.height)
    except (AttributeError, TypeError, ValueError) as exc:
        raise CameraModelError(f'{where}: width/height missing or not integers') from exc
    if width <= 0 or height <= 0:
        raise CameraModelError(f'{where}: image size {width}x{height} is not positive')
    k = np.asarray(getattr(info, 'k', ()), dtype=float).ravel()
    if k.size != 9:
        raise CameraModelError(f'{where}: k must have 9 entries, got {k.size}')
    if not np.all(np.isfinite(k)):
        raise CameraModelError(f'{where}: k has non-finite entries')
    if not np.any(k):
        raise CameraModelError(f'{where}: k is all zeros (camera not calibrated)')
    K = k.reshape(3, 3)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if fx <= 0 or fy <= 0:
        raise CameraModelError(f'{where}: focal lengths must be > 0, got fx={fx} fy={fy}')
    if K[1, 0] != 0 or K[2, 0] != 0 or K[2, 1] != 0 or not math.isclose(K[2, 2], 1.0):
        raise CameraModelError(f'{where}: k is not an upper-triangular camera matrix: {k}')
    if not (0.0 <= cx <= width and 0.0 <= cy <= height):
        raise CameraModelError(
            f'{where}: principal point ({cx}, {cy}) outside the {width}x{height} image')
    model = str(getattr(info, 'distortion_model', '') or '')
    dist = np.asarray(getattr(info, 'd', ()), dtype=float).ravel()
    sizes = _DISTORTION_SIZES.get(model)
    if sizes is None:
        raise CameraModelError(f'{where}: unsupported distortion_model {model!r} '
                               f'(supported: plumb_bob, rational_polynomial)')
    if dist.size not in sizes:
        raise CameraModelError(
            f'{where}: distortion_model {model!r} needs {sizes} coefficients, got {dist.size}')
    if not np.all(np.isfinite(dist)):
        raise CameraModelError(f'{where}: d has non-finite entries')
    return Intrinsics(width=width, height=height, K=K.copy(),
                      dist=dist.copy() if dist.size else np.zeros(5))


def intrinsics_from_matrix(width, height, K, dist=(), name='camera') -> Intrinsics:
    """Build validated Intrinsics from a 3x3 matrix (e.g. a simulator's camera spec)."""
    class _Info:
        pass
    info = _Info()
    info.width, info.height = width, height
    info.k = np.asarray(K, dtype=float).ravel()
    info.d = np.asarray(dist, dtype=float).ravel()
    info.distortion_model = 'plumb_bob' if info.d.size == 5 else ''
    return intrinsics_from_camera_info(info, name)
