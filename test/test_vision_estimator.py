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
The ArUco estimator on images rendered by the simulator, against the simulator's ground truth.

The simulator (sim_bridge.simulator.HandSim) textures its cube from the same marker config the
estimator reads, renders the three rig cameras, and reports the cube's true pose; these tests
place the cube at random in-hand poses and check accuracy, face identity (no symmetry flips),
honest covariance and the behaviour on bad input.
"""
import dataclasses

import cv2
from inhand.config import load_yaml
from inhand.transforms import (axis_angle_to_quat, matrix_to_quat, quat_multiply, quat_to_matrix,
                               random_quat, rotation_between)
import numpy as np
import pytest
from sim_bridge.simulator import HandSim
from vision_pose.camera_model import Extrinsics
from vision_pose.estimator import (ArucoCubeEstimator, ArucoEstimatorConfig, CameraFrame,
                                   create_estimator, Estimator, FrameSet, QUALITY_DEGRADED,
                                   QUALITY_OK)
from vision_pose.fusion import rotation_log
from vision_pose.marker_detector import DetectorConfig, MarkerDetector
from vision_pose.marker_layout import load_cube_layout
from vision_pose.synthetic import camera_models_from_sim

CHI2_6DOF_999 = 22.46


@pytest.fixture(scope='module')
def sim():
    with HandSim() as simulator:
        yield simulator


@pytest.fixture(scope='module')
def cameras(sim):
    return camera_models_from_sim(sim)


@pytest.fixture(scope='module')
def layout():
    return load_cube_layout()


def place_cube(sim, rng):
    """Put the cube at a random orientation just above its resting point in the palm."""
    sim.reset()
    rest, _ = sim.cube_pose()
    offset = np.array([rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01),
                       rng.uniform(0.004, 0.012)])
    sim.set_cube_pose(rest + offset, random_quat(rng))
    return sim.cube_pose()


def frame_set(sim, cameras, stamp=0.0, transform=None):
    frames = []
    for camera in cameras:
        image = sim.render(camera.name)
        if transform is not None:
            image = transform(image)
        frames.append(CameraFrame(camera=camera, image=image, stamp=stamp))
    return FrameSet(stamp=stamp, frames=tuple(frames))


def pose_error(estimate, truth):
    position, quat = truth
    rot = np.degrees(rotation_between(quat, estimate.quat_wxyz))
    return np.linalg.norm(estimate.position - position), rot


def nees(estimate, truth):
    position, quat = truth
    d = np.concatenate([estimate.position - position,
                        rotation_log(quat_to_matrix(estimate.quat_wxyz)
                                     @ quat_to_matrix(quat).T)])
    return float(d @ np.linalg.solve(estimate.covariance, d))


def fresh_estimator(layout, **config):
    return ArucoCubeEstimator(layout, config=ArucoEstimatorConfig(**config))


def test_three_cameras_track_random_in_hand_poses(sim, cameras, layout):
    estimator = fresh_estimator(layout, use_roi=False)
    rng = np.random.default_rng(11)
    pos_errors, rot_errors = [], []
    for _ in range(12):
        truth = place_cube(sim, rng)
        estimate = estimator.estimate(frame_set(sim, cameras))
        assert estimate is not None, estimator.last_report.reason
        pos, rot = pose_error(estimate, truth)
        # No symmetry flip ever: each face's marker id pins the orientation.
        assert pos < 2e-3 and rot < 2.0, (pos, rot, estimator.last_report)
        assert nees(estimate, truth) < CHI2_6DOF_999
        assert estimate.quality in (QUALITY_OK, QUALITY_DEGRADED)
        pos_errors.append(pos)
        rot_errors.append(rot)
    assert np.median(pos_errors) < 1e-3 and np.median(rot_errors) < 1.0


def test_one_camera_alone_is_degraded_with_a_larger_covariance(sim, cameras, layout):
    estimator = fresh_estimator(layout, use_roi=False)
    rng = np.random.default_rng(12)
    compared = 0
    for _ in range(6):
        truth = place_cube(sim, rng)
        fused = estimator.estimate(frame_set(sim, cameras))
        single = estimator.estimate(frame_set(sim, cameras[:1]))
        if fused is None or single is None or len(fused.cameras_used) < 2:
            continue
        compared += 1
        assert single.quality == QUALITY_DEGRADED
        assert any('one camera' in note for note in single.notes)
        assert np.trace(single.covariance[:3, :3]) > np.trace(fused.covariance[:3, :3])
        assert nees(single, truth) < CHI2_6DOF_999
    assert compared >= 3


@pytest.mark.parametrize('name, transform', [
    ('noise', lambda im: np.clip(im + np.random.default_rng(0).normal(0, 8, im.shape), 0,
                                 255).astype(np.uint8)),
    ('blur', lambda im: cv2.GaussianBlur(im, (5, 5), 1.0)),
    ('dim', lambda im: (im * 0.45).astype(np.uint8)),
    ('bright', lambda im: np.clip(im * 1.6 + 30, 0, 255).astype(np.uint8)),
])
def test_noise_blur_and_lighting_changes_still_give_a_good_pose(
        sim, cameras, layout, name, transform):
    estimator = fresh_estimator(layout, use_roi=False)
    rng = np.random.default_rng(13)
    for _ in range(3):
        truth = place_cube(sim, rng)
        estimate = estimator.estimate(frame_set(sim, cameras, transform=transform))
        assert estimate is not None, (name, estimator.last_report.reason)
        pos, rot = pose_error(estimate, truth)
        assert pos < 3e-3 and rot < 3.0, (name, pos, rot)
        assert nees(estimate, truth) < CHI2_6DOF_999


def test_a_marker_that_is_not_on_the_cube_is_ignored_and_reported(sim, cameras, layout):
    estimator = fresh_estimator(layout, use_roi=False)
    truth = place_cube(sim, np.random.default_rng(14))
    stranger = cv2.aruco.generateImageMarker(layout.dictionary, 17, 36)

    def paste(image):
        image = image.copy()
        image[4:48, 4:48] = 255
        image[8:44, 8:44] = stranger[:, :, None]
        return image

    estimate = estimator.estimate(frame_set(sim, cameras, transform=paste))
    assert estimate is not None
    assert all(ids == [17] for ids in estimator.last_report.unknown_ids.values())
    assert len(estimator.last_report.unknown_ids) == len(cameras)
    pos, rot = pose_error(estimate, truth)
    assert pos < 2e-3 and rot < 2.0


def test_blank_images_give_no_pose_and_say_why(sim, cameras, layout):
    estimator = fresh_estimator(layout)
    blank = FrameSet(stamp=1.0, frames=tuple(
        CameraFrame(camera=c, image=np.zeros((c.intrinsics.height, c.intrinsics.width, 3),
                                             np.uint8), stamp=1.0) for c in cameras))
    assert estimator.estimate(blank) is None
    assert estimator.last_report.reason == 'no markers detected'
    assert estimator.last_report.status == 'lost'
    assert estimator.estimate(FrameSet(stamp=1.0, frames=())) is None
    assert 'no camera' in estimator.last_report.reason


def test_a_camera_with_wrong_extrinsics_never_yields_a_confident_wrong_pose(
        sim, cameras, layout):
    estimator = fresh_estimator(layout, use_roi=False)
    rng = np.random.default_rng(15)
    ext = cameras[2].extrinsics
    bad = dataclasses.replace(cameras[2], extrinsics=Extrinsics(
        R=ext.R, t=ext.t + ext.R @ np.array([0.025, 0.0, 0.0])))
    outvoted = 0
    for _ in range(6):
        truth = place_cube(sim, rng)
        estimate = estimator.estimate(frame_set(sim, cameras[:2] + [bad]))
        if estimate is None:
            assert 'disagree' in estimator.last_report.reason \
                or 'inconsistent' in estimator.last_report.reason
            continue
        assert nees(estimate, truth) < CHI2_6DOF_999
        if bad.name not in estimate.cameras_used:
            continue
        # The bad camera was used: then it must not have mattered much.
        assert pose_error(estimate, truth)[0] < 3e-3
    # Every pose where the bad camera saw markers: the two good cameras outvote it, or the
    # estimator refuses to publish; never a pose that used it. Measured with this seed: the bad
    # camera sees markers in 6 of 6 poses, is outvoted in 5 and the 6th is refused.
    seen = 0
    for _ in range(6):
        truth = place_cube(sim, rng)
        estimate = estimator.estimate(frame_set(sim, cameras[:2] + [bad]))
        if not estimator.last_report.markers_per_camera[bad.name]:
            continue
        seen += 1
        if estimate is None:
            assert 'disagree' in estimator.last_report.reason \
                or 'inconsistent' in estimator.last_report.reason
            continue
        assert bad.name not in estimate.cameras_used, estimate.cameras_used
        outvoted += 1
        assert estimate.quality == QUALITY_DEGRADED
        assert pose_error(estimate, truth)[0] < 2e-3
    assert seen >= 5 and outvoted >= seen - 1, (seen, outvoted)


def test_tracking_searches_near_the_last_pose_with_the_same_result(sim, cameras, layout):
    estimator = fresh_estimator(layout, use_roi=True, track_max_age=0.5)
    truth = place_cube(sim, np.random.default_rng(16))
    first = estimator.estimate(frame_set(sim, cameras, stamp=10.0))
    assert first is not None
    assert not any(d.used_roi for d in estimator.last_report.detections.values())
    second = estimator.estimate(frame_set(sim, cameras, stamp=10.066))
    assert second is not None
    assert all(d.used_roi for d in estimator.last_report.detections.values() if len(d))
    np.testing.assert_allclose(second.position, first.position, atol=2e-4)
    assert pose_error(second, truth)[0] < 2e-3
    # Too old a track is not used; reset() forgets it.
    estimator.estimate(frame_set(sim, cameras, stamp=20.0))
    assert not any(d.used_roi for d in estimator.last_report.detections.values())
    estimator.reset()
    estimator.estimate(frame_set(sim, cameras, stamp=20.05))
    assert not any(d.used_roi for d in estimator.last_report.detections.values())


def test_missing_cameras_make_the_estimate_degraded(sim, cameras, layout):
    estimator = fresh_estimator(layout, use_roi=False)
    place_cube(sim, np.random.default_rng(17))
    full = frame_set(sim, cameras)
    partial = FrameSet(stamp=0.0, frames=full.frames[:2], missing=(cameras[2].name,))
    estimate = estimator.estimate(partial)
    assert estimate is not None and estimate.quality == QUALITY_DEGRADED
    assert any(cameras[2].name in note for note in estimate.notes)
    assert estimator.last_report.missing_cameras == (cameras[2].name,)


def test_640x480_cameras(layout):
    estimator = fresh_estimator(layout, use_roi=False)
    rng = np.random.default_rng(18)
    with HandSim(rig='cameras/dactyl_rig_vga.yaml') as vga:
        cameras = camera_models_from_sim(vga)
        assert (cameras[0].intrinsics.width, cameras[0].intrinsics.height) == (640, 480)
        for _ in range(3):
            truth = place_cube(vga, rng)
            estimate = estimator.estimate(frame_set(vga, cameras))
            assert estimate is not None
            pos, rot = pose_error(estimate, truth)
            assert pos < 1e-3 and rot < 1.0


def test_registry_and_estimator_config():
    estimator = create_estimator('aruco', load_yaml('vision/aruco_estimator.yaml')[0])
    assert isinstance(estimator, Estimator) and estimator.name == 'aruco'
    assert estimator.layout.ids == load_cube_layout().ids
    with pytest.raises(ValueError, match="unknown estimator 'onnx_keypoints'"):
        create_estimator('onnx_keypoints', {})
    # An estimator from elsewhere, by 'module:factory', with no registration.
    loaded = create_estimator('vision_pose.estimator:aruco_from_settings', {'use_roi': False})
    assert isinstance(loaded, ArucoCubeEstimator) and not loaded.config.use_roi
    with pytest.raises(ValueError, match='cannot load it'):
        create_estimator('vision_pose.nowhere:Estimator', {})
    with pytest.raises(ValueError, match='not an Estimator'):
        create_estimator('builtins:dict', {})
    with pytest.raises(ValueError, match=r"fusion: unknown key\(s\) \['huber'\]"):
        create_estimator('aruco', {'fusion': {'huber': 1.0}})
    with pytest.raises(ValueError, match='detector.corner_refinement: expected str'):
        create_estimator('aruco', {'detector': {'corner_refinement': 3}})
    with pytest.raises(ValueError, match='max_position_std must be > 0'):
        create_estimator('aruco', {'max_position_std': -1.0})


def test_tracking_predicts_the_pose_at_constant_velocity(sim, cameras, layout):
    rng = np.random.default_rng(19)
    truth = place_cube(sim, rng)
    axis = np.array([0.6, 0.0, 0.8])
    rate, speed = 3.0, np.array([0.03, -0.02, 0.0])     # rad/s (172 deg/s), m/s
    position, quat = truth

    def pose_at(stamp):
        turn = axis_angle_to_quat(axis, rate * stamp)
        return position + speed * stamp, quat_multiply(turn, quat)

    estimator = fresh_estimator(layout, use_roi=True)
    for stamp in (0.0, 1 / 15):
        sim.set_cube_pose(*pose_at(stamp))
        assert estimator.estimate(frame_set(sim, cameras, stamp=stamp)) is not None
    ahead = 2 / 15
    predicted_stamp, R, t = estimator.predict(ahead)
    true_position, true_quat = pose_at(ahead)
    assert predicted_stamp == ahead
    # The last pose is 11.5 deg and 2.4 mm away; the prediction is as far off as the two
    # estimates' errors (0.3-0.6 deg each at 200x200) extrapolate to.
    assert np.degrees(rotation_between(matrix_to_quat(R), true_quat)) < 2.0
    assert np.linalg.norm(t - true_position) < 1e-3
    sim.set_cube_pose(true_position, true_quat)
    estimate = estimator.estimate(frame_set(sim, cameras, stamp=ahead))
    assert estimate is not None and pose_error(estimate, (true_position, true_quat))[1] < 2.0
    # Three intervals on (two sets lost): extrapolated for two only, the velocity being old news.
    late_stamp, late_R, _ = estimator.predict(ahead + 3 / 15)
    assert late_stamp == ahead + 3 / 15
    expected = estimator.predict(ahead + 2 / 15)[1]
    assert np.degrees(rotation_between(matrix_to_quat(late_R), matrix_to_quat(expected))) < 1e-6
    # Without prediction, beyond the rate or speed limits, after an estimate of one camera
    # alone or for an older stamp, the last pose stands; too old: nothing.
    cases = [({'predict_motion': False}, False), ({'max_predicted_rate': 2.0}, False),
             ({'max_predicted_speed': 0.01}, False), ({}, True)]
    for config, one_camera in cases:
        still = fresh_estimator(layout, **config)
        for stamp in (0.0, 1 / 15):
            sim.set_cube_pose(*pose_at(stamp))
            images = frame_set(sim, cameras, stamp=stamp)
            if one_camera and stamp > 0:
                images = FrameSet(stamp=stamp, frames=images.frames[:1],
                                  missing=(cameras[1].name, cameras[2].name))
            assert still.estimate(images) is not None
        last = still.predict(1 / 15)
        assert still.predict(ahead)[0] == pytest.approx(1 / 15)
        np.testing.assert_array_equal(still.predict(ahead)[1], last[1])
    assert estimator.predict(ahead - 1 / 30)[0] == ahead     # not extrapolated backwards
    assert estimator.predict(ahead + 1.0) is None
    for name in ('max_predicted_rate', 'max_predicted_speed'):
        with pytest.raises(ValueError, match=f'{name} must be > 0'):
            fresh_estimator(layout, **{name: 0.0})


def test_640x480_tracking_searches_a_large_cube_at_half_resolution(layout):
    rng = np.random.default_rng(20)
    with HandSim(rig='cameras/dactyl_rig_vga.yaml') as vga:
        cameras = camera_models_from_sim(vga)
        truth = place_cube(vga, rng)
        images = frame_set(vga, cameras, stamp=5.0)
    tracking = fresh_estimator(layout, use_roi=True)
    first = tracking.estimate(images)
    assert not any(d.half_resolution for d in tracking.last_report.detections.values())
    markers = sum(len(d) for d in tracking.last_report.detections.values())
    second = tracking.estimate(dataclasses.replace(images, stamp=5.05, frames=tuple(
        dataclasses.replace(f, stamp=5.05) for f in images.frames)))
    found = tracking.last_report.detections
    assert all(d.half_resolution and d.used_roi for d in found.values() if len(d))
    # Now and then a marker is lost at half size (on seeded sequences as many were gained as
    # lost: bench/bench_detector.py); never more than one here.
    assert sum(len(d) for d in found.values()) >= markers - 1 >= 3
    # The corners refined in the full image match a full-resolution search's.
    full = MarkerDetector(layout.dictionary, layout.ids,
                          DetectorConfig(half_resolution_above=0))
    for frame in images.frames:
        reference = full.detect(frame.image)
        half = found[frame.camera.name]
        assert set(half.ids) <= set(reference.ids)
        for marker_id, corners in zip(half.ids, half.corners):
            expected = reference.corners[list(reference.ids).index(marker_id)]
            assert np.abs(corners - expected).max() < 0.5
    for estimate in (first, second):
        pos, rot = pose_error(estimate, truth)
        assert pos < 1e-3 and rot < 1.0
