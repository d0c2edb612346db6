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

"""Action semantics: absolute / delta modes, scale and offset, limits, EMA, discrete bins."""
import copy

from hand_control.hand_profile import load_hand_profile
import numpy as np
from policy_node.actions import ActionProcessor
from policy_node.spec import parse_spec
import pytest
import yaml


@pytest.fixture(scope='module')
def profile():
    return load_hand_profile('shadow')


def processor(profile, joints='actuated', default_pose=None, **action):
    data = {'name': 'test', 'rate_hz': 20.0, 'joints': joints,
            'model': {'inputs': {'observation': 'obs'}, 'outputs': {'action': 'act'}},
            'observation': [{'name': 'a', 'source': 'last_action', 'size': 20}],
            'action': action}
    if default_pose:
        data['default_pose'] = default_pose
    spec = parse_spec(copy.deepcopy(data), 'test.yaml', None, yaml.safe_dump(data))
    return ActionProcessor(spec, profile)


def limits(profile):
    idx = profile.actuated_indices
    return profile.lower[idx], profile.upper[idx]


def test_absolute_targets_around_the_default_pose(profile):
    proc = processor(profile, mode='absolute', offset='default_pose', scale=0.1,
                     default_pose={'rh_FFJ3': 0.5})
    action = np.full(20, 0.5)
    target = proc.targets(proc.decode(action), np.zeros(20), np.zeros(24))
    expected = profile.home[profile.actuated_indices] + 0.05
    expected[proc.joint_names.index('rh_FFJ3')] = 0.55
    lower, upper = limits(profile)
    np.testing.assert_allclose(target, np.clip(expected, lower, upper))


def test_gymnasium_style_absolute_maps_minus_one_one_onto_the_limits(profile):
    proc = processor(profile, mode='absolute', offset='limits_center', scale='half_range')
    lower, upper = limits(profile)
    np.testing.assert_allclose(proc.targets(-np.ones(20), np.zeros(20), np.zeros(24)), lower)
    np.testing.assert_allclose(proc.targets(np.ones(20), np.zeros(20), np.zeros(24)), upper)


def test_delta_on_previous_target_is_clipped_to_the_limits(profile):
    proc = processor(profile, mode='delta_target', scale=0.5)
    previous = np.linspace(-0.1, 0.4, 20)
    action = np.linspace(-1, 1, 20)
    lower, upper = limits(profile)
    np.testing.assert_allclose(proc.targets(action, previous, np.full(24, 9.0)),
                               np.clip(previous + 0.5 * action, lower, upper))


def test_delta_on_measured_positions_uses_the_joint_by_name(profile):
    joints = ['rh_THJ2', 'rh_FFJ3']
    data_proc = processor(profile, joints=joints, mode='delta_measured', scale=[0.1, 0.2])
    q = np.zeros(24)
    q[profile.index('rh_THJ2')] = 0.3
    q[profile.index('rh_FFJ3')] = 0.7
    target = data_proc.targets(np.array([1.0, -1.0]), np.zeros(2), q)
    np.testing.assert_allclose(target, [0.4, 0.5])


def test_ema_on_targets(profile):
    proc = processor(profile, mode='absolute', offset='zero', scale=1.0, ema=0.25,
                     clip_to_limits=False)
    previous = np.full(20, 0.4)
    target = proc.targets(np.full(20, 0.8), previous, np.zeros(24))
    np.testing.assert_allclose(target, 0.25 * 0.8 + 0.75 * 0.4)


def test_ema_on_actions_smooths_before_the_mode(profile):
    proc = processor(profile, mode='delta_measured', scale=1.0, ema=0.3, ema_on='action',
                     clip_to_limits=False)
    q = np.zeros(24)
    first = proc.targets(np.full(20, 1.0), np.zeros(20), q)
    np.testing.assert_allclose(first, 1.0)              # no earlier action: taken as is
    second = proc.targets(np.full(20, -1.0), first, q)
    np.testing.assert_allclose(second, 0.3 * -1.0 + 0.7 * 1.0)
    proc.reset()
    np.testing.assert_allclose(proc.targets(np.full(20, -1.0), first, q), -1.0)


def test_discrete_bins_decode_joint_major_argmax(profile):
    proc = processor(profile, mode='delta_measured', scale='half_range', bins=11)
    assert proc.output_size == 220
    logits = np.zeros((20, 11))
    chosen = np.arange(20) % 11
    logits[np.arange(20), chosen] = 5.0
    np.testing.assert_allclose(proc.decode(logits.ravel()), -1.0 + 0.2 * chosen, atol=1e-12)


def test_clip_action_and_bad_outputs(profile):
    proc = processor(profile, mode='delta_target', scale=1.0, clip_action=[-0.5, 0.25])
    np.testing.assert_allclose(proc.decode(np.linspace(-1, 1, 20)),
                               np.clip(np.linspace(-1, 1, 20), -0.5, 0.25))
    with pytest.raises(ValueError, match='returned 19 action values, expected 20'):
        proc.decode(np.zeros(19))
    with pytest.raises(ValueError, match='non-finite'):
        proc.decode(np.full(20, np.inf))
