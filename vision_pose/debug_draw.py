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

"""Debug overlay for rviz: detected markers and the estimated cube's axes and outline."""
import cv2
import numpy as np
from vision_pose.camera_model import CameraModel

_EDGES = [(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 3), (2, 6), (3, 7), (4, 5), (4, 6),
          (5, 7), (6, 7)]


def draw_debug(image: np.ndarray, camera: CameraModel, detections=None, pose=None,
               cube_size: float = 0.05, text: str = '') -> np.ndarray:
    """
    Return an RGB copy of image with markers, the cube outline and its axes drawn.

    detections: marker_detector.Detections (drawn with their ids); pose: (R, t) of the cube in
    the world, drawn as its 12 edges (yellow) and x/y/z axes (red/green/blue).
    """
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    else:
        canvas = np.ascontiguousarray(image[:, :, :3]).copy()
    scale = max(1, int(round(max(canvas.shape[:2]) / 400)))
    if detections is not None and len(detections):
        for marker_id, corners in zip(detections.ids, detections.corners):
            points = np.round(corners).astype(np.int32)
            cv2.polylines(canvas, [points], True, (0, 255, 255), scale)
            cv2.circle(canvas, tuple(points[0]), 2 * scale, (255, 0, 255), -1)
            cv2.putText(canvas, str(int(marker_id)), tuple(points.mean(axis=0).astype(int)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35 * scale, (255, 0, 255), scale)
    if pose is not None:
        R, t = pose
        half = cube_size / 2.0
        box = half * np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
        axes = np.array([[0, 0, 0], [cube_size, 0, 0], [0, cube_size, 0], [0, 0, cube_size]])
        points, depth = camera.project(np.vstack([box, axes]) @ np.asarray(R).T + t)
        if np.all(depth > 0) and np.all(np.isfinite(points)):
            p = np.round(points).astype(np.int32)
            for a, b in _EDGES:
                cv2.line(canvas, tuple(p[a]), tuple(p[b]), (255, 255, 0), scale)
            for k, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
                cv2.line(canvas, tuple(p[8]), tuple(p[9 + k]), colour, 2 * scale)
    if text:
        cv2.putText(canvas, text, (4, 12 * scale), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * scale,
                    (255, 64, 64), scale)
    return canvas
