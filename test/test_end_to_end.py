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
The whole bringup graph on the simulator, started through the project launcher.

Ground-truth pose: commands flow policy -> limiter -> sim at the spec rate, goals are
published and advance, episodes end and are written to the results file. Vision pose: the same
loop runs on the cube_pose estimate, which tracks the ground truth, and everything the rviz
config shows is there: its topics are published and the TF tree holds every link of the hand
and of its commanded ghost.
"""
import dataclasses
import json
import os
import xml.etree.ElementTree as ElementTree

from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from inhand import dds_env, graph
from inhand.paths import share_dir
from inhand.qos import LATCHED, TF, TF_STATIC_SUB
import numpy as np
import pytest
from ros_harness import Probe, running
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray
import yaml

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def stamp(msg):
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def with_parameters(specs, name, **parameters):
    return [dataclasses.replace(s, parameters={**s.parameters, **parameters})
            if s.name == name else s for s in specs]


@pytest.fixture
def isolated():
    saved = dict(os.environ)
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 2003))
    yield
    os.environ.clear()
    os.environ.update(saved)


def rviz_topics():
    """Every topic a display of rviz/inhand.rviz subscribes to."""
    config = yaml.safe_load((share_dir() / 'rviz' / 'inhand.rviz').read_text())
    displays = config['Visualization Manager']['Displays']
    topics = set()
    for display in displays:
        for key in ('Topic', 'Description Topic'):
            if isinstance(display.get(key), dict):
                topics.add(display[key]['Value'])
    return topics


def unreachable_frames(tf_messages, frames, root='world'):
    """Return the frames that no chain of the received transforms connects to root."""
    parent = {t.child_frame_id: t.header.frame_id for m in tf_messages for t in m.transforms}
    missing = []
    for frame in frames:
        seen = set()
        while frame in parent and frame not in seen:
            seen.add(frame)
            frame = parent[frame]
        if frame != root:
            missing.append(frame)
    return missing


def assert_valid_marker(marker):
    """Assert what rviz needs to draw a marker: a frame, a unit quaternion, finite values."""
    q = marker.pose.orientation
    assert marker.header.frame_id, marker.ns
    assert abs(np.linalg.norm([q.x, q.y, q.z, q.w]) - 1.0) < 1e-6, marker.ns
    assert all(np.isfinite([marker.scale.x, marker.scale.y, marker.scale.z])), marker.ns
    points = np.array([[p.x, p.y, p.z] for p in marker.points]).reshape(-1, 3)
    assert np.all(np.isfinite(points)), marker.ns
    if marker.type == Marker.TRIANGLE_LIST:
        assert len(points) and len(points) % 3 == 0 and len(marker.colors) == len(points)
    elif marker.type == Marker.LINE_LIST:
        assert len(points) and len(points) % 2 == 0 and marker.scale.x > 0
    elif marker.type == Marker.TEXT_VIEW_FACING:
        assert marker.text and marker.scale.z > 0
    else:
        assert marker.type == Marker.SPHERE and min(marker.scale.x, marker.scale.y,
                                                    marker.scale.z) > 0


def median_interval(messages):
    """Return the median time between consecutive stamps (s)."""
    return float(np.median(np.diff(sorted(stamp(m) for m in messages))))


def test_ground_truth_loop(isolated, tmp_path):
    results = tmp_path / 'episodes.jsonl'
    specs = graph.bringup({'sim': 'true', 'cameras': 'false', 'results_file': str(results)})
    # No rviz: no visualization helpers (hand_description, scene_markers) spend the CPU.
    assert [s.name for s in specs] == ['sim_bridge', 'safety_limiter', 'goal_manager',
                                       'policy_runner']
    # Short goals and a low success cap, so that the first episode ends within the test whether
    # the shipped policy reaches its goals (the cap) or not (a goal timeout, a drop).
    specs = with_parameters(specs, 'goal_manager', goal_timeout=3.0, restart_delay=0.5,
                            max_successes=3)
    specs = with_parameters(specs, 'safety_limiter', state_dir=str(tmp_path))
    with running(specs) as launcher, Probe() as probe:
        raw = probe.subscribe('/hand/command_raw', JointState)
        safe = probe.subscribe('/hand/command', JointState)
        goals = probe.subscribe('/goal/pose', PoseStamped, qos=LATCHED)
        probe.wait_until(lambda: len(raw) > 40 and len(safe) > 40, timeout=90,
                         what='commands through policy_runner and safety_limiter')
        # The spec's rate (inhand_yaw: 20 Hz), measured in sim time from the stamps: the
        # median interval, since a process starved of CPU for a moment (the graph starting up
        # on 2 cores) sees /clock jump and its sim-time timer skips a tick, as rcl's do.
        assert median_interval(raw[-30:]) == pytest.approx(1 / 20.0, rel=0.15)
        profile_names = set(safe[-1].name)
        assert len(profile_names) == 20 and 'rh_FFJ1' not in profile_names
        assert all(np.all(np.isfinite(m.position)) for m in safe)
        probe.wait_until(lambda: results.exists() and results.read_text().count('\n') >= 1,
                         timeout=90, what='an episode result in the results file')
        probe.wait_until(lambda: len({(g.pose.orientation.x, g.pose.orientation.w)
                                      for g in goals}) >= 2, timeout=60,
                         what='a second goal')
    assert launcher.exit_code == 0, launcher.output_text()
    record = json.loads(results.read_text().splitlines()[0])
    # The first episode ends at the cap of 3 successes, on a 3 s goal timeout or on a drop, and
    # lists the goals it was given: one per success, plus the one it was chasing if it ended
    # short of the cap.
    assert record['episode'] == 0
    assert record['reason'] in ('max_successes', 'goal_timeout', 'drop', 'pose_lost'), record
    assert record['success_threshold'] == 0.4
    capped = record['reason'] == 'max_successes'
    assert (record['successes'] == 3) if capped else (record['successes'] < 3), record
    assert len(record['goals_wxyz']) == record['successes'] + (0 if capped else 1), record
    assert all(len(goal) == 4 for goal in record['goals_wxyz'])


def test_leap_hand_loop(isolated, tmp_path):
    # Another hand by configuration alone: hand:=leap brings its scene, demo policy and limiter
    # file, and the same nodes run it unchanged.
    from hand_control.hand_profile import load_hand_profile
    profile = load_hand_profile('leap')
    specs = graph.bringup({'hand': 'leap', 'cameras': 'false', 'results_file': 'none'})
    specs = with_parameters(specs, 'safety_limiter', state_dir=str(tmp_path))
    with running(specs) as launcher, Probe() as probe:
        joints = probe.subscribe('/joint_states', JointState)
        safe = probe.subscribe('/hand/command', JointState)
        # More than one 2 s period of the demo wave (the limiter sends ~100 commands/s), so
        # that the fingers have moved whatever phase the run started in.
        probe.wait_until(lambda: len(safe) > 300 and len(joints) > 40, timeout=120,
                         what='LEAP joint states and 3 s of limited commands')
    assert launcher.exit_code == 0, launcher.output_text()
    assert list(joints[-1].name) == list(profile.joint_names)
    assert set(safe[-1].name) == {str(i) for i in range(16)}
    order = [profile.index(n) for n in safe[-1].name]
    for msg in safe[-20:]:
        position = np.asarray(msg.position)
        assert np.all(position >= profile.lower[order])
        assert np.all(position <= profile.upper[order])
    # The demo waves the fingers: the commands move.
    spread = np.ptp([np.asarray(m.position)[order.index(profile.index('1'))] for m in safe],
                    axis=0)
    assert spread > 0.05


def test_vision_loop(isolated, tmp_path):
    # rviz:=true as a lab would run it: the pip launcher starts no rviz, but the graph then
    # publishes everything the rviz config shows (the detection images too).
    specs = graph.bringup({'sim': 'true', 'pose_source': 'vision', 'real_time_factor': '0.5',
                           'results_file': '', 'rviz': 'true'})
    specs = with_parameters(specs, 'safety_limiter', state_dir=str(tmp_path))
    names = [s.name for s in specs]
    assert 'cube_pose' in names
    consumers = [s for s in specs if s.name in ('policy_runner', 'goal_manager',
                                                'safety_limiter')]
    assert all(not s.remappings for s in consumers), 'vision mode must not read ground truth'
    with running(specs) as launcher, Probe() as probe:
        estimates = probe.subscribe('/cube/pose', PoseWithCovarianceStamped)
        truth = probe.subscribe('/cube/pose_gt', PoseWithCovarianceStamped)
        safe = probe.subscribe('/hand/command', JointState)
        # Ground truth as well: each subscription is matched on its own, in no set order.
        probe.wait_until(lambda: len(estimates) > 10 and len(safe) > 20 and len(truth) > 20,
                         timeout=120, what='vision estimates, ground truth and limited commands')
        by_stamp = {stamp(m): m for m in truth}
        errors = []
        for estimate in estimates[-10:]:
            match = min(by_stamp, key=lambda t: abs(t - stamp(estimate)))
            if abs(match - stamp(estimate)) < 0.011:
                p, q = estimate.pose.pose.position, by_stamp[match].pose.pose.position
                errors.append(np.linalg.norm([p.x - q.x, p.y - q.y, p.z - q.z]))
        assert errors and np.median(errors) < 0.01, errors
        # What rviz shows: every topic of its config has a publisher in this graph.
        topics = rviz_topics()
        assert {'/robot_description', '/cube/pose', '/goal/pose'} <= topics
        probe.wait_until(lambda: all(probe.node.count_publishers(t) for t in topics),
                         timeout=30, what=f'publishers of {sorted(topics)}')
        # The TF tree: every link of the URDF, measured and commanded, reaches world.
        urdf = probe.wait_for('/robot_description', String, qos=LATCHED)
        links = [link.get('name') for link in ElementTree.fromstring(urdf.data).iter('link')]
        frames = links + ['commanded/' + link for link in links if link != 'world']
        tf = probe.subscribe('/tf', TFMessage, qos=TF)
        tf_static = probe.subscribe('/tf_static', TFMessage, qos=TF_STATIC_SUB)
        try:
            probe.wait_until(lambda: not unreachable_frames(tf_static + tf, frames),
                             timeout=30, what='a complete TF tree')
        except TimeoutError:
            pytest.fail(f'TF frames not connected to world: '
                        f'{unreachable_frames(tf_static + tf, frames)}')
        # The markers: every kind present, valid, in frames the TF tree has.
        namespaces = {'cube_estimate', 'cube_truth', 'goal', 'camera_frusta', 'limiter',
                      'joints'}
        markers = probe.wait_for('/inhand/markers', MarkerArray, qos=10, timeout=30,
                                 predicate=lambda m: namespaces <= {k.ns for k in m.markers})
        assert sum(m.ns == 'camera_frusta' for m in markers.markers) == 3
        assert sum(m.ns == 'joints' for m in markers.markers) == 20
        for marker in markers.markers:
            assert_valid_marker(marker)
        assert not unreachable_frames(tf_static + tf, {m.header.frame_id
                                                       for m in markers.markers})
    assert launcher.exit_code == 0, launcher.output_text()


def _limiter_states(diagnostics):
    return [(s.level[0] if isinstance(s.level, bytes) else s.level, s.message,
             {kv.key: kv.value for kv in s.values})
            for msg in diagnostics for s in msg.status if s.name == 'safety_limiter: state']


def test_the_limiter_outlives_a_dead_policy_and_the_graph_ends_with_the_limiter(
        isolated, tmp_path):
    import signal
    import time
    from diagnostic_msgs.msg import DiagnosticArray
    specs = graph.bringup({'sim': 'true', 'cameras': 'false',
                           'results_file': str(tmp_path / 'episodes.jsonl')})
    specs = with_parameters(specs, 'safety_limiter', state_dir=str(tmp_path))
    specs = [dataclasses.replace(s, respawn_delay=1.0) if s.name == 'policy_runner' else s
             for s in specs]
    with running(specs) as launcher, Probe() as probe:
        raw = probe.subscribe('/hand/command_raw', JointState)
        safe = probe.subscribe('/hand/command', JointState)
        diagnostics = probe.subscribe('/diagnostics', DiagnosticArray, qos=50)
        probe.wait_until(lambda: len(raw) > 30 and len(safe) > 30, timeout=90,
                         what='commands through the limiter')
        node = {n.spec.name: n for n in launcher.nodes}
        node['policy_runner'].signal(signal.SIGKILL)
        assert not launcher.check()                    # the graph does not stop for it
        probe.spin(1.0)
        # The limiter holds: after the last raw command + command_timeout (0.25 s) + one
        # watchdog period, every safe output repeats the same target; it keeps publishing.
        # (0.1 s of margin: a loaded machine may hand the limiter the last command late; and
        # waiting for sim time, not wall time: a loaded machine runs the simulator slower.)
        last_raw = max(stamp(m) for m in raw)

        def held():
            return [m for m in safe if stamp(m) > last_raw + 0.25 + 0.1]
        try:
            probe.wait_until(lambda: len(held()) >= 3, timeout=20, what='3 held outputs')
        except TimeoutError:
            # Say whether the graph or this process stopped hearing it (is /clock moving?).
            clocks = probe.subscribe('/clock', Clock, qos=10)
            probe.spin(2.0)
            pytest.fail(f'no held outputs: last raw {last_raw:.3f}, last safe '
                        f'{[round(stamp(m), 3) for m in safe[-5:]]}, limiter '
                        f'{[(lv, msg) for lv, msg, _ in _limiter_states(diagnostics)][-3:]}, '
                        f'{len(clocks)} /clock messages in 2 s; node output:\n'
                        + launcher.output_text()[-3000:])
        held = held()
        assert all(np.allclose(m.position, held[0].position) for m in held)
        probe.wait_until(lambda: any(level == 1 and 'command timeout' in message for
                                     level, message, _ in _limiter_states(diagnostics)),
                         timeout=10, what='the limiter saying why it holds')
        # The launcher restarts the policy after its delay; commands flow and ramp in again.
        count = len(raw)
        probe.wait_until(lambda: launcher.check() or len(raw) > count + 20, timeout=90,
                         what='commands from the restarted policy')
        assert 'restarted policy_runner' in launcher.output_text()
        probe.wait_until(lambda: _limiter_states(diagnostics)[-1][2].get('mode') in
                         ('ramp', 'active'), timeout=10, what='the limiter commanding again')
        # The limiter itself dies: the whole graph stops, loudly, with a readable code.
        launcher.nodes[[n.spec.name for n in launcher.nodes].index('safety_limiter')].signal(
            signal.SIGKILL)
        deadline = time.monotonic() + 20
        while not launcher.check() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert launcher.failed is not None and launcher.failed.spec.name == 'safety_limiter'
    assert launcher.exit_code == 128 + signal.SIGKILL
    text = launcher.output_text()
    assert 'REQUIRED node safety_limiter was killed by SIGKILL: stopping the whole graph' in text


def _statuses(diagnostics, name):
    return [(s.level[0] if isinstance(s.level, bytes) else s.level, s.message)
            for msg in diagnostics for s in msg.status if s.name == name]


def test_a_frozen_simulator_is_a_stalled_clock_in_every_node_and_the_graph_recovers(
        isolated, tmp_path):
    import signal
    from diagnostic_msgs.msg import DiagnosticArray
    specs = graph.bringup({'sim': 'true', 'cameras': 'false',
                           'results_file': str(tmp_path / 'episodes.jsonl')})
    specs = with_parameters(specs, 'safety_limiter', state_dir=str(tmp_path))
    with running(specs) as launcher, Probe() as probe:
        safe = probe.subscribe('/hand/command', JointState)
        diagnostics = probe.subscribe('/diagnostics', DiagnosticArray, qos=50)
        probe.wait_until(lambda: len(safe) > 30, timeout=90, what='commands through the limiter')
        sim = next(n for n in launcher.nodes if n.spec.name == 'sim_bridge')
        sim.signal(signal.SIGSTOP)                      # frozen: /clock stops, nothing dies
        try:
            seen = len(diagnostics)
            stalled = {}

            def every_node_says_stalled():
                new = diagnostics[seen:]
                for name in ('safety_limiter: state', 'policy_runner', 'goal_manager'):
                    if any(level == 2 and 'clock stalled' in message
                           for level, message in _statuses(new, name)):
                        stalled[name] = True
                return len(stalled) == 3
            probe.wait_until(every_node_says_stalled, timeout=15,
                             what='an ERROR naming the stalled clock from all three nodes')
            states = _limiter_states(diagnostics[seen:])
            assert any(values.get('mode') == 'clock_stalled' for _, _, values in states)
            count = len(safe)
            probe.spin(1.0)
            assert len(safe) == count                   # the limiter outputs nothing meanwhile
        finally:
            sim.signal(signal.SIGCONT)
        # The clock moves again: the limiter ramps the policy back in, diagnostics are OK.
        probe.wait_until(lambda: _limiter_states(diagnostics)[-1][2].get('mode') in
                         ('ramp', 'active'), timeout=20, what='the limiter commanding again')
        assert _limiter_states(diagnostics)[-1][0] == 0
        assert not launcher.check()
    assert 'clock stalled' in launcher.output_text()
    assert 'clock moving again' in launcher.output_text()
