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

"""Observation terms against hand-computed values; quaternion conventions; normalization."""
import copy

from hand_control.hand_profile import load_hand_profile
from inhand.transforms import axis_angle_to_quat
import mujoco
import numpy as np
from policy_node.kinematics import HandKinematics
from policy_node.observation import ObservationBuilder, ObservationInputs
from policy_node.spec import parse_spec, SpecError
import pytest
import yaml

SQ = np.sqrt(0.5)
# 90 degrees about z and about x, wxyz.
QZ90 = np.array([SQ, 0.0, 0.0, SQ])
QX90 = np.array([SQ, SQ, 0.0, 0.0])


@pytest.fixture(scope='module')
def profile():
    return load_hand_profile('shadow')


@pytest.fixture(scope='module')
def kinematics(profile):
    return HandKinematics(profile)


def make_spec(terms, joints='actuated', normalization=None, **extra):
    data = {'name': 'test', 'rate_hz': 20.0, 'joints': joints,
            'model': {'inputs': {'observation': 'obs'}, 'outputs': {'action': 'act'}},
            'observation': terms, 'action': {'mode': 'delta_target', 'scale': 0.5}}
    if normalization is not None:
        data['normalization'] = normalization
    data.update(extra)
    return parse_spec(copy.deepcopy(data), 'test.yaml', None, yaml.safe_dump(data))


def inputs(profile, q=None, v=None, step=0, cube=(1.0, 0.87, 0.2), cube_quat=QZ90,
           goal_quat=QX90, last_target=None, last_action=None):
    n = len(profile.actuated_joint_names)
    return ObservationInputs(
        joint_positions=np.zeros(24) if q is None else np.asarray(q, float),
        joint_velocities=np.zeros(24) if v is None else np.asarray(v, float),
        last_target=np.zeros(n) if last_target is None else np.asarray(last_target, float),
        last_action=np.zeros(n) if last_action is None else np.asarray(last_action, float),
        step=step, cube_position=None if cube is None else np.asarray(cube, float),
        cube_quat=cube_quat, goal_quat=goal_quat)


def build(profile, kinematics, terms, snapshot, **kwargs):
    builder = ObservationBuilder(make_spec(terms, **kwargs), profile, kinematics)
    return builder.build(snapshot)


def random_q(profile, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(profile.lower, profile.upper)


def reference_fk(kinematics, profile, q):
    """Independent FK: a fresh MjData, joints set by MuJoCo name, full mj_forward."""
    model = kinematics.model
    data = mujoco.MjData(model)
    for name, value in zip(profile.mujoco_joints, q):
        data.joint(name).qpos[0] = value
    mujoco.mj_forward(model, data)
    tips = np.array([data.site(t.site).xpos for t in profile.fingertips])
    palm = data.body(profile.palm_body)
    return tips, palm.xpos.copy(), palm.xmat.reshape(3, 3).copy()


# --- joint terms ------------------------------------------------------------------------

def test_joint_positions_and_velocities_are_picked_by_name(profile, kinematics):
    q = np.arange(24) * 0.01
    v = -np.arange(24) * 0.1
    terms = [{'name': 'q', 'source': 'joint_positions', 'size': 3,
              'joints': ['rh_THJ1', 'rh_WRJ2', 'rh_FFJ1']},
             {'name': 'v', 'source': 'joint_velocities', 'size': 2,
              'joints': ['rh_MFJ3', 'rh_LFJ5']}]
    obs = build(profile, kinematics, terms, inputs(profile, q, v))
    expected = [q[profile.index('rh_THJ1')], q[profile.index('rh_WRJ2')],
                q[profile.index('rh_FFJ1')], v[profile.index('rh_MFJ3')],
                v[profile.index('rh_LFJ5')]]
    np.testing.assert_allclose(obs, expected, rtol=1e-6)


def test_joint_order_follows_the_spec_not_the_profile(profile, kinematics):
    joints = list(reversed(profile.actuated_joint_names))
    q = random_q(profile, 1)
    obs = build(profile, kinematics, [{'name': 'q', 'source': 'joint_positions', 'size': 20}],
                inputs(profile, q, last_target=np.zeros(20)), joints=joints)
    np.testing.assert_allclose(obs, [q[profile.index(n)] for n in joints], rtol=1e-6)


def test_unscale_limits_and_default_pose_offsets(profile, kinematics):
    q = random_q(profile, 2)
    idx = profile.actuated_indices
    lower, upper = profile.lower[idx], profile.upper[idx]
    terms = [{'name': 'unscaled', 'source': 'joint_positions', 'size': 20,
              'transform': {'unscale_limits': True}},
             {'name': 'relative', 'source': 'joint_positions', 'size': 20,
              'transform': {'subtract': 'default_pose', 'scale': 2.0}}]
    obs = build(profile, kinematics, terms, inputs(profile, q),
                default_pose={'rh_FFJ3': 0.4, 'rh_THJ1': -0.3})
    np.testing.assert_allclose(obs[:20], 2.0 * (q[idx] - lower) / (upper - lower) - 1.0,
                               rtol=1e-5, atol=1e-6)
    default = profile.home[idx].copy()
    default[list(profile.actuated_joint_names).index('rh_FFJ3')] = 0.4
    default[list(profile.actuated_joint_names).index('rh_THJ1')] = -0.3
    np.testing.assert_allclose(obs[20:], 2.0 * (q[idx] - default), rtol=1e-5, atol=1e-6)


def test_joint_position_error_is_measured_minus_last_target(profile, kinematics):
    q = random_q(profile, 3)
    target = np.linspace(0.0, 0.5, 20)
    terms = [{'name': 'e', 'source': 'joint_position_error', 'size': 20},
             {'name': 'neg', 'source': 'joint_position_error', 'size': 20,
              'sign': 'target_minus_measured'},
             {'name': 't', 'source': 'last_target', 'size': 20}]
    obs = build(profile, kinematics, terms, inputs(profile, q, last_target=target))
    expected = q[profile.actuated_indices] - target
    np.testing.assert_allclose(obs[:20], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(obs[20:40], -expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(obs[40:], target, rtol=1e-6)


def test_transform_scale_and_clip(profile, kinematics):
    v = np.linspace(-30, 30, 24)
    terms = [{'name': 'v', 'source': 'joint_velocities', 'size': 20,
              'transform': {'scale': 0.1, 'clip': 1.5}}]
    obs = build(profile, kinematics, terms, inputs(profile, v=v))
    np.testing.assert_allclose(obs, np.clip(0.1 * v[profile.actuated_indices], -1.5, 1.5),
                               rtol=1e-6)


# --- kinematic terms --------------------------------------------------------------------

def test_fingertips_match_an_independent_forward_kinematics(profile, kinematics):
    q = random_q(profile, 4)
    tips, palm_pos, palm_rot = reference_fk(kinematics, profile, q)
    terms = [{'name': 'world', 'source': 'fingertip_positions', 'size': 15},
             {'name': 'palm', 'source': 'fingertip_positions', 'frame': 'palm', 'size': 15},
             {'name': 'two', 'source': 'fingertip_positions', 'fingertips': ['th', 'ff'],
              'size': 6}]
    obs = build(profile, kinematics, terms, inputs(profile, q))
    np.testing.assert_allclose(obs[:15], tips.ravel(), atol=1e-6)
    # Palm frame, tip by tip: p_palm = R_palm^T (p_world - palm origin).
    in_palm = [palm_rot.T @ (tip - palm_pos) for tip in tips]
    np.testing.assert_allclose(obs[15:30], np.concatenate(in_palm), atol=1e-6)
    np.testing.assert_allclose(obs[30:], np.concatenate([tips[4], tips[0]]), atol=1e-6)
    # Fingertips really move with the joints (the FK is not stuck at one pose).
    other = build(profile, kinematics, terms, inputs(profile, random_q(profile, 5)))
    assert np.linalg.norm(other[:15] - obs[:15]) > 0.01


def test_cube_position_world_and_relative_to_the_palm(profile, kinematics):
    q = random_q(profile, 6)
    _, palm_pos, palm_rot = reference_fk(kinematics, profile, q)
    cube = np.array([1.01, 0.9, 0.21])
    terms = [{'name': 'world', 'source': 'cube_position', 'size': 3},
             {'name': 'playground', 'source': 'cube_position', 'relative_to': 'palm',
              'sign': 'palm_minus_cube', 'size': 3},
             {'name': 'in_palm', 'source': 'cube_position', 'relative_to': 'palm',
              'frame': 'palm', 'size': 3}]
    obs = build(profile, kinematics, terms, inputs(profile, q, cube=cube))
    np.testing.assert_allclose(obs[:3], cube, atol=1e-6)
    np.testing.assert_allclose(obs[3:6], palm_pos - cube, atol=1e-6)
    np.testing.assert_allclose(obs[6:], palm_rot.T @ (cube - palm_pos), atol=1e-6)


# --- rotation conventions ---------------------------------------------------------------

def test_quaternion_orders_and_sign(profile, kinematics):
    flipped = -QZ90    # the same rotation, w < 0
    terms = [{'name': 'wxyz', 'source': 'cube_orientation', 'format': 'wxyz', 'size': 4},
             {'name': 'xyzw', 'source': 'cube_orientation', 'format': 'xyzw', 'size': 4},
             {'name': 'canon', 'source': 'cube_orientation', 'format': 'wxyz',
              'positive_w': True, 'size': 4},
             {'name': 'goal', 'source': 'goal_orientation', 'format': 'xyzw', 'size': 4}]
    obs = build(profile, kinematics, terms, inputs(profile, cube_quat=flipped))
    np.testing.assert_allclose(obs[0:4], [-SQ, 0, 0, -SQ], atol=1e-6)
    np.testing.assert_allclose(obs[4:8], [0, 0, -SQ, -SQ], atol=1e-6)
    np.testing.assert_allclose(obs[8:12], [SQ, 0, 0, SQ], atol=1e-6)
    np.testing.assert_allclose(obs[12:16], [SQ, 0, 0, SQ], atol=1e-6)   # QX90 as x, y, z, w


def test_rotation_matrix_rows(profile, kinematics):
    # 90 degrees about z maps x -> y: R = [[0, -1, 0], [1, 0, 0], [0, 0, 1]].
    terms = [{'name': 'full', 'source': 'cube_orientation', 'format': 'matrix', 'size': 9},
             {'name': 'rows23', 'source': 'cube_orientation', 'format': 'matrix',
              'entries': [3, 9], 'size': 6}]
    obs = build(profile, kinematics, terms, inputs(profile))
    np.testing.assert_allclose(obs[:9], [0, -1, 0, 1, 0, 0, 0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(obs[9:], [1, 0, 0, 0, 0, 1], atol=1e-6)


def test_orientation_error_products(profile, kinematics):
    cube, goal = QZ90, QX90
    terms = [{'name': p, 'source': 'orientation_error', 'product': p, 'format': 'matrix',
              'size': 9} for p in ('cube_goal_inv', 'goal_cube_inv', 'cube_inv_goal',
                                   'goal_inv_cube')]
    terms.append({'name': 'angle', 'source': 'orientation_error', 'product': 'cube_goal_inv',
                  'format': 'angle', 'size': 1})
    obs = build(profile, kinematics, terms, inputs(profile, cube_quat=cube, goal_quat=goal))
    rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])     # R(cube)
    rx = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])     # R(goal)
    expected = [rz @ rx.T, rx @ rz.T, rz.T @ rx, rx.T @ rz]
    for i, matrix in enumerate(expected):
        np.testing.assert_allclose(obs[9 * i:9 * i + 9], matrix.ravel(), atol=1e-6)
    # Two 90 degree turns about perpendicular axes compose to a 120 degree rotation.
    np.testing.assert_allclose(obs[36], 2.0 * np.pi / 3.0, atol=1e-6)


def test_playground_orientation_error_is_the_last_six_matrix_entries(profile, kinematics):
    rng = np.random.default_rng(7)
    cube = axis_angle_to_quat(rng.normal(size=3), 1.1)
    goal = axis_angle_to_quat(rng.normal(size=3), 2.3)
    terms = [{'name': 'ori', 'source': 'orientation_error', 'product': 'cube_goal_inv',
              'format': 'matrix', 'entries': [3, 9], 'size': 6}]
    obs = build(profile, kinematics, terms, inputs(profile, cube_quat=cube, goal_quat=goal))
    r_cube, r_goal = np.zeros(9), np.zeros(9)
    mujoco.mju_quat2Mat(r_cube, cube)
    mujoco.mju_quat2Mat(r_goal, goal)
    relative = r_cube.reshape(3, 3) @ r_goal.reshape(3, 3).T
    np.testing.assert_allclose(obs, relative.ravel()[3:], atol=1e-6)


def test_dactyl_relative_goal_has_positive_w(profile, kinematics):
    cube = axis_angle_to_quat([0, 0, 1], 0.3)
    goal = axis_angle_to_quat([0, 0, 1], 0.3 + 2.0 * np.pi - 0.2)    # -0.2 rad, written long
    terms = [{'name': 'rel', 'source': 'orientation_error', 'product': 'goal_cube_inv',
              'format': 'wxyz', 'positive_w': True, 'size': 4}]
    obs = build(profile, kinematics, terms, inputs(profile, cube_quat=cube, goal_quat=goal))
    np.testing.assert_allclose(obs, axis_angle_to_quat([0, 0, 1], -0.2), atol=1e-6)


# --- last action, phase, constant, history ----------------------------------------------

def test_last_action_phase_and_constant(profile, kinematics):
    action = np.linspace(-1, 1, 20)
    terms = [{'name': 'a', 'source': 'last_action', 'size': 20},
             {'name': 'p', 'source': 'phase', 'period_s': 2.0, 'size': 2},
             {'name': 'c', 'source': 'constant', 'value': [0.5, -2.0], 'size': 2}]
    obs = build(profile, kinematics, terms, inputs(profile, last_action=action, step=5))
    np.testing.assert_allclose(obs[:20], action, rtol=1e-6)
    angle = 2.0 * np.pi * 5 * 0.05 / 2.0          # 5 steps at 20 Hz of a 2 s period
    np.testing.assert_allclose(obs[20:22], [np.sin(angle), np.cos(angle)], atol=1e-6)
    np.testing.assert_allclose(obs[22:], [0.5, -2.0])


def test_history_order_initial_fill_and_reset(profile, kinematics):
    joint = ['rh_WRJ2']
    terms = [{'name': 'newest', 'source': 'joint_positions', 'joints': joint, 'size': 3,
              'history': 3, 'history_order': 'newest_first', 'history_init': 'zeros'},
             {'name': 'oldest', 'source': 'joint_positions', 'joints': joint, 'size': 3,
              'history': 3, 'history_order': 'oldest_first', 'history_init': 'first'}]
    builder = ObservationBuilder(make_spec(terms), profile, kinematics)

    def at(value):
        q = np.zeros(24)
        q[profile.index('rh_WRJ2')] = value
        return builder.build(inputs(profile, q))

    np.testing.assert_allclose(at(0.1), [0.1, 0, 0, 0.1, 0.1, 0.1], atol=1e-7)
    np.testing.assert_allclose(at(0.2), [0.2, 0.1, 0, 0.1, 0.1, 0.2], atol=1e-7)
    np.testing.assert_allclose(at(0.3), [0.3, 0.2, 0.1, 0.1, 0.2, 0.3], atol=1e-7)
    np.testing.assert_allclose(at(0.4), [0.4, 0.3, 0.2, 0.2, 0.3, 0.4], atol=1e-7)
    builder.reset()
    np.testing.assert_allclose(at(-0.1), [-0.1, 0, 0, -0.1, -0.1, -0.1], atol=1e-7)


# --- normalization ----------------------------------------------------------------------

def test_normalization_mean_std_and_clip(profile, kinematics):
    terms = [{'name': 'c', 'source': 'constant', 'value': [1.0, 2.0, 3.0, 100.0], 'size': 4}]
    norm = {'mean': [0.5, 2.0, 0.0, 0.0], 'std': [0.5, 1.0, 0.1, 1.0], 'clip': 5.0,
            'epsilon': 0.0}
    obs = build(profile, kinematics, terms, inputs(profile), normalization=norm)
    np.testing.assert_allclose(obs, [1.0, 0.0, 5.0, 5.0], rtol=1e-6)
    assert obs.dtype == np.float32


def test_normalization_with_variance_and_epsilon_from_a_file(profile, kinematics, tmp_path):
    np.savez(tmp_path / 'stats.npz', mean=np.array([1.0, 1.0]), var=np.array([4.0, 0.0]))
    terms = [{'name': 'c', 'source': 'constant', 'value': [3.0, 1.5], 'size': 2}]
    data = {'name': 'test', 'rate_hz': 20.0, 'joints': 'actuated',
            'model': {'inputs': {'observation': 'obs'}, 'outputs': {'action': 'act'}},
            'observation': terms, 'action': {'mode': 'delta_target', 'scale': 0.5},
            'normalization': {'file': 'stats.npz', 'epsilon': 0.01}}
    spec = parse_spec(data, str(tmp_path / 'spec.yaml'), tmp_path, '')
    obs = ObservationBuilder(spec, profile, kinematics).build(inputs(profile))
    np.testing.assert_allclose(obs, [2.0 / np.sqrt(4.01), 0.5 / np.sqrt(0.01)], rtol=1e-5)


# --- bad input --------------------------------------------------------------------------

def test_non_finite_input_names_the_term(profile, kinematics):
    q = np.zeros(24)
    q[profile.index('rh_FFJ3')] = np.nan
    terms = [{'name': 'cube', 'source': 'cube_position', 'size': 3},
             {'name': 'q', 'source': 'joint_positions', 'size': 20}]
    builder = ObservationBuilder(make_spec(terms), profile, kinematics)
    with pytest.raises(ValueError, match=r'non-finite observation in term\(s\) q'):
        builder.build(inputs(profile, q))


def test_missing_cube_or_goal_is_reported(profile, kinematics):
    terms = [{'name': 'err', 'source': 'orientation_error', 'product': 'cube_goal_inv',
              'format': 'wxyz', 'size': 4}]
    builder = ObservationBuilder(make_spec(terms), profile, kinematics)
    assert builder.needs_cube and builder.needs_goal and not builder.needs_kinematics
    with pytest.raises(ValueError, match='no goal orientation'):
        builder.build(inputs(profile, goal_quat=None))


def test_options_that_do_not_apply_are_refused(profile, kinematics):
    with pytest.raises(SpecError, match='sign and frame apply only with relative_to: palm'):
        ObservationBuilder(make_spec([{'name': 'c', 'source': 'cube_position',
                                       'frame': 'palm', 'size': 3}]), profile, kinematics)
    with pytest.raises(SpecError, match='positive_w: only for quaternion formats'):
        ObservationBuilder(make_spec([{'name': 'c', 'source': 'cube_orientation',
                                       'format': 'matrix', 'positive_w': True, 'size': 9}]),
                           profile, kinematics)
    with pytest.raises(SpecError, match='unscale_limits: only for joint_positions'):
        ObservationBuilder(make_spec([{'name': 'v', 'source': 'joint_velocities', 'size': 20,
                                       'transform': {'unscale_limits': True}}]),
                           profile, kinematics)
