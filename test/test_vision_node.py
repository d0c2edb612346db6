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
The cube_pose node as a process.

1. With sim_bridge's cameras: /cube/pose tracks /cube/pose_gt (same stamps as the images, also
   after the cube was re-placed on another face), and /diagnostics reports it.
2. Fed by this test (images rendered here, /tf_static and camera_info published here): a
   camera that goes silent and a camera whose camera_info is all zeros degrade the estimate
   and show up in /diagnostics, but never produce a wrong pose.
"""
import concurrent.futures
import dataclasses
import os
import threading

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped, TransformStamped
from inhand import dds_env, graph
from inhand.messages import (image_to_msg, msg_to_pose, sec_to_stamp, stamp_to_sec,
                             transform_stamped)
from inhand.qos import LATCHED, SENSOR_PUB
from inhand.transforms import quat_to_matrix, rotation_between
import numpy as np
import pytest
from ros_harness import node_spec, Probe, running, start_with_parameters
from sensor_msgs.msg import CameraInfo, Image
from sim_bridge.simulator import HandSim
from std_srvs.srv import Trigger
from tf2_msgs.msg import TFMessage
from vision_pose.cube_pose_node import finished, Pending, rig_extrinsics

pytestmark = pytest.mark.ros

CUBE_POSE = node_spec('cube_pose', 'vision_pose.cube_pose_node',
                      param_files=('vision/cube_pose.yaml',),
                      parameters={'diagnostics_period': 0.5})


@pytest.fixture
def isolated_env():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def statuses(probe, name_prefix, timeout=20.0, predicate=None):
    """Wait for a /diagnostics array with a status named name_prefix...; return that status."""
    found = {}

    def match(msg):
        for status in msg.status:
            if status.name.startswith(name_prefix) and (predicate is None or predicate(status)):
                found['status'] = status
                return True
        return False

    probe.wait_for('/diagnostics', DiagnosticArray, timeout=timeout, predicate=match, qos=10)
    return found['status']


def values(status):
    return {kv.key: kv.value for kv in status.values}


@pytest.mark.parametrize('argument, message', [
    ('image_qos:=fast', 'image_qos'),
    ('estimator:=onnx_keypoints', "unknown estimator 'onnx_keypoints'"),
    ('estimator_config:=vision/missing.yaml', 'config file not found'),
    ('preprocess_threads:=-1', 'preprocess_threads: must be >= 0'),
])
def test_bad_configuration_is_refused_at_start(isolated_env, argument, message):
    env = dds_env.isolate(dict(os.environ), domain_id=dds_env.pick_domain_id(os.getpid() + 2003))
    result = start_with_parameters('vision_pose.cube_pose_node', [argument], env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_rig_extrinsics_match_the_simulator_cameras():
    extrinsics = rig_extrinsics('cameras/dactyl_rig.yaml')
    with HandSim() as sim:
        assert sorted(extrinsics) == sorted(sim.camera_names)
        for name in sim.camera_names:
            spec = sim.camera(name)
            np.testing.assert_allclose(extrinsics[name].t, spec.position, atol=1e-9)
            np.testing.assert_allclose(extrinsics[name].R, quat_to_matrix(spec.quat_wxyz),
                                       atol=1e-9)


def test_cube_pose_tracks_ground_truth_with_sim_cameras(isolated_env):
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 2001))
    sim = graph.bringup({'sim': 'true', 'real_time_factor': '1.0'})[0]
    cube_pose = dataclasses.replace(CUBE_POSE, parameters={**CUBE_POSE.parameters,
                                                           'publish_debug_images': True})
    with running([sim, cube_pose]) as launcher, Probe() as probe:
        debug = probe.wait_for('/cameras/vision_cam_left/debug_image', Image, timeout=90)
        assert (debug.width, debug.height, debug.encoding) == (200, 200, 'rgb8')
        assert debug.header.frame_id == 'vision_cam_left_optical'
        truth = probe.subscribe('/cube/pose_gt', PoseWithCovarianceStamped)
        images = probe.subscribe('/cameras/vision_cam_top/image_raw', Image)
        poses = probe.subscribe('/cube/pose', PoseWithCovarianceStamped)
        probe.wait_for('/cube/pose', PoseWithCovarianceStamped, timeout=90)
        probe.wait_until(lambda: images, timeout=30, what='a top camera image')
        for reset in (None, '/sim_bridge/reset_random'):
            if reset is not None:
                assert probe.call(reset, Trigger).success
                probe.spin(1.0)               # let the cube settle on its new face
            start = len(poses)
            probe.wait_until(lambda: len(poses) >= start + 8, timeout=60,
                             what='8 more /cube/pose messages')
            image_stamps = {stamp_to_sec(m.header.stamp) for m in images}
            truth_by_stamp = {round(stamp_to_sec(m.header.stamp), 4): m for m in truth}
            compared, stamped_as_image = 0, []
            for msg in poses[start:]:
                stamp = stamp_to_sec(msg.header.stamp)
                assert msg.header.frame_id == 'world'
                if min(image_stamps) <= stamp <= max(image_stamps):
                    stamped_as_image.append(stamp in image_stamps)
                nearest = min(truth_by_stamp, key=lambda s: abs(s - stamp))
                if abs(nearest - stamp) > 0.006:
                    continue
                position, quat = msg_to_pose(msg.pose.pose)
                true_position, true_quat = msg_to_pose(truth_by_stamp[nearest].pose.pose)
                assert np.linalg.norm(position - true_position) < 3e-3
                assert np.degrees(rotation_between(quat, true_quat)) < 2.0
                covariance = np.array(msg.pose.covariance).reshape(6, 6)
                assert np.all(np.diag(covariance) > 0)
                assert np.sqrt(covariance[0, 0]) < 5e-3
                compared += 1
            assert compared >= 3
            # Stamped with the image time (the probe's best-effort copy of the images may
            # miss a frame on a loaded machine, hence a majority rather than all).
            assert np.mean(stamped_as_image) > 0.5
        status = statuses(probe, 'cube_pose: estimator')
        assert status.level[0] <= 1, status.message     # OK or WARN (degraded), not ERROR
        assert float(values(status)['latency_ms_median']) > 0
        # The simulator renders its cameras one after the other: their arrival delays differ
        # by a render each, which must not read as a clock offset.
        for name in ('vision_cam_top', 'vision_cam_right', 'vision_cam_left'):
            camera = statuses(probe, f'cube_pose: camera {name}')
            assert 'clock offset' not in camera.message, camera.message
    assert launcher.exit_code == 0, launcher.output_text()


@pytest.fixture(scope='module')
def rendered():
    """Images, camera specs and the cube's true pose of one static scene."""
    with HandSim() as sim:
        specs = [sim.camera(name) for name in sim.camera_names]
        images = [sim.render(name) for name in sim.camera_names]
        return specs, images, sim.cube_pose()


def camera_info(spec, zero=False):
    info = CameraInfo(width=spec.width, height=spec.height, distortion_model='plumb_bob')
    info.header.frame_id = spec.frame_id
    info.k = [0.0] * 9 if zero else np.asarray(spec.K, float).ravel().tolist()
    info.d = [0.0] * 5
    return info


def test_silent_and_uncalibrated_cameras_degrade_but_never_mislead(isolated_env, rendered):
    specs, images, (true_position, true_quat) = rendered
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 2002))
    with running([CUBE_POSE]) as launcher, Probe() as probe:
        tf = TFMessage(transforms=[
            transform_stamped('world', s.frame_id, s.position, s.quat_wxyz) for s in specs])
        probe.publisher('/tf_static', TFMessage, LATCHED).publish(tf)
        image_pubs = [probe.publisher(f'/cameras/{s.name}/image_raw', Image, SENSOR_PUB)
                      for s in specs]
        info_pubs = [probe.publisher(f'/cameras/{s.name}/camera_info', CameraInfo, SENSOR_PUB)
                     for s in specs]
        poses = probe.subscribe('/cube/pose', PoseWithCovarianceStamped)
        clock = [100.0]

        def publish(frames, cameras, zero_info=(), also=None):
            for _ in range(frames):
                clock[0] += 1 / 15.0
                stamp = sec_to_stamp(clock[0])
                if also is not None:
                    also(stamp)
                for k in cameras:
                    info = camera_info(specs[k], zero=k in zero_info)
                    info.header.stamp = stamp
                    info_pubs[k].publish(info)
                    image_pubs[k].publish(image_to_msg(images[k], stamp, specs[k].frame_id))
                probe.spin(0.03)

        def check(msgs):
            assert msgs, 'no /cube/pose'
            for msg in msgs:
                position, quat = msg_to_pose(msg.pose.pose)
                assert np.linalg.norm(position - true_position) < 3e-3
                assert np.degrees(rotation_between(quat, true_quat)) < 2.0
            return np.array(msgs[-1].pose.covariance).reshape(6, 6)

        # Discovery: publish until the node answers.
        probe.wait_until(lambda: publish(1, range(3)) or poses, timeout=60,
                         what='a first /cube/pose')
        publish(10, range(3))
        full = check(poses[-5:])
        status = statuses(probe, 'cube_pose: estimator')
        assert status.level[0] in (0, 1)

        # The top camera sends images of the wrong size for its camera_info: refused, named.
        start = len(poses)
        small = images[0][::2, ::2].copy()
        publish(12, (1, 2), also=lambda stamp: image_pubs[0].publish(
            image_to_msg(small, stamp, specs[0].frame_id)))
        check(poses[start:])
        wrong = statuses(probe, f'cube_pose: camera {specs[0].name}',
                         predicate=lambda s: s.level[0] == 2)
        assert 'does not match camera_info' in wrong.message

        # The top camera goes silent: after the silence timeout the other two keep the pose
        # going. (Seeing only the cube's top face, it is not needed for a pose.)
        start = len(poses)
        publish(20, (1, 2))
        check(poses[start:])
        stale = statuses(probe, f'cube_pose: camera {specs[0].name}',
                         predicate=lambda s: s.level[0] == 3)
        assert 'no recent images' in stale.message
        degraded = statuses(probe, 'cube_pose: estimator',
                            predicate=lambda s: 'missing' in s.message)
        assert degraded.level[0] == 1

        # The right camera now sends an all-zero camera_info: its images are refused, the left
        # camera alone still gives the pose, with a larger covariance.
        start = len(poses)
        publish(25, (1, 2), zero_info=(1,))
        alone = check(poses[start + 12:])
        assert np.trace(alone[:3, :3]) > np.trace(full[:3, :3])
        bad = statuses(probe, f'cube_pose: camera {specs[1].name}',
                       predicate=lambda s: s.level[0] == 2)
        assert 'not calibrated' in bad.message

        # All cameras uncalibrated: no pose at all, and the estimator status says so.
        start = len(poses)
        publish(15, (1, 2), zero_info=(1, 2))
        probe.spin(0.5)
        assert len(poses) - start <= 1        # at most one set already in flight
        statuses(probe, 'cube_pose: estimator', predicate=lambda s: s.level[0] == 2)
    assert launcher.exit_code == 0, launcher.output_text()


def test_camera_info_frame_change_to_an_unknown_frame_drops_the_extrinsics(isolated_env):
    # tf_static mode: the camera's extrinsics are world -> its camera_info frame. When that
    # frame changes to one with no transform, the old extrinsics belong to another frame: they
    # must go, and the camera must show as an ERROR, not keep fusing with the wrong pose.
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 2004))
    import rclpy
    from vision_pose.cube_pose_node import CubePoseNode
    rclpy.init(args=['cube_pose_test'])
    try:
        node = CubePoseNode()
        name = next(iter(node.cameras))
        tf = TFMessage()
        transform = TransformStamped(child_frame_id=f'{name}_optical')
        transform.header.frame_id = 'world'
        transform.transform.rotation.w = 1.0
        transform.transform.translation.z = 0.5
        tf.transforms.append(transform)
        node._on_tf_static(tf)
        info = CameraInfo(width=200, height=200, distortion_model='plumb_bob')
        info.k = [100.0, 0.0, 100.0, 0.0, 100.0, 100.0, 0.0, 0.0, 1.0]
        info.d = [0.0] * 5
        info.header.frame_id = f'{name}_optical'
        node._on_info(name, info)
        assert node.cameras[name].model() is not None
        info.header.frame_id = 'some_other_camera_optical'
        node._on_info(name, info)
        assert node.cameras[name].extrinsics is None
        assert node.cameras[name].model() is None
        published = []
        node.diag_pub.publish = published.append
        node._publish_diagnostics()
        status = next(s for s in published[-1].status
                      if s.name == f'cube_pose: camera {name}')
        assert status.level[0] == 2
        assert 'some_other_camera_optical' in status.message
        node.destroy_node()
    finally:
        rclpy.shutdown()


@pytest.mark.parametrize('lag, words', [
    (0.3, ('more than sync_slop',)),
    # A whole frame period: every frame matches a set, but shows another instant.
    (1 / 15.0, ('whole number of frame periods',)),
])
def test_a_camera_with_an_offset_clock_is_left_out_and_its_offset_reported(
        isolated_env, lag, words):
    # One camera's stamps lag (beyond sync_slop within silence_timeout, or by a frame period):
    # the node must keep estimating from the others and name the offset in that camera's
    # WARN status.
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 2005))
    import rclpy
    from vision_pose.cube_pose_node import CubePoseNode
    rclpy.init(args=['cube_pose_test', '--ros-args', '-p', 'extrinsics_source:=rig'])
    try:
        node = CubePoseNode()
        names = list(node.cameras)
        assert len(names) >= 3
        late = names[-1]
        info = CameraInfo(width=64, height=48, distortion_model='plumb_bob')
        info.k = [60.0, 0.0, 32.0, 0.0, 60.0, 24.0, 0.0, 0.0, 1.0]
        info.d = [0.0] * 5
        image = np.zeros((48, 64, 3), np.uint8)
        for name in names:
            info.header.frame_id = f'{name}_optical'
            node._on_info(name, info)
        for k in range(40):
            t = 10.0 + k / 15.0
            for name in names:
                node._on_image(name, image_to_msg(
                    image, sec_to_stamp(t - lag if name == late else t), f'{name}_optical'))
        # Blank images: every set is "lost", but sets there are, without the late camera.
        assert node.lost >= 25
        assert node.last_report is not None and late not in node.last_report.markers_per_camera
        published = []
        node.diag_pub.publish = published.append
        node._publish_diagnostics()
        by_name = {s.name: s for s in published[-1].status}
        status = by_name[f'cube_pose: camera {late}']
        assert status.level[0] == 1
        assert 'clock offset' in status.message and 'behind' in status.message
        assert all(word in status.message for word in words), status.message
        offset = float(next(v.value for v in status.values if v.key == 'clock_offset_s'))
        assert offset == pytest.approx(-lag, abs=0.01)
        # The message states the measured offset (arrival jitter may move its last digit).
        assert f'{abs(offset):.3f} s behind' in status.message, status.message
        assert by_name[f'cube_pose: camera {names[0]}'].level[0] == 0
        node.destroy_node()
    finally:
        rclpy.shutdown()


def test_a_detection_still_queued_is_run_by_the_waiting_callback():
    ran = []

    def preprocess(frame):
        ran.append((frame, threading.get_ident()))
        return f'{frame} detected'
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        busy = threading.Event()
        blocker = pool.submit(busy.wait, 10.0)          # the pool's only thread is busy
        queued = Pending(pool.submit(preprocess, 'top'), 'top')
        # Still queued: run here, now, and the pool will not run it again.
        assert finished(queued, preprocess) == 'top detected'
        assert ran == [('top', threading.get_ident())] and queued.future.cancelled()
        busy.set()
        blocker.result(timeout=10.0)
        started = Pending(pool.submit(preprocess, 'left'), 'left')
        concurrent.futures.wait([started.future], timeout=10.0)
        # Already taken by the pool (done here): its result, not run twice.
        assert finished(started, preprocess) == 'left detected'
    assert [frame for frame, _ in ran] == ['top', 'left']
    assert ran[1][1] != threading.get_ident()
    assert finished('right', preprocess) == 'right'       # preprocessed in the callback
