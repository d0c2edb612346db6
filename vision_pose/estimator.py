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
The estimator interface the cube_pose node talks to, its registry, and the ArUco estimator.

An estimator turns one FrameSet (images of the same instant from N calibrated cameras) into an
Estimate (world-frame pose, 6x6 covariance, quality) or None when it has no trustworthy pose;
`last_report` then says why. The node knows nothing else about it, so a learned estimator (an
ONNX keypoint or direct-regression network) plugs in by implementing Estimator and calling
register_estimator('name', factory); the `estimator` parameter picks it. See docs/vision.md.
"""
import abc
import dataclasses
from dataclasses import dataclass, field
import importlib
from typing import Callable

from inhand.transforms import matrix_to_quat, quat_to_matrix
import numpy as np
from vision_pose.camera_model import CameraModel
from vision_pose.fusion import (fuse, FusionConfig, Hypothesis, rotation_exp, rotation_log,
                                Sighting, View)
from vision_pose.marker_detector import Detections, DetectorConfig, MarkerDetector
from vision_pose.marker_layout import MarkerLayout

QUALITY_OK = 'ok'
QUALITY_DEGRADED = 'degraded'


@dataclass(frozen=True)
class CameraFrame:
    """
    One camera's image (HxWx3 RGB or HxW mono uint8), calibration and stamp (s).

    features: what Estimator.preprocess() extracted from this frame alone (the ArUco
    estimator's marker detections), or None when it has not run.
    """

    camera: CameraModel
    image: np.ndarray
    stamp: float
    features: object = None


@dataclass(frozen=True)
class FrameSet:
    """Frames of (approximately) one instant; `missing` names cameras that did not deliver."""

    stamp: float
    frames: tuple
    missing: tuple = ()


@dataclass
class Estimate:
    """A world-frame cube pose with its covariance (ROS order: x, y, z, rot_x, rot_y, rot_z)."""

    stamp: float
    position: np.ndarray
    quat_wxyz: np.ndarray
    covariance: np.ndarray
    quality: str
    cameras_used: tuple
    markers_used: int
    reprojection_rms_px: float = float('nan')
    notes: tuple = ()

    @property
    def position_std(self) -> float:
        """Largest position standard deviation (m) over all directions."""
        return float(np.sqrt(max(np.linalg.eigvalsh(self.covariance[:3, :3]).max(), 0.0)))

    @property
    def rotation_std(self) -> float:
        """Largest rotation standard deviation (rad) over all axes."""
        return float(np.sqrt(max(np.linalg.eigvalsh(self.covariance[3:, 3:]).max(), 0.0)))


@dataclass
class Report:
    """What the last estimate() call saw, for diagnostics (also when it returned None)."""

    stamp: float = float('nan')
    status: str = 'lost'          # 'ok' | 'degraded' | 'lost'
    reason: str = 'no frames yet'
    markers_per_camera: dict = field(default_factory=dict)
    unknown_ids: dict = field(default_factory=dict)
    missing_cameras: tuple = ()
    detections: dict = field(default_factory=dict)   # camera name -> Detections (debug view)
    estimate: Estimate | None = None


class Estimator(abc.ABC):
    """
    Turn a FrameSet into an Estimate, or None with last_report.reason saying why.

    preprocess() is the per-camera half of the work (detection, or a network's per-image
    pass); the node calls it as each image arrives, on worker threads, several cameras at
    once: it must not change state that another call reads (read the tracking state, do not
    write it). When the last image of a set comes in only that image and the fusion remain.
    estimate() runs on one thread and may update the state; it must also work on frames that
    were not preprocessed (tests, benchmarks, offline use).
    """

    name = 'abstract'

    def __init__(self):
        self.last_report = Report()

    def preprocess(self, frame: CameraFrame) -> CameraFrame:
        """Return the frame with its per-camera features attached (default: unchanged)."""
        return frame

    @abc.abstractmethod
    def estimate(self, frame_set: FrameSet) -> Estimate | None:
        """Return the cube pose for this frame set, or None when there is no valid pose."""

    def reset(self):
        """Forget any tracking state (e.g. after the cube was re-placed)."""


_REGISTRY: dict[str, Callable] = {}


def register_estimator(name: str, factory: Callable):
    """Make factory(settings: dict) -> Estimator available as parameter `estimator: name`."""
    _REGISTRY[name] = factory


def available_estimators() -> list:
    return sorted(_REGISTRY)


def create_estimator(name: str, settings: dict | None = None) -> Estimator:
    """
    Build an estimator from its config section (a dict).

    name is a registered name ('aruco'), or 'package.module:factory' for an estimator that
    lives elsewhere: the module is imported and factory(settings) called, so a new estimator
    needs no change here or in the node.
    """
    if name not in _REGISTRY and ':' in name:
        module_name, _, attribute = name.partition(':')
        try:
            module = importlib.import_module(module_name)
            factory = getattr(module, attribute)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f'estimator {name!r}: cannot load it ({exc})') from exc
        estimator = factory(settings or {})
        if not isinstance(estimator, Estimator):
            raise ValueError(f'estimator {name!r} built a {type(estimator).__name__}, '
                             'not an Estimator')
        return estimator
    if name not in _REGISTRY:
        raise ValueError(f'unknown estimator {name!r} (available: {available_estimators()}, '
                         "or 'package.module:factory')")
    return _REGISTRY[name](settings or {})


@dataclass
class ArucoEstimatorConfig:
    """Settings of the ArUco cube estimator beyond the detector and the fusion."""

    max_position_std: float = 0.01     # m: a pose less certain than this is not published
    max_rotation_std: float = 0.15     # rad
    track_max_age: float = 0.25        # s: use the tracked pose for ROIs / as a prior this long
    use_roi: bool = True
    # Extrapolate the last two poses (both fused from 2+ cameras) at constant velocity, for at
    # most two of their intervals, to place the ROIs and the prior; else the last pose as it was.
    # Faster motion than these limits is taken for a bad estimate and not extrapolated.
    predict_motion: bool = True
    max_predicted_rate: float = 12.0   # rad/s
    max_predicted_speed: float = 1.0   # m/s

    def validate(self):
        for name in ('max_position_std', 'max_rotation_std'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0')
        if self.track_max_age < 0:
            raise ValueError('track_max_age must be >= 0')
        for name in ('max_predicted_rate', 'max_predicted_speed'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0')
        return self


class ArucoCubeEstimator(Estimator):
    """Cube pose from its face markers: detect, PnP per camera, joint multi-camera fit."""

    name = 'aruco'

    def __init__(self, layout: MarkerLayout, detector: DetectorConfig | None = None,
                 fusion: FusionConfig | None = None, config: ArucoEstimatorConfig | None = None):
        super().__init__()
        self.layout = layout
        self.detector = MarkerDetector(layout.dictionary, layout.ids, detector)
        self.fusion_config = (fusion or FusionConfig()).validate()
        self.config = (config or ArucoEstimatorConfig()).validate()
        self._normals = {i: layout.normal_of(i) for i in layout.ids}
        half = layout.cube_size / 2.0
        self._box = half * np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1)
                                     for z in (-1, 1)], dtype=float)
        # ((stamp, R, t, fused from 2+ cameras) of the last valid estimate, the one before it
        # or None), replaced as a whole: preprocess() reads it from other threads.
        self._track = None

    def reset(self):
        self._track = None

    def predict(self, stamp):
        """Return (stamp, R, t): the tracked pose predicted to `stamp`, or None."""
        track = self._track
        if track is None:
            return None
        last, before = track
        ahead = stamp - last[0]
        if abs(ahead) > self.config.track_max_age:
            return None
        if not self.config.predict_motion or before is None or not (last[3] and before[3]) \
                or ahead <= 0.0:
            return last[:3]
        interval = last[0] - before[0]
        if not 0.0 < interval <= self.config.track_max_age:
            return last[:3]
        # Constant velocity from the last two poses: at 172 deg/s and 15 Hz the cube turns
        # 11 deg between frames, which puts the last pose beyond the prior's consensus gate
        # at 640x480 and sends every set through the per-camera PnP. Not further than two
        # intervals: after lost sets the velocity is old news.
        turn = rotation_log(last[1] @ before[1].T) / interval
        velocity = (last[2] - before[2]) / interval
        if np.linalg.norm(turn) > self.config.max_predicted_rate \
                or np.linalg.norm(velocity) > self.config.max_predicted_speed:
            return last[:3]
        ahead = min(ahead, 2.0 * interval)
        return (stamp, rotation_exp(turn * ahead) @ last[1], last[2] + velocity * ahead)

    def _roi(self, camera: CameraModel, tracked):
        """Return (search window, predicted cube size in px) around the tracked pose."""
        R, t = tracked[1], tracked[2]
        pixels, depth = camera.project(self._box @ R.T + t)
        if np.any(depth <= 0):
            return None, 0.0
        lo, hi = pixels.min(axis=0), pixels.max(axis=0)
        size = float((hi - lo).max())
        margin = self.detector.config.roi_margin * size + 8.0
        return (lo[0] - margin, lo[1] - margin, hi[0] + margin, hi[1] + margin), size

    def detect(self, frame: CameraFrame) -> Detections:
        """Find the cube's markers in one frame, near the tracked pose when there is one."""
        tracked = self.predict(frame.stamp)
        roi, size = None, 0.0
        if tracked is not None and self.config.use_roi:
            roi, size = self._roi(frame.camera, tracked)
        return self.detector.detect(frame.image, roi=roi, object_px=size)

    def preprocess(self, frame: CameraFrame) -> CameraFrame:
        return dataclasses.replace(frame, features=self.detect(frame))

    def estimate(self, frame_set: FrameSet) -> Estimate | None:
        report = Report(stamp=frame_set.stamp, missing_cameras=tuple(frame_set.missing))
        self.last_report = report
        tracked = self.predict(frame_set.stamp)
        views, sightings, normals = [], [], []
        for frame in frame_set.frames:
            camera = frame.camera
            detections = frame.features if isinstance(frame.features, Detections) \
                else self.detect(frame)
            report.detections[camera.name] = detections
            report.markers_per_camera[camera.name] = len(detections)
            if detections.unknown_ids:
                report.unknown_ids[camera.name] = list(detections.unknown_ids)
            R_cw, t_cw = camera.world_to_camera
            views.append(View(name=camera.name, K=camera.K, R_cw=R_cw, t_cw=t_cw))
            for marker_id, corners in zip(detections.ids, detections.corners):
                sightings.append(Sighting(
                    view=len(views) - 1, marker_id=int(marker_id),
                    object_points=self.layout.corners_of(marker_id),
                    pixels=camera.undistort_pixels(corners)))
                normals.append(self._normals[int(marker_id)])
        if not frame_set.frames:
            report.reason = 'no camera delivered a frame'
            return None
        prior = None
        if tracked is not None:
            prior = Hypothesis(R=tracked[1], t=tracked[2], source='previous pose')
        result, why = fuse(views, sightings, self.fusion_config, normals=normals, prior=prior)
        if result is None:
            report.reason = why
            return None
        notes = list(result.notes)
        degraded = bool(result.rejected) or result.ambiguous or len(result.views_used) < 2 \
            or bool(frame_set.missing)
        if len(result.views_used) < 2:
            notes.append('seen by one camera only')
        if frame_set.missing:
            notes.append(f'missing camera(s): {", ".join(frame_set.missing)}')
        estimate = Estimate(
            stamp=frame_set.stamp, position=result.t.copy(),
            quat_wxyz=matrix_to_quat(result.R), covariance=result.covariance,
            quality=QUALITY_DEGRADED if degraded else QUALITY_OK,
            cameras_used=tuple(views[v].name for v in result.views_used),
            markers_used=len(result.used), reprojection_rms_px=result.rms_px,
            notes=tuple(notes))
        if estimate.position_std > self.config.max_position_std \
                or estimate.rotation_std > self.config.max_rotation_std:
            report.reason = (f'too uncertain: position std {estimate.position_std * 1e3:.1f} mm, '
                             f'rotation std {np.degrees(estimate.rotation_std):.1f} deg')
            return None
        report.status = estimate.quality
        report.reason = '; '.join(notes) if notes else 'ok'
        report.estimate = estimate
        # A velocity only from fused estimates: one camera's pose, or a planar ambiguity, can
        # be off by degrees. (A rejected misread marker, also "degraded", is common and fine.)
        fused = len(result.views_used) >= 2 and not result.ambiguous
        last = (frame_set.stamp, result.R, result.t, fused)
        track = self._track
        previous = track[0] if track is not None else None
        if previous is not None and not 0.0 < last[0] - previous[0] <= self.config.track_max_age:
            previous = None
        self._track = (last, previous)
        return estimate


def aruco_from_settings(settings: dict) -> ArucoCubeEstimator:
    """Build the ArUco estimator from its config section (see config/vision/cube_pose.yaml)."""
    from vision_pose.marker_layout import load_cube_layout
    settings = dict(settings)
    layout = settings.pop('layout', None)
    if layout is None:
        layout = load_cube_layout(settings.pop('marker_layout', 'cube/aruco_cube.yaml'))
    else:
        settings.pop('marker_layout', None)
    detector = _dataclass_from(DetectorConfig, settings.pop('detector', {}), 'detector')
    fusion = _dataclass_from(FusionConfig, settings.pop('fusion', {}), 'fusion')
    config = _dataclass_from(ArucoEstimatorConfig, settings, 'aruco')
    return ArucoCubeEstimator(layout, detector, fusion, config)


def _dataclass_from(cls, values, where):
    if not isinstance(values, dict):
        raise ValueError(f'{where}: expected a mapping, got {values!r}')
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f'{where}: unknown key(s) {unknown} (known: {sorted(known)})')
    defaults = cls()
    coerced = {}
    for key, value in values.items():
        expected = type(getattr(defaults, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValueError(f'{where}.{key}: expected {expected.__name__}, got {value!r}')
        coerced[key] = value
    try:
        return cls(**coerced).validate()
    except ValueError as exc:
        raise ValueError(f'{where}: {exc}') from exc


def pose_matrix(estimate: Estimate) -> tuple[np.ndarray, np.ndarray]:
    """Return (R, t) of an estimate."""
    return quat_to_matrix(estimate.quat_wxyz), np.asarray(estimate.position)


register_estimator('aruco', aruco_from_settings)
