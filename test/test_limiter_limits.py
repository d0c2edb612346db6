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

"""joint_limits parameters with ros2_control's names and semantics, over the hand profile."""
from hand_control.hand_profile import load_hand_profile
from hand_control.limits import (JointLimitsError, load_joint_limits_file, merge_joint_limits,
                                 parse_joint_limits_params)
import pytest
import yaml

PROFILE = load_hand_profile('shadow')
FFJ3 = PROFILE.joint_names.index('rh_FFJ3')


def parse(params, **kwargs):
    limits, notes = parse_joint_limits_params(params, PROFILE, **kwargs)
    return limits, notes


def test_without_parameters_the_profile_limits_apply_to_every_joint():
    limits, notes = parse({})
    assert set(limits) == set(PROFILE.joint_names) and notes == []
    j = limits['rh_FFJ3']
    assert (j.min_position, j.max_position) == (PROFILE.lower[FFJ3], PROFILE.upper[FFJ3])
    assert (j.soft_lower, j.soft_upper) == (j.min_position, j.max_position)
    assert j.max_velocity == 2.0 and j.max_acceleration == 40.0
    assert limits['rh_WRJ1'].max_velocity == 1.0          # per-joint value of the profile


def test_a_value_counts_only_with_its_flag_set():
    limits, _ = parse({
        'rh_FFJ3.max_velocity': 0.5,                                 # no flag
        'rh_FFJ2.has_velocity_limits': True,                         # flag, no value
        'rh_MFJ3.has_velocity_limits': False, 'rh_MFJ3.max_velocity': 0.5,   # flag false
        'rh_RFJ3.has_velocity_limits': True, 'rh_RFJ3.max_velocity': 0.5,
    })
    assert limits['rh_FFJ3'].max_velocity == 2.0
    assert limits['rh_FFJ2'].max_velocity == 2.0
    assert limits['rh_MFJ3'].max_velocity == 2.0      # false never removes a limit
    assert limits['rh_RFJ3'].max_velocity == 0.5
    assert limits['rh_RFJ3'].overridden == ('max_velocity',)


@pytest.mark.parametrize('params', [
    {'joint_limits.rh_FFJ3.has_position_limits': True,
     'joint_limits.rh_FFJ3.min_position': 0.2, 'joint_limits.rh_FFJ3.max_position': 1.2},
    {'rh_FFJ3.has_position_limits': True, 'rh_FFJ3.min_position': 0.2,
     'rh_FFJ3.max_position': 1.2},
    {'rh_FFJ3': {'has_position_limits': True, 'min_position': 0.2, 'max_position': 1.2}},
    {'joint_limits': {'rh_FFJ3': {'has_position_limits': True, 'min_position': 0.2,
                                  'max_position': 1.2}}},
])
def test_flat_and_nested_forms_are_the_same(params):
    limits, _ = parse(params)
    assert (limits['rh_FFJ3'].min_position, limits['rh_FFJ3'].max_position) == (0.2, 1.2)


def test_velocity_acceleration_deceleration_and_soft_limits():
    limits, _ = parse(allow_faster_than_profile=True, params={'rh_THJ1': {
        'has_velocity_limits': True, 'max_velocity': 3,                 # integers are fine
        'has_acceleration_limits': True, 'max_acceleration': 30.0,
        'has_deceleration_limits': True, 'max_deceleration': 20.0,
        'has_jerk_limits': True, 'max_jerk': 100.0, 'has_effort_limits': True,
        'max_effort': 1.0, 'angle_wraparound': False,
        'has_soft_limits': True, 'soft_lower_limit': -1.0, 'soft_upper_limit': 0.5,
        'k_position': 10.0, 'k_velocity': 1.0}})
    j = limits['rh_THJ1']
    assert j.max_velocity == 3.0
    assert j.max_acceleration == 20.0               # one limit for both: the tighter
    assert (j.soft_lower, j.soft_upper) == (-1.0, 0.0)   # soft upper clipped to the hard 0.0


@pytest.mark.parametrize('params, message', [
    ({'rh_FFJ3.max_velcity': 1.0}, r'joint_limits\.rh_FFJ3\.max_velcity: unknown key'),
    ({'rh_FFJ3.has_velocity_limits': 'yes'}, r'rh_FFJ3\.has_velocity_limits: expected true'),
    ({'rh_FFJ3.max_velocity': float('nan')}, r'rh_FFJ3\.max_velocity: expected a finite'),
    ({'rh_FFJ3.max_velocity': True}, r'rh_FFJ3\.max_velocity: expected a finite'),
    ({'rh_FFJ3': {'has_velocity_limits': True, 'max_velocity': 0.0}},
     r'rh_FFJ3\.max_velocity: must be > 0'),
    ({'rh_FFJ3': {'has_position_limits': True, 'min_position': 1.0, 'max_position': 0.5}},
     r'rh_FFJ3: min_position \(1\.0\) must be below max_position'),
    ({'rh_FFJ3': {'has_position_limits': True, 'min_position': -0.5}},
     r'rh_FFJ3\.min_position: -0\.5 is below the hand profile'),
    ({'rh_FFJ3': {'has_position_limits': True, 'max_position': 2.0}},
     r'rh_FFJ3\.max_position: 2\.0 is above the hand profile'),
    # A typo (100 for 1.00) must not silently run a joint 50 times faster than the profile.
    ({'rh_FFJ3': {'has_velocity_limits': True, 'max_velocity': 100}},
     r"rh_FFJ3\.max_velocity: 100\.0 is above the hand profile's 2\.0 .*allow_faster_than"),
    ({'rh_FFJ3': {'has_acceleration_limits': True, 'max_acceleration': 41.0}},
     r"rh_FFJ3\.max_acceleration: 41\.0 is above the hand profile's 40\.0"),
    ({'rh_FFJ3': {'has_soft_limits': True, 'soft_lower_limit': 1.2, 'soft_upper_limit': 0.4}},
     r'rh_FFJ3: soft limits leave no room'),
    ({'rh_FFJ3.angle_wraparound': True}, r'rh_FFJ3\.angle_wraparound'),
    ({'ra_shoulder_pan.has_velocity_limits': True}, r'ra_shoulder_pan: no such joint'),
    ({'max_velocity': 1.0}, r'not of the form joint_limits\.<joint>\.<key>'),
    # Finite but absurd: 1e308 rad/s^2 overflowed to inf inside the step (inf * 0 = NaN).
    ({'rh_FFJ3': {'has_acceleration_limits': True, 'max_acceleration': 1e308}},
     r'rh_FFJ3\.max_acceleration: 1e\+308 .*at most 100000'),
    ({'rh_FFJ3': {'has_deceleration_limits': True, 'max_deceleration': 1e200}},
     r'rh_FFJ3\.max_deceleration: .*at most 100000'),
    ({'rh_FFJ3': {'has_velocity_limits': True, 'max_velocity': 1e30}},
     r'rh_FFJ3\.max_velocity: 1e\+30 .*at most 100'),
    ({'rh_FFJ3': {'has_soft_limits': True, 'soft_lower_limit': -1e308,
                  'soft_upper_limit': 1.0}},
     r'rh_FFJ3\.soft_lower_limit: .*at most 6\.28'),
])
def test_errors_name_the_joint_and_the_key(params, message):
    with pytest.raises(JointLimitsError, match=message):
        parse(params)


def test_absurd_position_limits_are_refused_even_when_wider_ones_are_allowed():
    with pytest.raises(JointLimitsError, match=r'rh_FFJ3\.max_position: 1e\+308 .*at most'):
        parse({'rh_FFJ3': {'has_position_limits': True, 'max_position': 1e308}},
              allow_wider_position_limits=True)


def test_wider_position_limits_only_when_explicitly_allowed():
    params = {'rh_FFJ3': {'has_position_limits': True, 'min_position': -0.26,
                          'max_position': 1.6}}
    limits, _ = parse(params, allow_wider_position_limits=True)
    assert (limits['rh_FFJ3'].min_position, limits['rh_FFJ3'].max_position) == (-0.26, 1.6)


def test_faster_limits_only_when_explicitly_allowed():
    params = {'rh_FFJ3': {'has_velocity_limits': True, 'max_velocity': 3.0,
                          'has_acceleration_limits': True, 'max_acceleration': 60.0}}
    limits, _ = parse(params, allow_faster_than_profile=True)
    assert (limits['rh_FFJ3'].max_velocity, limits['rh_FFJ3'].max_acceleration) == (3.0, 60.0)
    # Slower is always fine, and a faster deceleration only tightens nothing.
    limits, _ = parse({'rh_FFJ3': {'has_velocity_limits': True, 'max_velocity': 2.0,
                                   'has_deceleration_limits': True, 'max_deceleration': 80.0}})
    assert (limits['rh_FFJ3'].max_velocity, limits['rh_FFJ3'].max_acceleration) == (2.0, 40.0)


def test_other_robot_joints_can_be_ignored_with_a_note():
    limits, notes = parse({'ra_elbow.has_velocity_limits': True, 'ra_elbow.max_velocity': 1.0},
                          ignore_unknown_joints=True)
    assert 'ra_elbow' not in limits
    assert notes == ["joint_limits.ra_elbow: not a joint of 'shadow_right', ignored"]


def write(tmp_path, data):
    path = tmp_path / 'limits.yaml'
    path.write_text(yaml.safe_dump(data))
    return path


def test_file_with_top_level_joint_limits(tmp_path):
    path = write(tmp_path, {'joint_limits': {'rh_FFJ3': {'has_velocity_limits': True,
                                                         'max_velocity': 1.5}}})
    limits, _ = parse(load_joint_limits_file(path))
    assert limits['rh_FFJ3'].max_velocity == 1.5


def test_file_in_ros_parameter_form_for_any_node(tmp_path):
    path = write(tmp_path, {'/**': {'ros__parameters': {'joint_limits': {
        'rh_FFJ3': {'has_acceleration_limits': True, 'max_acceleration': 10.0}}}}})
    limits, _ = parse(load_joint_limits_file(path))
    assert limits['rh_FFJ3'].max_acceleration == 10.0


@pytest.mark.parametrize('data, message', [
    ({'a': {'ros__parameters': {'joint_limits': {}}},
      'b': {'ros__parameters': {'joint_limits': {}}}}, 'found a.ros__parameters'),
    ({'controller_manager': {'ros__parameters': {'update_rate': 100}}}, 'found none'),
    ({'joint_limits': {'rh_FFJ3': 3}}, r'joint_limits\.rh_FFJ3: expected a mapping'),
])
def test_file_errors_name_the_file(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(JointLimitsError, match=message) as info:
        load_joint_limits_file(path)
    assert str(path) in str(info.value)


def test_later_layers_win_key_by_key():
    merged = merge_joint_limits(
        {'rh_FFJ3': {'has_velocity_limits': True, 'max_velocity': 1.0}},
        {'rh_FFJ3.max_velocity': 0.7, 'rh_MFJ3.has_soft_limits': True})
    assert merged == {'rh_FFJ3': {'has_velocity_limits': True, 'max_velocity': 0.7},
                      'rh_MFJ3': {'has_soft_limits': True}}
