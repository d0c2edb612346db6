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

"""Scene and camera-rig configs, and the MuJoCo model composed from them."""
import math

from hand_control.hand_profile import load_hand_profile
from inhand.config import ConfigError
from inhand.cube_markers import load_cube_markers
from inhand.hand_model import (build_model, CameraRig, CUBE_BODY, CUBE_JOINT, FLOOR_GEOM,
                               load_camera_rig, load_scene_config, look_at_quat)
from inhand.transforms import quat_to_matrix
import mujoco
import numpy as np
import pytest


@pytest.fixture(scope='module')
def profile():
    return load_hand_profile('shadow')


@pytest.fixture(scope='module')
def scene():
    return load_scene_config()


@pytest.fixture(scope='module')
def rig():
    return load_camera_rig()


@pytest.fixture(scope='module')
def full_model(profile, scene, rig):
    return build_model(profile, scene, rig, load_cube_markers())


@pytest.fixture(scope='module')
def hand_model(profile, scene):
    return build_model(profile, scene)


def name2id(model, kind, name):
    return mujoco.mj_name2id(model, kind, name)


def test_every_profile_joint_and_actuator_is_in_the_model(full_model, profile):
    joints = [name2id(full_model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in profile.mujoco_joints]
    assert len(joints) == 24 and min(joints) >= 0
    assert all(full_model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE for j in joints)
    actuators = [name2id(full_model, mujoco.mjtObj.mjOBJ_ACTUATOR, a)
                 for a in profile.actuators if a]
    assert len(actuators) == 20 and min(actuators) >= 0
    assert full_model.nu == 20
    # each actuator drives the joint the profile pairs it with
    for mj_joint, actuator in zip(profile.mujoco_joints, profile.actuators):
        if actuator:
            aid = name2id(full_model, mujoco.mjtObj.mjOBJ_ACTUATOR, actuator)
            jid = name2id(full_model, mujoco.mjtObj.mjOBJ_JOINT, mj_joint)
            assert full_model.actuator_trnid[aid, 0] == jid
    # 24 hand hinges + the cube's free joint, nothing else
    assert full_model.njnt == 25
    assert full_model.jnt_type[name2id(full_model, mujoco.mjtObj.mjOBJ_JOINT, CUBE_JOINT)] \
        == mujoco.mjtJoint.mjJNT_FREE


def test_gym_scene_parts_are_removed(full_model, profile):
    for body in profile.remove_bodies:
        assert name2id(full_model, mujoco.mjtObj.mjOBJ_BODY, body) == -1
    for geom in profile.remove_geoms:
        assert name2id(full_model, mujoco.mjtObj.mjOBJ_GEOM, geom) == -1
    assert name2id(full_model, mujoco.mjtObj.mjOBJ_GEOM, FLOOR_GEOM) >= 0


def test_render_settings(full_model, rig, scene):
    assert full_model.vis.quality.shadowsize == 0
    assert full_model.vis.global_.offwidth >= 640 and full_model.vis.global_.offheight >= 480
    assert full_model.ncam == len(rig.cameras) == 3
    assert full_model.nlight == len(scene.lights)
    assert not any(full_model.light_castshadow)
    assert full_model.opt.timestep == pytest.approx(scene.timestep)


def test_palm_up_in_the_documented_world_frame(full_model, hand_model, profile, scene):
    """The palm faces +z, fingers point +x, and the hand-only model puts it at the same pose."""
    poses = []
    for model in (full_model, hand_model):
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        palm = name2id(model, mujoco.mjtObj.mjOBJ_BODY, profile.palm_body)
        tips = [name2id(model, mujoco.mjtObj.mjOBJ_SITE, t.site) for t in profile.fingertips]
        poses.append((data.xpos[palm].copy(), data.xmat[palm].copy(),
                      data.site_xpos[tips].copy()))
        # the palm's normal (-y of the palm body in this model) points up
        assert data.xmat[palm].reshape(3, 3)[:, 1] @ [0, 0, -1] > 0.999
        # fingertips lie ahead (+x) of the palm, the thumb (last) on -y
        assert np.all(data.site_xpos[tips[:4], 0] > data.xpos[palm][0] + 0.1)
        assert data.site_xpos[tips[4], 1] < -0.05
    for a, b in zip(poses[0], poses[1]):
        np.testing.assert_allclose(a, b, atol=1e-9)
    # the cube's nominal pose is above the palm, within the palm's footprint
    cube_xy = np.array(scene.cube_position[:2])
    assert np.linalg.norm(cube_xy - poses[0][0][:2]) < 0.1
    assert scene.cube_position[2] > poses[0][0][2]
    assert name2id(hand_model, mujoco.mjtObj.mjOBJ_BODY, CUBE_BODY) == -1
    assert hand_model.ncam == 0


def test_cube_matches_marker_config(full_model):
    cube = load_cube_markers()
    geom = name2id(full_model, mujoco.mjtObj.mjOBJ_GEOM, 'cube')
    np.testing.assert_allclose(full_model.geom_size[geom], [cube.cube_size / 2] * 3)
    material = full_model.geom_matid[geom]
    texture = full_model.mat_texid[material, mujoco.mjtTextureRole.mjTEXROLE_RGB]
    assert full_model.tex_type[texture] == mujoco.mjtTexture.mjTEXTURE_CUBE


# ---------------------------------------------------------------- scene config errors

def scene_text(**replace) -> str:
    from inhand.paths import config_path
    text = config_path('sim/scene.yaml').read_text()
    for old, new in replace.values():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize('change, message', [
    (('orientation_xyzw: [-0.5, 0.5, -0.5, 0.5]', 'orientation_xyzw: [1, 1, 0, 0]'),
     'hand_mount.orientation_xyzw'),
    (('mass: 0.078', 'mass: 0'), 'cube.mass'),
    (('below_palm: 0.05', 'below_palm: nan'), 'drop.below_palm'),
    (('cube_mass_scale: [0.7, 1.3]', 'cube_mass_scale: [1.3, 0.7]'),
     'randomization.cube_mass_scale'),
    (('cube_mass_scale: [0.7, 1.3]', 'cube_mas_scale: [0.7, 1.3]'),
     "unknown key 'cube_mas_scale' (did you mean cube_mass_scale?)"),
    (('timestep: 0.002', 'timestep: -1'), 'physics.timestep'),
    (('contact: {condim: 4}', 'contact: {condim: 5}'), 'cube.contact.condim'),
    (('contact: {condim: 4}', 'contact: {condim: 4, solref: [0.02]}'), 'cube.contact.solref'),
    (('contact: {condim: 4}', 'contact: {condim: 4, solrf: [0.02, 1]}'),
     "unknown key 'solrf' (did you mean solref?)"),
])
def test_scene_errors_name_file_and_key(tmp_path, change, message):
    path = tmp_path / 'scene.yaml'
    path.write_text(scene_text(change=change))
    with pytest.raises(ConfigError) as err:
        load_scene_config(str(path))
    assert message in str(err.value) and 'scene.yaml' in str(err.value)


def test_timestep_defaults_to_the_models(tmp_path, profile):
    path = tmp_path / 'scene.yaml'
    path.write_text(scene_text(change=('  timestep: 0.002\n', '')))
    scene = load_scene_config(str(path))
    assert scene.timestep is None
    assert build_model(profile, scene).opt.timestep == pytest.approx(0.002)


# ---------------------------------------------------------------- camera rig

RIG = """
defaults: {width: 200, height: 200, rate_hz: 15.0, fovy_deg: 30.0}
cameras:
  - {name: a, position: [0.3, 0.0, 0.5], look_at: [0.0, 0.0, 0.28]}
  - {name: b, position: [0.0, 0.3, 0.5], orientation_xyzw: [0.0, 0.0, 0.0, 1.0],
     intrinsics: {fx: 250.0, fy: 260.0, cx: 99.0, cy: 101.0}, width: 320, rate_hz: 30}
"""


def load_rig_text(tmp_path, text) -> CameraRig:
    path = tmp_path / 'rig.yaml'
    path.write_text(text)
    return load_camera_rig(str(path))


@pytest.mark.parametrize('name, size', [('cameras/dactyl_rig.yaml', (200, 200)),
                                        ('cameras/dactyl_rig_vga.yaml', (640, 480))])
def test_shipped_rigs(name, size):
    rig = load_camera_rig(name)
    assert rig.names == ['vision_cam_top', 'vision_cam_right', 'vision_cam_left']
    for camera in rig.cameras:
        assert (camera.width, camera.height, camera.rate_hz) == size + (15.0,)
        distance = np.linalg.norm(np.array(camera.position) - [0.0, 0.0, 0.28])
        assert 0.3 <= distance <= 0.5
        assert camera.frame_id == camera.name + '_optical'


def test_rig_fields(tmp_path):
    rig = load_rig_text(tmp_path, RIG)
    a, b = rig.cameras
    # look_at: the optical z axis points at the target, x is horizontal
    rotation = quat_to_matrix(a.optical_quat)
    direction = np.array([0.0, 0.0, 0.28]) - a.position
    np.testing.assert_allclose(rotation[:, 2], direction / np.linalg.norm(direction))
    assert abs(rotation[2, 0]) < 1e-9 and rotation[2, 1] < 0      # image y points down
    f = 100.0 / math.tan(math.radians(15.0))
    np.testing.assert_allclose(a.matrix(), [[f, 0, 99.5], [0, f, 99.5], [0, 0, 1]])
    np.testing.assert_allclose(b.matrix(), [[250, 0, 99], [0, 260, 101], [0, 0, 1]])
    assert (b.width, b.height, b.rate_hz) == (320, 200, 30.0)
    np.testing.assert_allclose(b.optical_quat, [1, 0, 0, 0])


@pytest.mark.parametrize('change, message', [
    (('look_at: [0.0, 0.0, 0.28]}', '}'), 'needs exactly one of "look_at" or "orientation_xyzw"'),
    (('look_at: [0.0, 0.0, 0.28]', 'look_at: [0.3, 0.0, 0.5]'), 'coincides'),
    (('look_at: [0.0, 0.0, 0.28]', 'look_at: [0.3, 0.0, 0.28]'), 'parallel'),
    (('name: b', 'name: a'), 'duplicate camera name'),
    (('fy: 260.0', 'fy: -260.0'), 'intrinsics.fy'),
    (('width: 320', 'width: 0'), 'width'),
    (('rate_hz: 30', 'rate_hz: fast'), 'rate_hz'),
    (('{name: a,', '{name: a, fovy_deg: 30, intrinsics: {fx: 1, fy: 1, cx: 0, cy: 0},'),
     'either "fovy_deg" or "intrinsics"'),
    (('orientation_xyzw: [0.0, 0.0, 0.0, 1.0]', 'orientation_xyzw: [0.0, 0.0, 0.0, 2.0]'),
     'not of unit length'),
    (('{name: a,', '{name: a, focus: 3,'), "unknown key 'focus'"),
    (('cameras:\n  - {name: a', 'cameras: []\nx:\n  - {name: a'), 'list is empty'),
])
def test_rig_errors_are_clear(tmp_path, change, message):
    text = RIG.replace(*change)
    assert text != RIG
    with pytest.raises(ConfigError) as err:
        load_rig_text(tmp_path, text)
    assert message in str(err.value)
    assert 'rig.yaml' in str(err.value)


def test_look_at_rejects_degenerate_input():
    with pytest.raises(ValueError):
        look_at_quat([0, 0, 1], [0, 0, 0])
    q = look_at_quat([1, 0, 0], [0, 0, 0])
    np.testing.assert_allclose(quat_to_matrix(q)[:, 2], [-1, 0, 0], atol=1e-12)
