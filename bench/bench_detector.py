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
Benchmark the marker detector's settings that trade work for markers found.

    .venv/bin/python bench/bench_detector.py

On seeded sequences of the sim's cube turning in the palm (three axes, 40 frame sets each, at
86 and 172 deg/s, three cameras at 200x200 and at 640x480; the 172 deg/s ones also with a
horizontal motion blur 3 and 7 px long at 200x200, 10 and 22 px at 640x480), runs the tracking
estimator with each detector setting and prints the CPU time of detection per image, the markers
found and the fused pose error against ground truth. It backs the defaults in
config/vision/aruco_estimator.yaml (search window margin, adaptive-threshold windows,
half-resolution search of large windows).
"""
import os
import pathlib
import sys
import time

os.environ.setdefault('MUJOCO_GL', 'egl')
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
from inhand.transforms import quat_to_matrix  # noqa: E402
import numpy as np  # noqa: E402
from sim_bridge.simulator import HandSim  # noqa: E402
from vision_pose.estimator import ArucoCubeEstimator, CameraFrame, FrameSet  # noqa: E402
from vision_pose.fusion import rotation_log  # noqa: E402
from vision_pose.marker_detector import DetectorConfig  # noqa: E402
from vision_pose.marker_layout import load_cube_layout  # noqa: E402
from vision_pose.synthetic import camera_models_from_sim, turning_cube  # noqa: E402

RIGS = {'200x200': 'cameras/dactyl_rig.yaml', '640x480': 'cameras/dactyl_rig_vga.yaml'}
SETTINGS = {
    'default': {},
    'margin 0.35': {'roi_margin': 0.35},
    'windows 3,23': {'adaptive_window_step': 20},
    'full res': {'half_resolution_above': 0},
}


def motion_blurred(recorded, length):
    """Return the recorded sequence with a horizontal box blur `length` pixels long."""
    kernel = np.full((1, length), 1.0 / length)
    return [(stamp, [cv2.filter2D(image, -1, kernel) for image in images], truth)
            for stamp, images, truth in recorded]


def sequences(sim, cameras, speed, seeds=(7, 8, 9), frames=40):
    """Yield (stamp, images, (position, quat)) of seeded turning-cube sequences."""
    rest, _ = sim.cube_pose()
    for seed in seeds:
        for time_s, position, quat in turning_cube(rest, np.random.default_rng(seed), speed,
                                                   frames):
            sim.set_cube_pose(position, quat)
            yield seed * 100.0 + time_s, [sim.render(c.name) for c in cameras], sim.cube_pose()


def run(layout, cameras, recorded, detector):
    """Return (detection CPU s per image, markers found, position errors, rotation errors)."""
    estimator = ArucoCubeEstimator(layout, detector=detector)
    cpu, images, markers, position, rotation = 0.0, 0, 0, [], []
    for stamp, pictures, (true_position, true_quat) in recorded:
        frames = [CameraFrame(camera=c, image=p, stamp=stamp) for c, p in zip(cameras, pictures)]
        started = time.process_time()
        frames = [estimator.preprocess(f) for f in frames]
        cpu += time.process_time() - started
        images += len(frames)
        markers += sum(len(f.features) for f in frames)
        estimate = estimator.estimate(FrameSet(stamp=stamp, frames=tuple(frames)))
        if estimate is not None:
            position.append(np.linalg.norm(estimate.position - true_position))
            rotation.append(np.degrees(np.linalg.norm(rotation_log(
                quat_to_matrix(estimate.quat_wxyz) @ quat_to_matrix(true_quat).T))))
    return cpu / images, markers, len(recorded), np.array(position), np.array(rotation)


def main() -> int:
    started = time.monotonic()
    layout = load_cube_layout()
    print(f'{"cameras":8s} {"deg/s":>5s} {"blur":>4s} {"setting":13s} {"detect ms":>9s} '
          f'{"markers":>7s} {"poses":>7s} {"pos med/p90 mm":>15s} {"rot med/p90 deg":>16s}')
    for label, rig in RIGS.items():
        with HandSim(rig=rig) as sim:
            cameras = camera_models_from_sim(sim)
            scale = cameras[0].intrinsics.width / 200
            runs = [(1.5, 0), (3.0, 0)] + [(3.0, round(length * scale)) for length in (3, 7)]
            for speed, blur in runs:
                recorded = list(sequences(sim, cameras, speed))
                if blur:
                    recorded = motion_blurred(recorded, blur)
                for name, overrides in SETTINGS.items():
                    cpu, markers, sets, position, rotation = run(
                        layout, cameras, recorded, DetectorConfig(**overrides))
                    pos_mm = np.percentile(position, [50, 90]) * 1e3
                    rot_deg = np.percentile(rotation, [50, 90])
                    print(f'{label:8s} {np.degrees(speed):5.0f} {blur:4d} '
                          f'{name:13s} {cpu * 1e3:9.2f} '
                          f'{markers:7d} {len(position):3d}/{sets:3d} {pos_mm[0]:7.3f} '
                          f'{pos_mm[1]:7.3f} {rot_deg[0]:7.3f} {rot_deg[1]:8.3f}')
    print(f'\n(detection CPU is process time per image; {time.monotonic() - started:.0f} s, '
          f'{os.cpu_count()} cores)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
