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
safety_limiter as a process, against a fake hand in the test process (no simulator).

A Probe publishes /joint_states at 100 Hz (the hand holds still at mid-range) and raw commands;
the tests observe /hand/command, /diagnostics and the services over DDS. The simulator-backed
tests are in test_limiter_sim.py.
"""
import json
import math
import os
import time

from diagnostic_msgs.msg import DiagnosticArray
from hand_control.hand_profile import load_hand_profile
from inhand.messages import stamp_to_sec
import numpy as np
import pytest
from ros_harness import node_spec, Probe, running, start_with_parameters
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool, Trigger

pytestmark = pytest.mark.ros

MODULE = 'hand_control.safety_limiter_node'
PROFILE = load_hand_profile('shadow')
NAMES = list(PROFILE.actuated_joint_names)
ACT = PROFILE.actuated_indices
MID = (PROFILE.lower + PROFILE.upper) / 2
FFJ3 = NAMES.index('rh_FFJ3')


def window(x):
    """Project actuated targets into the default position window: 0.01 rad margin."""
    return np.clip(x, PROFILE.lower[ACT] + 0.01, PROFILE.upper[ACT] - 0.01)


def limiter_spec(tmp_path, **parameters):
    base = {'state_dir': str(tmp_path), 'uncertainty': {'enabled': False},
            'joint_limits': {'rh_FFJ3': {'has_velocity_limits': True, 'max_velocity': 0.5}}}
    base.update(parameters)
    return node_spec('safety_limiter', MODULE, parameters=base,
                     param_files=('safety_limiter.yaml',))


class FakeHand:
    """Publish /joint_states at 100 Hz from the probe (while the probe spins)."""

    def __init__(self, probe, pose=MID):
        self.pose = np.array(pose, dtype=float)
        self.enabled = True
        self.publisher = probe.publisher('/joint_states', JointState)
        probe.node.create_timer(0.01, self._publish)
        self.probe = probe

    def _publish(self):
        if self.enabled:
            msg = JointState(name=list(PROFILE.joint_names), position=self.pose.tolist())
            msg.header.stamp = self.probe.node.get_clock().now().to_msg()
            self.publisher.publish(msg)


def diagnostics_of(probe, predicate=None, timeout=10.0):
    """Return the next safety_limiter state status (as a dict) that satisfies predicate."""
    def match(msg):
        for status in msg.status:
            if status.name == 'safety_limiter: state':
                values = {kv.key: kv.value for kv in status.values}
                values['level'] = status.level[0] if isinstance(status.level, bytes) \
                    else status.level
                values['message'] = status.message
                return predicate is None or predicate(values)
        return False
    msg = probe.wait_for('/diagnostics', DiagnosticArray, timeout=timeout, predicate=match,
                         qos=10)
    status = next(s for s in msg.status if s.name == 'safety_limiter: state')
    values = {kv.key: kv.value for kv in status.values}
    values['level'] = status.level[0] if isinstance(status.level, bytes) else status.level
    values['message'] = status.message
    return values


def send(probe, publisher, names, positions, seconds, rate=50.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        msg = JointState(name=list(names), position=[float(p) for p in positions])
        msg.header.stamp = probe.node.get_clock().now().to_msg()
        publisher.publish(msg)
        probe.spin(1.0 / rate)


@pytest.fixture(scope='module')
def node(tmp_path_factory):
    from inhand import dds_env
    saved = dict(os.environ)
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 3001))
    state = tmp_path_factory.mktemp('limiter_state')
    try:
        with running([limiter_spec(state)]) as launcher, Probe() as probe:
            hand = FakeHand(probe)
            raw = probe.publisher('/hand/command_raw', JointState)
            safe = probe.subscribe('/hand/command', JointState, qos=100)
            yield launcher, probe, hand, raw, safe, state
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert launcher.exit_code == 0, launcher.output_text()


def test_commands_are_limited_and_forwarded(node):
    launcher, probe, hand, raw, safe, _ = node
    target = MID[ACT].copy()
    target[FFJ3] = 10.0                        # far beyond the joint's range
    probe.wait_until(lambda: raw.get_subscription_count() > 0, timeout=20,
                     what='the limiter subscribing')
    start = len(safe)
    send(probe, raw, NAMES, target, 1.5)
    out = safe[start:]
    assert len(out) > 30
    assert all(list(m.name) == NAMES and len(m.position) == 20 for m in out)
    x = np.array([m.position for m in out])
    t = np.array([stamp_to_sec(m.header.stamp) for m in out])
    window_hi = PROFILE.upper[ACT] - 0.01
    assert (x <= window_hi + 1e-9).all()
    # The joint_limits parameter slowed FFJ3 to 0.5 rad/s (the profile says 2.0).
    speed = np.abs(np.diff(x[:, FFJ3])) / np.maximum(np.diff(t), 1e-9)
    assert speed.max() <= 0.5 + 1e-6 and speed.max() > 0.4
    # It stops within max_tracking_error of the measured (still) hand.
    assert x[-1, FFJ3] == pytest.approx(MID[ACT][FFJ3] + 0.4, abs=1e-6)


def test_malformed_commands_are_dropped_counted_and_warned(node):
    launcher, probe, hand, raw, safe, _ = node
    bad = [JointState(name=['rh_FFJ3'], position=[math.nan]),
           JointState(name=['rh_FFJ1'], position=[0.2]),
           JointState(name=['rh_FFJ3', 'rh_MFJ3'], position=[0.2])]
    start = len(safe)
    for msg in bad:
        raw.publish(msg)
        probe.spin(0.05)
    probe.spin(0.3)
    assert len(safe) == start or all(np.isfinite(m.position).all() for m in safe[start:])
    values = diagnostics_of(probe, lambda v: int(v['dropped_malformed']) >= 3)
    assert int(values['dropped_non_finite']) >= 1
    assert int(values['dropped_unknown_joint']) >= 1
    assert int(values['dropped_length_mismatch']) >= 1
    probe.wait_until(lambda: 'dropped a hand/command_raw message' in launcher.output_text(),
                     timeout=5, what='the warning')


def test_command_timeout_holds(node):
    launcher, probe, hand, raw, safe, _ = node
    probe.spin(0.5)                            # no commands for longer than the timeout
    values = diagnostics_of(probe, lambda v: 'command timeout' in v['message'], timeout=20.0)
    assert values['level'] == 1 and values['mode'] == 'hold'
    held = safe[-3:]
    assert len({tuple(m.position) for m in held}) == 1    # the same target, republished


def test_estop_latches_and_only_release_clears_it(node):
    launcher, probe, hand, raw, safe, _ = node
    response = probe.call('/safety_limiter/estop', SetBool, SetBool.Request(data=True))
    assert response.success and 'latched' in response.message
    start = len(safe)
    low = MID[ACT] - 0.3
    send(probe, raw, NAMES, low, 1.0)
    values = diagnostics_of(probe, lambda v: v['mode'] == 'estop')
    assert int(values['dropped_estop']) > 10
    probe.spin(1.0)      # FFJ3 returns from 0.4 rad ahead at its 0.5 rad/s limit
    x = np.array([m.position for m in safe[start:]])
    # Holding the measured pose (the still hand), whatever the policy asks.
    np.testing.assert_allclose(x[-1], window(MID[ACT]), atol=1e-6)
    response = probe.call('/safety_limiter/estop', SetBool, SetBool.Request(data=False))
    assert response.success and 'released' in response.message
    start = len(safe)
    send(probe, raw, NAMES, low, 1.5)
    x = np.array([m.position for m in safe[start:]])
    np.testing.assert_allclose(x[-1], window(low), atol=1e-6)   # the ramp-in got there
    assert probe.call('/safety_limiter/reset_fault', Trigger).success   # no fault: fine


def test_stale_joint_states_stop_commanding(node):
    launcher, probe, hand, raw, safe, _ = node
    hand.enabled = False
    probe.spin(0.5)
    start = len(safe)
    send(probe, raw, NAMES, MID[ACT], 0.5)
    assert len(safe) == start, 'commands went out without joint states'
    values = diagnostics_of(probe, lambda v: v['mode'] == 'stale')
    assert values['level'] == 2
    hand.enabled = True
    probe.spin(0.3)
    send(probe, raw, NAMES, MID[ACT], 0.5)
    assert len(safe) > start


def test_odometer_is_saved_and_read_back(tmp_path, fresh_domain):
    path = tmp_path / 'wear_odometer_shadow_right.json'
    target = MID[ACT].copy()
    target[FFJ3] += 0.3
    with running([limiter_spec(tmp_path, odometer_save_period=0.5)]) as first, \
            Probe() as probe:
        FakeHand(probe)
        raw = probe.publisher('/hand/command_raw', JointState)
        probe.wait_until(lambda: raw.get_subscription_count() > 0, timeout=20,
                         what='the limiter subscribing')
        send(probe, raw, NAMES, target, 1.5)

        def saved_travel():
            if not path.exists():
                return 0.0
            return json.loads(path.read_text())['joints']['rh_FFJ3']['travel_rad']
        probe.wait_until(lambda: saved_travel() > 0.29, timeout=10, what='a saved odometer')
    assert first.exit_code == 0, first.output_text()
    travel = saved_travel()
    assert travel == pytest.approx(0.3, abs=1e-6)
    # A new limiter on the same state folder carries the totals on.
    with running([limiter_spec(tmp_path)]) as second, Probe() as probe:
        msg = probe.wait_for('/diagnostics', DiagnosticArray, qos=10, timeout=20,
                             predicate=lambda m: any(s.name == 'safety_limiter: joints'
                                                     for s in m.status))
        joints = next(s for s in msg.status if s.name == 'safety_limiter: joints')
        values = {kv.key: kv.value for kv in joints.values}
        assert float(values['rh_FFJ3.odometer_travel_rad']) == pytest.approx(travel, rel=1e-3)
    assert second.exit_code == 0, second.output_text()


def test_float64_multi_array_in_the_controller_order(tmp_path, fresh_domain):
    order = list(reversed(NAMES))
    spec = limiter_spec(tmp_path, output_type='float64_multi_array',
                        output_joint_order=order)
    with running([spec]) as launcher, Probe() as probe:
        FakeHand(probe)
        raw = probe.publisher('/hand/command_raw', JointState)
        out = probe.subscribe('/forward_position_controller/commands', Float64MultiArray,
                              qos=100)
        probe.wait_until(lambda: raw.get_subscription_count() > 0, timeout=20,
                         what='the limiter subscribing')
        send(probe, raw, ['rh_THJ1'], [-0.5], 1.0)
        probe.wait_until(lambda: len(out) > 5, timeout=10, what='arrays')
        data = np.array(out[-1].data)
        assert data.shape == (20,)
        assert data[0] == pytest.approx(-0.5, abs=1e-6)        # rh_THJ1 comes first
        np.testing.assert_allclose(data[1:], window(MID[ACT])[::-1][1:])
    assert launcher.exit_code == 0, launcher.output_text()


@pytest.mark.parametrize('argument, message', [
    ('joint_limits.ra_elbow.has_velocity_limits:=true', 'ra_elbow: no such joint'),
    ('joint_limits.rh_FFJ3.max_velcity:=1.0', 'rh_FFJ3.max_velcity: unknown key'),
    ('output_type:=trajectory', 'output_type'),
    ('joint_limits.rh_FFJ3.has_velocity_limits:=true joint_limits.rh_FFJ3.max_velocity:=100.0',
     "rh_FFJ3.max_velocity: 100.0 is above the hand profile's 2.0"),
])
def test_configuration_errors_exit_with_code_2_and_say_why(fresh_domain, argument, message):
    result = start_with_parameters(MODULE, argument.split(), dict(os.environ), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr


def test_parameters_are_read_only_so_a_runtime_set_is_refused(tmp_path, fresh_domain):
    # The core is built once from the parameters: a set that "succeeds" and changes nothing
    # (ros2 param set ... max_velocity 0.2) would mislead an operator. In process, own context.
    import rclpy
    from rclpy.context import Context
    from rclpy.exceptions import ParameterNotDeclaredException
    from rclpy.parameter import Parameter
    from hand_control.safety_limiter_node import SafetyLimiterNode
    context = Context()
    rclpy.init(context=context, args=[])
    node = None
    try:
        node = SafetyLimiterNode(context=context, parameter_overrides=[
            Parameter('state_dir', value=str(tmp_path)),
            Parameter('joint_limits.rh_FFJ3.has_velocity_limits', value=True),
            Parameter('joint_limits.rh_FFJ3.max_velocity', value=0.5)])
        names = node.list_parameters([], 0).names
        assert {'joint_limits.rh_FFJ3.max_velocity', 'position_margin', 'wear.enabled'} \
            <= set(names)
        writable = [d.name for d in node.describe_parameters(names)
                    if not d.read_only and d.name != 'use_sim_time']
        assert writable == []
        for name, value in [('joint_limits.rh_FFJ3.max_velocity', 0.2),
                            ('position_margin', 0.05), ('uncertainty.enabled', False)]:
            result = node.set_parameters([Parameter(name, value=value)])[0]
            assert not result.successful, name
        with pytest.raises(ParameterNotDeclaredException):      # not given at start
            node.set_parameters([Parameter('joint_limits.rh_MFJ3.max_velocity', value=0.2)])
        assert node.get_parameter('joint_limits.rh_FFJ3.max_velocity').value == 0.5
        assert node.core.max_velocity[FFJ3] == 0.5
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.shutdown(context=context)


def test_the_documented_command_qos_is_the_one_in_use():
    import pathlib
    import re
    from inhand import qos
    doc = (pathlib.Path(__file__).resolve().parent.parent / 'docs' / 'safety_limiter.md')
    row = next(line for line in doc.read_text().splitlines()
               if line.startswith('| `hand/command_raw`'))
    depth = int(re.search(r'keep last (\d+)', row).group(1))
    assert depth == qos.COMMAND.depth
    assert 'reliable' in row and qos.COMMAND.reliability.name == 'RELIABLE'
