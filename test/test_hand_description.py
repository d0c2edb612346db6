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

"""The generated URDF is the MuJoCo hand: a maintained parser reads it and agrees on FK."""
import dataclasses

from hand_control.description import HandDescription
from hand_control.hand_profile import load_hand_profile
from inhand.config import ConfigError
from inhand.hand_model import build_model, load_scene_config
from inhand.transforms import quat_to_matrix
import mujoco
import numpy as np
import pytest
import trimesh
import yourdfpy


# Every shipped hand: the description is generic, so each profile gets the same checks.
HANDS = {'shadow': ('sim/scene.yaml', 10),          # scene, fewest mesh visuals to compare
         'leap': ('hands/leap.scene.yaml', 1)}      # Playground's wheel: boxes and one mesh


@pytest.fixture(scope='module', params=sorted(HANDS))
def hand(request):
    return request.param


@pytest.fixture(scope='module')
def profile(hand):
    return load_hand_profile(hand)


@pytest.fixture(scope='module')
def model(profile, hand):
    return build_model(profile, load_scene_config(HANDS[hand][0]))


@pytest.fixture(scope='module')
def described(profile, model, tmp_path_factory):
    """(HandDescription, yourdfpy.URDF of its text, folder) with the meshes on disk."""
    folder = tmp_path_factory.mktemp('hand')
    description = HandDescription(profile, model, mesh_dir=folder / 'meshes')
    description.write_meshes()
    path = folder / 'hand.urdf'
    path.write_text(description.urdf())
    urdf = yourdfpy.URDF.load(str(path), build_scene_graph=True, load_meshes=True,
                              build_collision_scene_graph=False)
    return description, urdf, folder


def mujoco_state(profile, model, positions):
    data = mujoco.MjData(model)
    for name, mj in zip(profile.joint_names, profile.mujoco_joints):
        data.qpos[model.joint(mj).qposadr[0]] = positions[name]
    mujoco.mj_kinematics(model, data)
    return data


def random_positions(profile, rng):
    return dict(zip(profile.joint_names, rng.uniform(profile.lower, profile.upper)))


def test_joints_limits_and_tree_are_the_profiles(profile, described):
    _, urdf, _ = described
    assert urdf.validate()
    assert urdf.base_link == 'world'
    assert sorted(urdf.actuated_joint_names) == sorted(profile.joint_names)
    for k, name in enumerate(profile.joint_names):
        joint = urdf.joint_map[name]
        assert joint.type == 'revolute'
        assert joint.limit.lower == pytest.approx(profile.lower[k])
        assert joint.limit.upper == pytest.approx(profile.upper[k])
        assert joint.limit.velocity == pytest.approx(profile.max_velocity[k])
        assert joint.limit.effort > 0 or not profile.actuators[k]
    links = set(urdf.link_map)
    assert {profile.palm_frame} | {tip.frame for tip in profile.fingertips} <= links
    # One tree: every link but the root is the child of exactly one joint.
    children = [j.child for j in urdf.robot.joints]
    assert sorted(children) == sorted(links - {'world'})


def test_link_transforms_match_mujoco_forward_kinematics(profile, model, described):
    description, urdf, _ = described
    rng = np.random.default_rng(7)
    worst_position = worst_rotation = 0.0
    for _ in range(25):
        positions = random_positions(profile, rng)
        urdf.update_cfg(positions)
        data = mujoco_state(profile, model, positions)
        for body in description.bodies:
            transform = urdf.get_transform(description.link_of[body], 'world')
            rotation = data.xmat[body].reshape(3, 3)
            expected = data.xpos[body] + rotation @ description.anchor[body]
            worst_position = max(worst_position, np.abs(transform[:3, 3] - expected).max())
            worst_rotation = max(worst_rotation, np.abs(transform[:3, :3] - rotation).max())
        for tip in profile.fingertips:
            transform = urdf.get_transform(tip.frame, 'world')
            site = data.site(tip.site)
            worst_position = max(worst_position, np.abs(transform[:3, 3] - site.xpos).max())
            worst_rotation = max(worst_rotation,
                                 np.abs(transform[:3, :3] - site.xmat.reshape(3, 3)).max())
    assert worst_position < 1e-4           # m: well under a millimetre
    assert worst_rotation < 1e-4


def test_meshes_are_where_mujoco_draws_them(hand, profile, model, described):
    description, urdf, _ = described
    positions = random_positions(profile, np.random.default_rng(3))
    urdf.update_cfg(positions)
    data = mujoco_state(profile, model, positions)
    checked = 0
    for g in range(model.ngeom):
        if model.geom_type[g] != mujoco.mjtGeom.mjGEOM_MESH or model.geom_group[g] > 2:
            continue
        body = int(model.geom_bodyid[g])
        if body not in description.link_of:
            continue
        mesh = int(model.geom_dataid[g])
        start, count = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        truth = (data.geom_xpos[g] + model.mesh_vert[start:start + count]
                 @ data.geom_xmat[g].reshape(3, 3).T)
        loaded = trimesh.load(description.mesh_paths[mesh], force='mesh')
        link = urdf.link_map[description.link_of[body]]
        # the URDF visual of this geom: the one whose mesh is this file
        visuals = [v for v in link.visuals if v.geometry.mesh is not None
                   and v.geometry.mesh.filename.endswith(description.mesh_paths[mesh].name)]
        assert visuals, f'no visual for {model.geom(g).name} on {link.name}'
        pose = urdf.get_transform(link.name, 'world') @ visuals[0].origin
        drawn = loaded.vertices @ pose[:3, :3].T + pose[:3, 3]
        # trimesh merges duplicate vertices: compare the extents, which survive that
        assert np.abs(drawn.min(axis=0) - truth.min(axis=0)).max() < 1e-4
        assert np.abs(drawn.max(axis=0) - truth.max(axis=0)).max() < 1e-4
        checked += 1
    assert checked >= HANDS[hand][1]


def test_tf_chain_is_the_urdf_at_the_same_joints(profile, model, described):
    description, urdf, _ = described
    rng = np.random.default_rng(11)
    static = {child: (parent, pos, quat)
              for parent, child, pos, quat in description.static_transforms()}
    for _ in range(5):
        positions = random_positions(profile, rng)
        urdf.update_cfg(positions)
        edges = dict(static)
        for parent, child, pos, quat in description.transforms(positions):
            edges[child] = (parent, pos, quat)
        for link in urdf.link_map:
            if link == 'world':
                continue
            pose, frame = np.eye(4), link
            while frame != 'world':                  # walk the TF tree up to the root
                parent, pos, quat = edges[frame]
                step = np.eye(4)
                step[:3, :3], step[:3, 3] = quat_to_matrix(quat), pos
                pose, frame = step @ pose, parent
            assert np.abs(pose - urdf.get_transform(link, 'world')).max() < 1e-6, link


def test_coupled_joints_follow_their_driver_when_left_out(profile, model):
    description = HandDescription(profile, model)
    commanded = dict.fromkeys(profile.actuated_joint_names, 0.7)
    poses = description.link_poses(commanded)
    full = dict(commanded)
    full.update(dict.fromkeys((n for n, d in zip(profile.joint_names, profile.coupled_to)
                               if d), 0.7))
    expected = HandDescription(profile, model).link_poses(full)
    for link, (pos, _) in expected.items():
        assert np.abs(poses[link][0] - pos).max() < 1e-9, link


def test_bad_positions_and_models_are_refused_by_name(profile, model):
    description = HandDescription(profile, model)
    with pytest.raises(ValueError, match='rh_XXJ1'):
        description.transforms({'rh_XXJ1': 0.0})
    joint = profile.joint_names[3]
    with pytest.raises(ValueError, match=f'non-finite position for {joint}'):
        description.transforms({joint: float('nan')})
    broken = dataclasses.replace(profile, mount_body='robot0:nowhere')
    with pytest.raises(ConfigError, match='robot0:nowhere'):
        HandDescription(broken, model)
    broken = dataclasses.replace(profile, fingertips=(dataclasses.replace(
        profile.fingertips[0], site='robot0:no_site'),) + profile.fingertips[1:])
    with pytest.raises(ConfigError, match='robot0:no_site'):
        HandDescription(broken, model)
