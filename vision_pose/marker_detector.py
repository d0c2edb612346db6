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
ArUco marker detection with sub-pixel corners; ids that are not on the cube are dropped.

A thin layer over cv2.aruco.ArucoDetector that (1) accepts RGB, BGR-agnostic grayscale or
single-channel images, (2) can search a region of interest (the tracker's prediction) before
falling back to the whole image, (3) keeps only ids of the cube's layout and counts the rest,
and (4) drops an id seen twice in one image, since either sighting could be the wrong one.
"""
from dataclasses import dataclass, field
import threading

import cv2
import numpy as np

# What cv2.aruco's own subpixel refinement stops at (DetectorParameters defaults).
_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_MAX_ITER | cv2.TERM_CRITERIA_EPS, 30, 0.1)

_REFINE = {
    'none': cv2.aruco.CORNER_REFINE_NONE,
    'subpix': cv2.aruco.CORNER_REFINE_SUBPIX,
    'contour': cv2.aruco.CORNER_REFINE_CONTOUR,
    'apriltag': cv2.aruco.CORNER_REFINE_APRILTAG,
}


@dataclass
class DetectorConfig:
    """Tunables of the ArUco detector (see cv2.aruco.DetectorParameters)."""

    corner_refinement: str = 'subpix'
    # OpenCV's default three adaptive-threshold windows (3, 13, 23 px): fewer passes are
    # faster but miss about one marker in ten on the sim's 200x200 renders.
    adaptive_window_min: int = 3
    adaptive_window_max: int = 23
    adaptive_window_step: int = 10
    min_marker_perimeter_rate: float = 0.03
    subpix_window: int = 3
    roi_margin: float = 0.15       # fraction of the predicted box added on each side
    # When the caller predicts the markers' object (the cube) at least this many pixels
    # across, its search window is searched at half resolution and the corners refined in the
    # full image (0: never). Only with corner_refinement 'subpix', the refinement it stands
    # in for; searches without a prediction stay at full resolution.
    half_resolution_above: int = 120

    def validate(self):
        if self.corner_refinement not in _REFINE:
            raise ValueError(f'corner_refinement must be one of {sorted(_REFINE)}, '
                             f'got {self.corner_refinement!r}')
        if not (3 <= self.adaptive_window_min <= self.adaptive_window_max):
            raise ValueError('need 3 <= adaptive_window_min <= adaptive_window_max')
        if self.adaptive_window_step <= 0 or self.subpix_window <= 0:
            raise ValueError('adaptive_window_step and subpix_window must be > 0')
        if not (0.0 < self.min_marker_perimeter_rate < 1.0):
            raise ValueError('min_marker_perimeter_rate must be in (0, 1)')
        if self.roi_margin < 0:
            raise ValueError('roi_margin must be >= 0')
        if self.half_resolution_above < 0:
            raise ValueError('half_resolution_above must be >= 0 (0: never)')
        return self


@dataclass
class Detections:
    """Markers of the cube found in one image (ids (N,), corners (N, 4, 2) pixels)."""

    ids: np.ndarray
    corners: np.ndarray
    unknown_ids: list = field(default_factory=list)
    duplicate_ids: list = field(default_factory=list)
    used_roi: bool = False
    half_resolution: bool = False    # found in a half-size copy, corners refined in full size

    def __len__(self):
        return len(self.ids)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Return a uint8 grayscale view/copy of an HxW, HxWx1, HxWx3 (RGB) or HxWx4 image."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f'image must be uint8, got {image.dtype}')
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)
    raise ValueError(f'unsupported image shape {image.shape}')


class MarkerDetector:
    """Detect the cube's markers in images."""

    def __init__(self, dictionary, known_ids, config: DetectorConfig | None = None):
        self.config = (config or DetectorConfig()).validate()
        self.known_ids = frozenset(int(i) for i in known_ids)
        self._dictionary = dictionary
        # One cache per thread: the node detects in several images at once, and an
        # ArucoDetector is not documented as safe to share between threads.
        self._local = threading.local()

    def _detector(self, perimeter_rate: float):
        """Return this thread's cached ArucoDetector for this minimum perimeter rate."""
        key = round(perimeter_rate, 3)
        cache = self._local.__dict__.setdefault('detectors', {})
        detector = cache.get(key)
        if detector is None:
            params = cv2.aruco.DetectorParameters()
            params.cornerRefinementMethod = _REFINE[self.config.corner_refinement]
            params.adaptiveThreshWinSizeMin = self.config.adaptive_window_min
            params.adaptiveThreshWinSizeMax = self.config.adaptive_window_max
            params.adaptiveThreshWinSizeStep = self.config.adaptive_window_step
            params.minMarkerPerimeterRate = min(0.5, key)
            params.cornerRefinementWinSize = self.config.subpix_window
            detector = cv2.aruco.ArucoDetector(self._dictionary, params)
            cache[key] = detector
        return detector

    def detect(self, image: np.ndarray, roi=None, object_px: float = 0.0) -> Detections:
        """
        Find the cube's markers; try roi=(x0, y0, x1, y1) first when given.

        object_px: the predicted size in pixels of the object inside roi (the cube's larger
        side); a large one lets the window be searched at half resolution.
        """
        image = np.asarray(image)
        if image.ndim < 2:
            raise ValueError(f'unsupported image shape {image.shape}')
        if roi is not None:
            limit = self.config.half_resolution_above
            half = bool(limit) and object_px >= limit \
                and self.config.corner_refinement == 'subpix'
            found = self._detect_in(image, roi, half=half)
            if found is not None and len(found):
                return found
        return self._detect_in(image, None)

    def _detect_in(self, image, roi, half=False):
        height, width = image.shape[:2]
        offset = np.zeros(2)
        rate = self.config.min_marker_perimeter_rate
        if roi is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in roi)
            x0, y0 = max(0, x0), max(0, y0)
            x1, y1 = min(width, x1), min(height, y1)
            if x1 - x0 < 16 or y1 - y0 < 16:
                return None
            if (x1 - x0) * (y1 - y0) > 0.7 * width * height:
                roi = None      # a crop that large saves nothing; search the whole image
            else:
                # Cropped before the grey conversion: at 640x480 converting the whole frame
                # cost as much as searching the window.
                image = image[y0:y1, x0:x1]
                offset = np.array([x0, y0], dtype=float)
                # The perimeter rate is relative to the searched image: keep the same
                # minimum marker size in pixels as in the full image.
                rate *= max(width, height) / max(x1 - x0, y1 - y0)
        gray = to_gray(image)
        half = half and roi is not None
        if half:
            corners, ids = self._detect_half_resolution(gray, rate)
        else:
            corners, ids, _ = self._detector(rate).detectMarkers(gray)
        return self._filter(corners, ids, offset, used_roi=roi is not None, half_resolution=half)

    def _detect_half_resolution(self, gray, rate):
        """
        Find markers in a half-size copy, then refine their corners in the full image.

        A quarter of the pixels to threshold and trace; the markers are still tens of pixels
        wide at half size when the object is large, and the refinement puts the corners back
        on the full image's edges. The perimeter rate is relative to the image's size, so the
        same rate keeps the same minimum marker size.
        """
        # Even sizes, so that the scale is exactly 2 and the pixel mapping below holds.
        gray_even = gray[:gray.shape[0] // 2 * 2, :gray.shape[1] // 2 * 2]
        half = cv2.resize(gray_even, (gray.shape[1] // 2, gray.shape[0] // 2),
                          interpolation=cv2.INTER_AREA)
        corners, ids, _ = self._detector(rate).detectMarkers(half)
        if ids is None or len(ids) == 0:
            return corners, ids
        # Pixel centres: half-size pixel i covers full-size pixels 2i and 2i + 1.
        points = (np.asarray(corners, dtype=np.float32).reshape(-1, 1, 2) * 2.0 + 0.5)
        # With the configured half window, as ArUco's own refinement in a full-size search
        # (OpenCV caps that one at 0.3 of a marker cell for small markers; these are large).
        window = self.config.subpix_window
        cv2.cornerSubPix(gray, points, (window, window), (-1, -1), _SUBPIX_CRITERIA)
        return points.reshape(-1, 4, 2), ids

    def _filter(self, corners, ids, offset, used_roi, half_resolution=False):
        if ids is None or len(ids) == 0:
            return Detections(ids=np.zeros(0, dtype=int), corners=np.zeros((0, 4, 2)),
                              used_roi=used_roi, half_resolution=half_resolution)
        ids = np.asarray(ids, dtype=int).ravel()
        corners = np.asarray(corners, dtype=float).reshape(-1, 4, 2) + offset
        unknown = sorted(int(i) for i in ids if int(i) not in self.known_ids)
        values, counts = np.unique(ids, return_counts=True)
        duplicates = sorted(int(v) for v, c in zip(values, counts) if c > 1)
        keep = np.array([int(i) in self.known_ids and int(i) not in duplicates for i in ids])
        return Detections(ids=ids[keep], corners=corners[keep], unknown_ids=unknown,
                          duplicate_ids=duplicates, used_roi=used_roi,
                          half_resolution=half_resolution)
