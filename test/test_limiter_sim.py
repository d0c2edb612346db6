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
safety_limiter between a violent raw stream and the simulated hand (sim_bridge), as processes.

One simulator + limiter pair serves the module (starting them costs seconds); the tests run in
order against it: a full-range square wave at a high rate becomes a safe stream at the hand,
malformed commands never reach the simulator, the watchdog holds when commands stop, and the
e-stop latches and releases.
"""
import os
import time

from diagnostic_msgs.msg import DiagnosticArray
from hand_control.hand_profile import load_hand_profile
from inhand import dds_env, graph
from inhand.messages import stamp_to_sec
import numpy as np
import pytest
from ros_harness import node_spec, Probe, running
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool

pytestmark = [pytest.mark.ros, pytest.mark.slow]

PROFILE = load_hand_profile('shadow')
NAMES = list(PROFILE.actuated_joint_names)
ACT = PROFILE.actuated_indices
LOWER = PROFILE.lower[ACT] + 0.01       # the default position window (margin 0.01 rad)
UPPER = PROFILE.upper[ACT] - 0.01
VMAX = PROFILE.max_velocity[ACT]


@pytest.fixture(scope='module')
def graph_running(tmp_path_factory):
    saved = dict(os.environ)
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 3011))
    sim = graph.bringup({'sim': 'true', 'cameras': 'false'})[0]
    assert sim.name == 'sim_bridge'
    limiter = node_spec(
        'safety_limiter', 'hand_control.safety_limiter_node',
        param_files=('safety_limiter.yaml',),
        parameters={'use_sim_time': True,
                    'state_dir': str(tmp_path_factory.mktemp('limiter_state'))},
        remappings=(('cube/pose', 'cube/pose_gt'),))      # ground truth: certain, full speed
    try:
        with running([sim, limiter]) as launcher, Probe() as probe:
            probe.wait_for('/joint_states', JointState, timeout=60)
            yield launcher, probe
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert launcher.exit_code == 0, launcher.output_text()


def square_wave(probe, publisher, seconds, rate=200.0, flip=0.05, extra=None):
    """Publish full-range square waves (beyond the limits) on every joint at rate Hz."""
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < seconds:
        high = int((time.monotonic() - start) / flip) % 2
        goal = PROFILE.upper[ACT] + 0.5 if high else PROFILE.lower[ACT] - 0.5
        publisher.publish(JointState(name=NAMES, position=goal.tolist()))
        if extra is not None:
            extra(k)
        k += 1
        probe.spin(1.0 / rate)


def status(probe, name, predicate=lambda values: True, timeout=15.0):
    """Return the values (and level, message) of the next matching diagnostic status."""
    def values_of(msg):
        for s in msg.status:
            if s.name == name:
                values = {kv.key: kv.value for kv in s.values}
                values['level'] = s.level[0] if isinstance(s.level, bytes) else s.level
                values['message'] = s.message
                return values
        return None

    msg = probe.wait_for('/diagnostics', DiagnosticArray, qos=10, timeout=timeout,
                         predicate=lambda m: (values_of(m) is not None
                                              and predicate(values_of(m))))
    return values_of(msg)


def test_violent_square_wave_reaches_the_hand_as_a_safe_stream(graph_running):
    launcher, probe = graph_running
    raw = probe.publisher('/hand/command_raw', JointState)
    probe.wait_until(lambda: raw.get_subscription_count() > 0, timeout=30,
                     what='the limiter subscribing')
    safe = probe.subscribe('/hand/command', JointState, qos=1000)
    states = probe.subscribe('/joint_states', JointState, qos=1000)
    square_wave(probe, raw, 3.0)
    assert len(safe) > 100, launcher.output_text()
    x = np.array([m.position for m in safe])
    t = np.array([stamp_to_sec(m.header.stamp) for m in safe])
    assert all(list(m.name) == NAMES for m in safe)
    assert np.isfinite(x).all()
    assert (x >= LOWER - 1e-9).all() and (x <= UPPER + 1e-9).all()
    # Velocity between any two received commands (stamped with the limiter's sim time).
    dt = np.diff(t)
    assert (dt >= 0).all()
    step = np.abs(np.diff(x, axis=0))
    assert (step <= VMAX * dt[:, None] + 1e-9).all(), (step / np.maximum(dt, 1e-9)[:, None]
                                                       / VMAX).max()
    # The raw stream flipped over the whole range 60 times; the commands did far less.
    travel = step.sum(axis=0)
    assert (travel < 0.3 * 60 * (UPPER - LOWER)).all()
    # The simulated hand stayed inside its limits.
    q = np.array([m.position for m in states])
    assert (q >= PROFILE.lower - 0.05).all() and (q <= PROFILE.upper + 0.05).all()


def test_malformed_stream_never_reaches_the_simulator(graph_running):
    launcher, probe = graph_running
    raw = probe.publisher('/hand/command_raw', JointState)
    bad = [JointState(name=['rh_FFJ3'], position=[float('nan')]),
           JointState(name=NAMES, position=[float('inf')] * 20),
           JointState(name=['rh_FFJ1'], position=[0.3]),
           JointState(name=['rh_FFJ3', 'rh_NOPE'], position=[0.3, 0.3]),
           JointState(name=['rh_FFJ3', 'rh_MFJ3'], position=[0.3])]
    square_wave(probe, raw, 1.5, extra=lambda k: raw.publish(bad[k % len(bad)]))
    # The command QoS keeps one message: under load some raw ones are overwritten unread.
    limiter = status(probe, 'safety_limiter: state',
                     lambda v: int(v['dropped_malformed']) >= 10)
    for reason in ('non_finite', 'unknown_joint', 'length_mismatch'):
        assert int(limiter[f'dropped_{reason}']) > 0
    sim = status(probe, 'sim_bridge: simulation',
                 lambda v: int(v['commands_accepted']) > 10)
    assert sim['commands_rejected'] == '0'


def test_watchdog_holds_when_commands_stop(graph_running):
    launcher, probe = graph_running
    raw = probe.publisher('/hand/command_raw', JointState)
    safe = probe.subscribe('/hand/command', JointState, qos=1000)
    square_wave(probe, raw, 0.5)
    values = status(probe, 'safety_limiter: state', lambda v: v['mode'] == 'hold')
    assert 'command timeout' in values['message'] and values['level'] == 1
    # The targets came to rest and are held (repeated every hold_republish_period); they move
    # only as far as the tracking window drags them when the cube nudges a finger.
    start = len(safe)
    probe.spin(1.0)
    x = np.array([m.position for m in safe[start:]])
    assert len(x) >= 3 and np.ptp(x, axis=0).max() < 0.05, np.ptp(x, axis=0).max()


def test_estop_latches_and_releases(graph_running):
    launcher, probe = graph_running
    raw = probe.publisher('/hand/command_raw', JointState)
    states = probe.subscribe('/joint_states', JointState)
    safe = probe.subscribe('/hand/command', JointState, qos=1000)
    assert probe.call('/safety_limiter/estop', SetBool, SetBool.Request(data=True)).success
    probe.spin(1.5)                        # targets come back to the latched pose and rest
    start, start_safe = len(states), len(safe)
    square_wave(probe, raw, 1.5)           # the policy goes on, violently
    # The targets hold (repeated while holding) and the hand does not follow the wave; the
    # cube in the palm may still nudge a finger, and the tracking window with it.
    x = np.array([m.position for m in safe[start_safe:]])
    assert len(x) >= 5 and np.ptp(x, axis=0).max() < 0.05, np.ptp(x, axis=0).max()
    q = np.array([m.position for m in states[start:]])
    assert len(q) > 20 and np.ptp(q[:, ACT], axis=0).max() < 0.1, 'the hand moved'
    values = status(probe, 'safety_limiter: state', lambda v: v['mode'] == 'estop')
    assert int(values['dropped_estop']) > 50 and values['estop'] == 'True'
    # Only an explicit release clears it; commands ramp in again and the hand moves.
    assert probe.call('/safety_limiter/estop', SetBool, SetBool.Request(data=False)).success
    ffj3 = PROFILE.joint_names.index('rh_FFJ3')
    start = len(states)
    target = (LOWER + UPPER) / 2
    goal = 0.3 if states[-1].position[ffj3] > 0.8 else 1.2     # well away from where it is
    target[NAMES.index('rh_FFJ3')] = goal
    deadline = time.monotonic() + 6.0       # generous: a loaded CI machine runs slow
    while time.monotonic() < deadline:
        raw.publish(JointState(name=NAMES, position=target.tolist()))
        probe.spin(0.01)
        if len(states) > start and abs(states[-1].position[ffj3] - goal) < 0.1:
            break
    q = np.array([m.position for m in states[start:]])
    assert abs(q[-1, ffj3] - goal) < 0.15 and np.ptp(q[:, ffj3]) > 0.3, q[-1, ffj3]
