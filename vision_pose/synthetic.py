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
Synthetic inputs for tests and benchmarks: sim rig cameras, ideal sightings, a turning cube.

Ideal sightings are the exact pinhole projections of the visible markers' corners (plus optional
Gaussian pixel noise): they exercise the fusion maths against a known truth without any image.
"""
from inhand.transforms import quat_multiply, random_quat
import numpy as np
from vision_pose.camera_model import CameraModel, Extrinsics, intrinsics_from_matrix
from vision_pose.fusion import Sighting, View


def camera_model_from_spec(spec) -> CameraModel:
    """Build a CameraModel from sim_bridge's CameraSpec (K, pose of the optical frame)."""
    return CameraModel(spec.name, intrinsics_from_matrix(spec.width, spec.height, spec.K,
                                                         name=spec.name),
                       Extrinsics.from_pose(spec.position, spec.quat_wxyz, spec.name))


def camera_models_from_sim(sim) -> list:
    """Return the CameraModels of every camera of a sim_bridge HandSim."""
    return [camera_model_from_spec(sim.camera(name)) for name in sim.camera_names]


def view_of(camera: CameraModel) -> View:
    R_cw, t_cw = camera.world_to_camera
    return View(name=camera.name, K=camera.K, R_cw=R_cw, t_cw=t_cw)


def ideal_sightings(layout, cameras, R, t, noise_px=0.0, rng=None, min_cos=0.15,
                    only_ids=None):
    """
    Return (views, sightings, normals) of the markers each camera sees face-on enough.

    A marker is visible to a camera when the cosine between its outward normal and the ray to
    the camera exceeds min_cos and all its corners land inside the image (no occlusion model).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    views, sightings, normals = [], [], []
    for camera in cameras:
        views.append(view_of(camera))
        for marker_id in layout.ids:
            if only_ids is not None and marker_id not in only_ids:
                continue
            corners = layout.corners_of(marker_id)
            centre = R @ corners.mean(axis=0) + t
            ray = camera.extrinsics.t - centre
            normal = R @ layout.normal_of(marker_id)
            if ray @ normal / np.linalg.norm(ray) < min_cos:
                continue
            pixels, depth = camera.project(corners @ R.T + t)
            size = (camera.intrinsics.width, camera.intrinsics.height)
            if np.any(depth <= 0) or np.any(pixels < 0) or np.any(pixels > np.array(size) - 1):
                continue
            if noise_px:
                pixels = pixels + rng.normal(0.0, noise_px, pixels.shape)
            sightings.append(Sighting(view=len(views) - 1, marker_id=int(marker_id),
                                      object_points=corners, pixels=pixels))
            normals.append(layout.normal_of(marker_id))
    return views, sightings, normals


def turning_cube(rest, rng, rate, frames, fps=15.0):
    """
    Yield (time s, position, wxyz quaternion) of a cube turning in the palm, frame by frame.

    From a random orientation, about a random axis (both drawn from rng, axis first) at `rate`
    rad/s, bobbing 5 mm about 10 mm above its resting position `rest`: the benchmarks' moving
    cube, the same for a seed in every one of them.
    """
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    start = random_quat(rng)
    for k in range(frames):
        time = k / fps
        angle = rate * time
        turn = np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])
        yield (time, rest + [0.0, 0.0, 0.01 + 0.005 * np.sin(time)],
               quat_multiply(turn, start))
