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
Camera models of the simulator: the optical-frame convention, intrinsics and the default rig.

Coloured emissive spheres at known world points are added to the scene (test-only, through
HandSim's extend_spec hook); each must appear in render(name) where camera(name).K and the
REP-103 optical pose project it.
"""
import os
import threading
import time

import cv2
from inhand.hand_model import CameraConfig, CameraRig, load_camera_rig, look_at_quat
from inhand.transforms import quat_to_matrix
import mujoco
import numpy as np
import pytest
from sim_bridge.camera_worker import CameraWorker
from sim_bridge.simulator import HandSim

# Sphere centres (world) and colours: pure primaries, so a colour threshold isolates each one.
SPHERES = {
    'red': ((0.0, 0.0, 0.33), (1.0, 0.0, 0.0)),
    'blue': ((0.04, -0.03, 0.36), (0.0, 0.0, 1.0)),
    'yellow': ((-0.03, 0.035, 0.31), (1.0, 1.0, 0.0)),
}
SPHERE_RADIUS = 0.003
OFF_SCENE = ([0.5, 0.5, 0.03], [1.0, 0.0, 0.0, 0.0])   # park the cube out of every view

INTRINSIC_CAMERA = CameraConfig(
    name='test_intrinsics', position=(0.28, 0.1, 0.55),
    optical_quat=tuple(look_at_quat((0.28, 0.1, 0.55), (0.0, 0.0, 0.3))),
    width=320, height=240, rate_hz=30.0, intrinsics=(300.0, 320.0, 140.0, 105.0))


def add_spheres(spec: mujoco.MjSpec):
    for name, (position, colour) in SPHERES.items():
        spec.worldbody.add_geom(
            name=f'test_sphere_{name}', type=mujoco.mjtGeom.mjGEOM_SPHERE,
            size=[SPHERE_RADIUS, 0, 0], pos=list(position), rgba=list(colour) + [1.0],
            contype=0, conaffinity=0)
    # flat, full-strength colours: emission only, no shading or highlights on the spheres.
    # The centroid of a small sphere's pixels lands within ~0.1 px of its projected centre,
    # so 0.4 px catches a half-pixel convention slip.
    for geom in spec.geoms:
        if geom.name.startswith('test_sphere_'):
            material = spec.add_material(name=geom.name, emission=1.0, specular=0.0,
                                         shininess=0.0, rgba=list(geom.rgba))
            geom.material = material.name


@pytest.fixture(scope='module')
def sim():
    rig = load_camera_rig()
    rig = CameraRig(source=rig.source, cameras=rig.cameras + (INTRINSIC_CAMERA,))
    simulator = HandSim(rig=rig, extend_spec=add_spheres)
    yield simulator
    simulator.close()


def sphere_centroid(image, colour):
    """Return the centroid (u, v) of the pixels of one pure colour, or None."""
    rgb = image.astype(int)
    on = [c > 0.5 for c in colour]
    mask = np.ones(image.shape[:2], bool)
    for channel, lit in enumerate(on):
        mask &= (rgb[:, :, channel] > 180) if lit else (rgb[:, :, channel] < 80)
    if mask.sum() < 3:
        return None
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()])


def project(camera, point):
    optical = quat_to_matrix(camera.quat_wxyz).T @ (np.asarray(point) - camera.position)
    assert optical[2] > 0, 'point behind the camera'
    uv = camera.K @ optical
    return uv[:2] / uv[2]


def check_spheres(sim, name, tolerance=0.4):
    image = sim.render(name)
    camera = sim.camera(name)
    assert image.shape == (camera.height, camera.width, 3) and image.dtype == np.uint8
    seen = 0
    for colour_name, (position, colour) in SPHERES.items():
        found = sphere_centroid(image, colour)
        assert found is not None, f'{colour_name} sphere not visible in {name}'
        expected = project(camera, position)
        error = np.linalg.norm(found - expected)
        assert error < tolerance, (
            f'{name}: {colour_name} sphere at {found.round(2)}, projected {expected.round(2)}')
        seen += 1
    return seen


@pytest.mark.parametrize('name', ['vision_cam_top', 'vision_cam_right', 'vision_cam_left',
                                  'test_intrinsics'])
def test_known_points_project_onto_their_pixels(sim, name):
    sim.reset()
    sim.set_cube_pose(*OFF_SCENE)
    assert check_spheres(sim, name) == len(SPHERES)


def test_optical_frame_convention(sim):
    """Optical frame: x right, y down, z forward; points right of or below the axis show so."""
    sim.reset()
    camera = sim.camera('vision_cam_right')
    rotation = quat_to_matrix(camera.quat_wxyz)
    ahead = camera.position + 0.4 * rotation[:, 2]
    centre = project(camera, ahead)
    np.testing.assert_allclose(centre, camera.K[:2, 2], atol=1e-9)
    assert project(camera, ahead + 0.02 * rotation[:, 0])[0] > centre[0] + 5
    assert project(camera, ahead + 0.02 * rotation[:, 1])[1] > centre[1] + 5
    # with z up in the world, image "down" points roughly down for these cameras
    assert rotation[2, 1] < -0.5


def test_camera_spec_fields(sim):
    camera = sim.camera('vision_cam_left')
    assert camera.frame_id == 'vision_cam_left_optical'
    assert (camera.width, camera.height, camera.rate_hz) == (200, 200, 15.0)
    assert camera.K.shape == (3, 3) and camera.K[0, 0] > 0
    assert camera.position.shape == (3,) and camera.quat_wxyz.shape == (4,)
    np.testing.assert_allclose(np.linalg.norm(camera.quat_wxyz), 1.0)
    intrinsic = sim.camera('test_intrinsics')
    np.testing.assert_allclose(intrinsic.K, [[300, 0, 140], [0, 320, 105], [0, 0, 1]])
    with pytest.raises(KeyError):
        sim.camera('nope')


def test_pose_jitter_is_what_renders(sim):
    """After camera randomization camera() reports the pose the image was rendered from."""
    sim.reset()
    sim.set_cube_pose(*OFF_SCENE)
    nominal = sim.camera('vision_cam_top')
    try:
        sim.randomize(rng=1, camera_position_jitter=0.005, camera_rotation_jitter=0.02)
        moved = sim.camera('vision_cam_top')
        assert np.linalg.norm(moved.position - nominal.position) > 1e-3
        check_spheres(sim, 'vision_cam_top')
    finally:
        sim.restore_nominal()
    np.testing.assert_allclose(sim.camera('vision_cam_top').position, nominal.position)


def test_default_rig_sees_the_cube_in_the_palm(sim):
    sim.reset()
    sim.step(250)
    detector = cv2.aruco.ArucoDetector(sim.cube.dictionary)
    top_id = sim.cube.faces['+z']
    for name in ('vision_cam_top', 'vision_cam_right', 'vision_cam_left'):
        _, ids, _ = detector.detectMarkers(sim.render(name))
        assert ids is not None and top_id in ids.ravel(), f'{name} does not see the cube'


def test_poses_after_stepping_are_current(sim):
    """Poses (and renders, which use the same frames) match qpos right after mj_step."""
    sim.reset()
    sim.set_cube_pose([0.0, 0.0, 0.5], [1.0, 0.0, 0.0, 0.0], linear_velocity=[0.5, 0.0, 0.0])
    sim.step(1)
    position, _ = sim.cube_pose()
    adr = sim.model.jnt_qposadr[mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_JOINT,
                                                  'cube:joint')]
    np.testing.assert_allclose(position, sim.data.qpos[adr:adr + 3], atol=1e-12)


def test_camera_worker_renders_sets_in_a_thread_that_yields_the_cpu(sim):
    names = ['vision_cam_top', 'vision_cam_left']
    published, done = [], threading.Event()

    def publish(stamp, name, image):
        published.append((stamp, name, image.copy()))
        if len(published) == len(names):
            done.set()

    worker = CameraWorker(
        sim.model, {n: mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_CAMERA, n) for n in names},
        {n: (sim.camera(n).height, sim.camera(n).width) for n in names}, publish, niceness=5)
    try:
        worker.submit(1.5, sim.data, names)
        assert done.wait(60), 'no frame set rendered'
        assert [p[:2] for p in published] == [(1.5, n) for n in names]
        for (_, name, image) in published:      # the same scene as the simulator's own render
            assert np.abs(image.astype(int) - sim.render(name)).mean() < 1.0
        # Only the rendering thread is reniced: this (calling) thread keeps its priority.
        ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert os.getpriority(os.PRIO_PROCESS, worker.native_id) == min(19, ours + 5)
    finally:
        worker.close()


def test_the_simulator_can_wait_for_a_slow_render_instead_of_dropping_frames(sim):
    # A render thread slower than the camera rate: submitting regardless drops the older
    # set; waiting for the worker first (what sim_bridge does, camera_wait) loses none.
    name = 'vision_cam_top'
    published = []

    def slow_publish(stamp, _name, _image):
        time.sleep(0.15)
        published.append(stamp)

    worker = CameraWorker(
        sim.model, {name: mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_CAMERA, name)},
        {name: (sim.camera(name).height, sim.camera(name).width)}, slow_publish)
    try:
        for stamp in (1.0, 2.0, 3.0):
            worker.submit(stamp, sim.data, [name])
        worker.wait_idle(30.0)
        assert worker.dropped_sets >= 1 and 2.0 not in published and published[-1] == 3.0
        rendered = worker.rendered_sets
        waits = []
        for stamp in (4.0, 5.0, 6.0):
            waits.append(worker.wait_idle(30.0))
            worker.submit(stamp, sim.data, [name])
        worker.wait_idle(30.0)
        assert published[-3:] == [4.0, 5.0, 6.0]
        assert worker.rendered_sets == rendered + 3
        assert max(waits[1:]) > 0.05           # it did wait for the render in progress
        # a bounded wait returns after its limit even when the render is not done
        worker.submit(7.0, sim.data, [name])
        assert worker.wait_idle(0.01) < 0.1
    finally:
        worker.close()
