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
Process level: sim_bridge + policy_runner + goal_manager (+ safety_limiter) with ground truth.

The graph runs as separate processes on sim time, the cube pose from /cube/pose_gt. Checks:
commands flow at the spec's rate (in sim time) and reach the hand, goals advance, episode
results are published and written to the results file, and every node stops cleanly.
The demo policy cannot reorient the cube, so goal_manager runs with a success threshold above
pi (every pose counts) and a hold time: goals then advance every hold time, which exercises
the whole goal path on a predictable schedule.
"""
import importlib.util
import json
import os

from geometry_msgs.msg import PoseStamped
from hand_control.hand_profile import load_hand_profile
from inhand import dds_env, graph
from inhand.messages import msg_to_pose, stamp_to_sec
from inhand.qos import LATCHED
from inhand.transforms import rotation_between
import numpy as np
from policy_node.goal_manager_node import RESULTS_QOS
from policy_node.goals import read_jsonl
import pytest
from ros_harness import node_spec, Probe, running
from sensor_msgs.msg import JointState
from std_msgs.msg import Int32, String
from std_srvs.srv import Trigger

pytestmark = [pytest.mark.ros, pytest.mark.slow]

LIMITER_MODULE = 'hand_control.safety_limiter_node'
HAS_LIMITER = importlib.util.find_spec(LIMITER_MODULE) is not None
GROUND_TRUTH = (('/cube/pose', '/cube/pose_gt'),)
# Without the limiter the runner's output goes straight to the hand.
RUNNER_OUTPUT = '/hand/command_raw' if HAS_LIMITER else '/hand/command'


def policy_graph(results_file):
    sim = graph.bringup({'sim': 'true', 'cameras': 'false'})[0]
    assert sim.name == 'sim_bridge'
    runner_output = () if HAS_LIMITER else (('/hand/command_raw', RUNNER_OUTPUT),)
    nodes = [
        sim,
        node_spec('policy_runner', 'policy_node.policy_runner_node',
                  parameters={'use_sim_time': True, 'initial_mode': 'run'},
                  remappings=GROUND_TRUTH + runner_output),
        node_spec('goal_manager', 'policy_node.goal_manager_node',
                  parameters={'use_sim_time': True, 'results_file': str(results_file),
                              'success_threshold': 3.2, 'hold_time': 0.5,
                              'max_successes': 3, 'restart_delay': 0.5},
                  remappings=GROUND_TRUTH),
    ]
    if HAS_LIMITER:
        nodes.append(node_spec('safety_limiter', LIMITER_MODULE,
                               parameters={'use_sim_time': True},
                               param_files=('safety_limiter.yaml',),
                               remappings=GROUND_TRUTH))
    return nodes


@pytest.fixture(scope='module')
def policy_graph_running(tmp_path_factory):
    results = tmp_path_factory.mktemp('results') / 'episodes.jsonl'
    saved = dict(os.environ)
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 2003))
    try:
        with running(policy_graph(results)) as launcher:
            with Probe() as probe:
                yield launcher, probe, results
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert launcher.exit_code == 0, launcher.output_text()


def test_commands_flow_at_the_spec_rate_and_reach_the_hand(policy_graph_running):
    launcher, probe, _ = policy_graph_running
    raw = probe.subscribe(RUNNER_OUTPUT, JointState)
    probe.wait_until(lambda: len(raw) >= 41, timeout=90, what='41 raw commands')
    stamps = np.array([stamp_to_sec(m.header.stamp) for m in raw[-41:]])
    period = np.diff(stamps)
    # The timer runs on /clock (200 Hz): each period is 50 ms of sim time, up to one tick.
    assert abs(np.median(period) - 0.05) < 0.006, period
    assert np.mean(period) < 0.06, period
    assert tuple(raw[-1].name) == load_hand_profile('shadow').actuated_joint_names
    # Commands reach the hand's topic (through the limiter when it runs).
    hand = probe.subscribe('/hand/command', JointState)
    probe.wait_until(lambda: len(hand) >= 10, timeout=30, what='commands on /hand/command')
    # The demo gait moves the first finger over its 2 s period: the hand follows.
    states = probe.subscribe('/joint_states', JointState)
    start = len(states)

    def span():
        window = states[start:]
        return len(window) > 1 and stamp_to_sec(window[-1].header.stamp) \
            - stamp_to_sec(window[0].header.stamp) >= 2.0

    probe.wait_until(span, timeout=60, what='2 s of joint states')
    finger = [m.position[list(m.name).index('rh_FFJ3')] for m in states[start:]]
    assert np.ptp(finger) > 0.05, np.ptp(finger)


def test_goals_advance_and_results_are_written(policy_graph_running):
    launcher, probe, results_file = policy_graph_running
    goals = probe.subscribe('/goal/pose', PoseStamped, qos=LATCHED)
    successes = probe.subscribe('/goal/successes', Int32, qos=LATCHED)
    results = probe.subscribe('/goal/results', String, qos=RESULTS_QOS)
    # Live: new goals keep coming (one per hold time, a new episode after three).
    probe.wait_until(lambda: len(goals) >= 4 and any(m.data > 0 for m in successes),
                     timeout=90, what='goals advancing')
    probe.wait_until(lambda: results, timeout=90, what='an episode result')
    record = json.loads(results[0].data)
    assert record['reason'] == 'max_successes' and record['successes'] == 3
    # Three goals reached, one per hold time (0.5 s of sim time), each >= 90 degrees apart.
    assert len(record['goals_wxyz']) == 3
    for a, b in zip(record['goals_wxyz'][:-1], record['goals_wxyz'][1:]):
        assert rotation_between(np.array(a), np.array(b)) >= np.pi / 2 - 1e-6
    assert all(t >= 0.5 - 1e-6 for t in record['time_to_goal_s'])
    probe.wait_until(lambda: results_file.exists() and len(read_jsonl(results_file)) > 1,
                     timeout=30, what='the results file')
    written = {r['episode']: r for r in read_jsonl(results_file)}
    assert written[record['episode']] == record
    assert sorted(written) == list(range(len(written)))      # every episode, in order
    _, quat = msg_to_pose(goals[-1].pose)
    assert abs(np.linalg.norm(quat) - 1.0) < 1e-6 and goals[-1].header.frame_id == 'world'


def test_mode_service_stops_the_commands(policy_graph_running):
    launcher, probe, _ = policy_graph_running
    assert probe.call('/policy_runner/idle', Trigger).success
    raw = probe.subscribe(RUNNER_OUTPUT, JointState)
    probe.spin(1.0)
    count = len(raw)
    probe.spin(1.0)
    assert len(raw) == count
    assert probe.call('/policy_runner/run', Trigger).success
    probe.wait_until(lambda: len(raw) > count + 5, timeout=30, what='commands again')
