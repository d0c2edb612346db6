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
The policy_runner node in this process, against fake inputs published from a probe node.

Checks the ROS wiring: modes through the services, commands by name at the spec's rate, no
command (and a reason) when an input goes stale, the home ramp, and exit code 2 with a message
naming the term for a mismatched policy.
"""
import copy
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from hand_control.hand_profile import load_hand_profile
from inhand import qos
from inhand.messages import pose_to_msg
from inhand.paths import config_path
from inhand.ros_runtime import run_node
import numpy as np
from policy_node.policy_runner_node import PolicyRunnerNode
from policy_node.spec import load_spec
import pytest
from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from ros_harness import in_process, NodeHarness
from sensor_msgs.msg import JointState
from std_msgs.msg import Int32, String
from std_srvs.srv import Trigger
import yaml

pytestmark = pytest.mark.ros
PROFILE = load_hand_profile('shadow')


class Harness(NodeHarness):
    """The node under test plus a probe node that feeds it and records what it publishes."""

    def __init__(self, node):
        super().__init__(node)
        self.commands = []
        self.modes = []
        self.probe.create_subscription(JointState, 'hand/command_raw',
                                       lambda m: self.commands.append((time.monotonic(), m)),
                                       qos.COMMAND)
        self.probe.create_subscription(String, 'policy_runner/mode',
                                       lambda m: self.modes.append(m.data), qos.LATCHED)
        self.joint_pub = self.probe.create_publisher(JointState, 'joint_states',
                                                     qos.SENSOR_PUB)
        self.cube_pub = self.probe.create_publisher(PoseWithCovarianceStamped, 'cube/pose',
                                                    qos.SENSOR_PUB)
        self.goal_pub = self.probe.create_publisher(PoseStamped, 'goal/pose', qos.LATCHED)
        self.episode_pub = self.probe.create_publisher(Int32, 'goal/episode', qos.LATCHED)
        self.statuses = []
        self.probe.create_subscription(DiagnosticArray, '/diagnostics',
                                       lambda m: self.statuses.extend(m.status), 10)
        self.q = PROFILE.home.copy()
        self.feed_cube = True
        self.cube_position = np.array([0.0, 0.0, 0.28])
        self.cube_quat = np.array([1.0, 0.0, 0.0, 0.0])
        self.joint_stamp_offset = 0.0        # s added to the stamps: a clock ahead or behind
        self.cube_stamp_offset = 0.0

    def stamp(self, offset):
        return (self.probe.get_clock().now() + Duration(nanoseconds=int(offset * 1e9))).to_msg()

    def diagnostic_message(self, name):
        messages = [status.message for status in self.statuses if status.name == name]
        return messages[-1] if messages else ''

    def publish_inputs(self):
        joints = JointState(name=list(PROFILE.joint_names), position=self.q.tolist(),
                            velocity=[0.0] * 24)
        joints.header.stamp = self.stamp(self.joint_stamp_offset)
        self.joint_pub.publish(joints)
        if self.feed_cube:
            cube = PoseWithCovarianceStamped()
            cube.header.stamp = self.stamp(self.cube_stamp_offset)
            cube.header.frame_id = 'world'
            pose_to_msg(self.cube_position, self.cube_quat, cube.pose.pose)
            self.cube_pub.publish(cube)

    def publish_goal(self, quat_wxyz=(0.0, 1.0, 0.0, 0.0)):
        goal = PoseStamped()
        goal.header.stamp = self.probe.get_clock().now().to_msg()
        goal.header.frame_id = 'world'
        pose_to_msg([0.0, 0.0, 0.28], quat_wxyz, goal.pose)
        self.goal_pub.publish(goal)

    def spin(self, seconds, feed=True):
        end = time.monotonic() + seconds
        next_feed = 0.0
        while time.monotonic() < end:
            if feed and time.monotonic() >= next_feed:
                self.publish_inputs()
                next_feed = time.monotonic() + 0.01      # 100 Hz, like the sim
            self.executor.spin_once(timeout_sec=0.005)

    def spin_until(self, condition, timeout=10.0, feed=True, what='condition'):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            self.spin(0.02, feed)
        raise TimeoutError(f'{what} not reached within {timeout} s')

    def call(self, mode):
        client = self.probe.create_client(Trigger, f'policy_runner/{mode}')
        self.spin_until(client.service_is_ready, what=f'service {mode}')
        future = client.call_async(Trigger.Request())
        self.spin_until(future.done, what=f'{mode} answered')
        return future.result()


def runner_node(**parameters):
    return in_process(PolicyRunnerNode, Harness, parameters)


def test_runs_the_demo_policy_by_name_at_the_spec_rate():
    with runner_node() as h:
        h.spin_until(lambda: h.modes == ['idle'], what='latched mode idle')
        h.spin(0.3)
        assert h.commands == []                        # idle publishes nothing
        h.publish_goal()
        assert h.call('run').success
        h.spin_until(lambda: len(h.commands) >= 25, what='25 commands')
        names = [tuple(m.name) for _, m in h.commands]
        assert set(names) == {PROFILE.actuated_joint_names}
        targets = np.array([m.position for _, m in h.commands])
        idx = PROFILE.actuated_indices
        assert np.all(targets >= PROFILE.lower[idx] - 1e-9)
        assert np.all(targets <= PROFILE.upper[idx] + 1e-9)
        # The demo's gait moves the first finger's J3 over the run.
        ffj3 = targets[:, PROFILE.actuated_joint_names.index('rh_FFJ3')]
        assert np.ptp(ffj3) > 0.05
        times = np.array([t for t, _ in h.commands])
        rate = (len(times) - 1) / (times[-1] - times[0])
        assert 10.0 < rate < 30.0, rate                # 20 Hz nominal; loose on a busy machine
        assert h.modes[-1] == 'run'


def test_publishes_nothing_when_the_cube_pose_goes_stale():
    with runner_node(max_cube_pose_age=0.2) as h:
        h.publish_goal()
        h.call('run')
        h.spin_until(lambda: len(h.commands) >= 3, what='first commands')
        h.feed_cube = False
        h.spin(0.4)                                    # the pose ages past 0.2 s
        count = len(h.commands)
        h.spin(0.5)
        assert len(h.commands) == count
        assert 'cube pose is' in h.node.skip_reason and 'old (max 0.2)' in h.node.skip_reason
        h.feed_cube = True
        h.spin_until(lambda: len(h.commands) > count + 2, what='commands resume')


def test_a_stale_input_is_said_once_then_throttled_though_its_age_changes(monkeypatch):
    with runner_node(max_cube_pose_age=0.2) as h:
        h.publish_goal()
        h.call('run')
        h.spin_until(lambda: len(h.commands) >= 3, what='first commands')
        calls = []

        class Logger:
            def warning(self, message, **kwargs):
                calls.append((message, kwargs.get('throttle_duration_sec')))
        monkeypatch.setattr(h.node, 'get_logger', lambda: Logger())
        h.feed_cube = False
        h.spin(1.0)                                    # ~20 ticks, each with a new age
        stale = [c for c in calls if 'cube pose is' in c[0]]
        assert len(stale) >= 10
        assert stale[0][1] is None                     # the first is said at once
        assert all(throttle == 2.0 for _, throttle in stale[1:])   # the rest through rclpy's
        assert len({message for message, _ in stale}) > 1          # 2 s throttle


def test_waits_for_a_goal_and_says_so():
    with runner_node() as h:
        h.call('run')
        h.spin(0.5)
        assert h.commands == []
        assert h.node.skip_reason == 'no goal on /goal/pose yet'
        h.publish_goal()
        h.spin_until(lambda: len(h.commands) >= 2, what='commands after the goal')


def test_home_ramps_to_the_spec_default_pose():
    spec = load_spec('policies/inhand_demo.yaml')
    with runner_node(home_duration=0.5) as h:
        h.call('home')                                 # no cube or goal needed for home
        h.feed_cube = False
        h.spin_until(lambda: len(h.commands) >= 20, what='20 home commands')
        targets = np.array([m.position for _, m in h.commands])
        default = np.array([spec.default_pose.get(n, 0.0)
                            for n in PROFILE.actuated_joint_names])
        np.testing.assert_allclose(targets[0], PROFILE.home[PROFILE.actuated_indices],
                                   atol=0.05)
        np.testing.assert_allclose(targets[-1], default, atol=1e-9)
        # Monotonic approach (cosine ramp), no overshoot.
        distance = np.abs(targets - default).max(axis=1)
        assert np.all(np.diff(distance) <= 1e-12)
        h.call('idle')
        h.spin(0.2)
        count = len(h.commands)
        h.spin(0.3)
        assert len(h.commands) == count


def test_a_mismatched_policy_exits_2_naming_the_term(tmp_path, capfd):
    data = yaml.safe_load(load_spec('policies/inhand_demo.yaml').text)
    bad = copy.deepcopy(data)
    bad['observation'][3]['size'] = 12                 # fingertips: 15 on the Shadow hand
    bad['model']['file'] = str(load_spec('policies/inhand_demo.yaml').model_path())
    path = tmp_path / 'bad.yaml'
    path.write_text(yaml.safe_dump(bad))
    code = run_node(PolicyRunnerNode, ['policy_runner', '--ros-args', '-p', f'spec:={path}'])
    assert code == 2
    err = capfd.readouterr().err
    assert "'fingertips'" in err and 'expected size 12' in err and 'actual size 15' in err


def test_a_new_episode_restarts_the_policy_from_the_measured_pose():
    with runner_node() as h:
        h.publish_goal()
        h.call('run')
        h.spin_until(lambda: h.node.runner.steps >= 10, what='10 policy steps')
        seeds = []
        start = h.node.runner.start
        h.node.runner.start = lambda target: (seeds.append(np.array(target)), start(target))
        h.q = PROFILE.home.copy()
        h.q[PROFILE.index('rh_FFJ3')] = 1.0          # the hand was moved (a reset, a push)
        h.spin(0.1)
        assert seeds == []
        h.episode_pub.publish(Int32(data=7))
        h.spin_until(lambda: seeds, what='the policy restarted')
        # Playground-style seeding: the targets start from the measured pose, not from the
        # last command, so the first joint error of the new episode is zero.
        np.testing.assert_allclose(seeds[0], h.q[PROFILE.actuated_indices])
        h.spin(0.3)
        assert len(seeds) == 1                      # once per episode change


def test_between_episodes_it_holds_the_default_pose_without_a_cube_then_restarts():
    spec = load_spec('policies/inhand_demo.yaml')
    default = np.array([spec.default_pose.get(n, 0.0) for n in PROFILE.actuated_joint_names])
    with runner_node(home_duration=0.3) as h:
        h.publish_goal()
        h.episode_pub.publish(Int32(data=0))
        h.call('run')
        h.spin_until(lambda: h.node.runner.steps >= 10, what='10 policy steps')
        moving = np.array(h.commands[-1][1].position)
        assert np.abs(moving - default).max() > 0.01     # the demo gait is away from default
        h.episode_pub.publish(Int32(data=-1))             # the episode ended
        h.feed_cube = False                               # the cube fell: no pose needed now
        h.spin_until(lambda: 'between episodes' in h.diagnostic_message('policy_runner'),
                     what='diagnostics say it holds between episodes')
        steps = h.node.runner.steps
        count = len(h.commands)
        h.spin(0.6)
        assert h.node.runner.steps == steps                # the policy does not run
        held = np.array([m.position for _, m in h.commands[count:]])
        assert len(held) >= 10
        np.testing.assert_allclose(held[-1], default, atol=1e-9)
        # The ramp starts where the policy left the targets: no jump at the episode's end.
        everything = np.array([m.position for _, m in h.commands])
        assert np.abs(np.diff(everything, axis=0)).max() < 0.2
        seeds = []
        start = h.node.runner.start
        h.node.runner.start = lambda target: (seeds.append(np.array(target)), start(target))
        h.feed_cube = True
        h.episode_pub.publish(Int32(data=1))
        h.spin_until(lambda: seeds, what='the policy restarted')
        np.testing.assert_allclose(seeds[0], h.q[PROFILE.actuated_indices])
        h.spin_until(lambda: h.node.runner.steps >= 5, what='the policy runs again')


def test_broken_cube_and_goal_poses_are_dropped_and_counted():
    with runner_node(max_cube_pose_age=0.2) as h:
        h.publish_goal([0.0, 0.0, 0.0, 0.0])           # a zero quaternion: not a goal
        h.call('run')
        h.spin_until(lambda: h.node.rejected['goal_pose'] >= 1, what='goal rejected')
        h.spin(0.3)
        assert h.commands == [] and h.node.skip_reason == 'no goal on /goal/pose yet'
        h.publish_goal()
        h.spin_until(lambda: len(h.commands) >= 3, what='commands with a good goal')
        for quat, position in (([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.28]),
                               ([0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.28]),
                               ([np.inf, 0.0, 0.0, 1.0], [0.0, 0.0, 0.28]),
                               ([1.0, 0.0, 0.0, 0.0], [np.nan, 0.0, 0.28])):
            h.cube_quat, h.cube_position = np.array(quat), np.array(position)
            rejected = h.node.rejected['cube_pose']
            h.spin_until(lambda: h.node.rejected['cube_pose'] > rejected + 2,
                         what=f'cube pose {quat} {position} rejected')
        # Only broken poses: the last good one ages out, and then nothing is published.
        h.spin_until(lambda: h.node.skip_reason.startswith('cube pose is'), what='stale pose')
        assert 'old (max 0.2)' in h.node.skip_reason
        h.spin(0.1)
        count = len(h.commands)
        h.spin(0.4)
        assert len(h.commands) == count
        h.cube_quat, h.cube_position = np.array([1.0, 0.0, 0.0, 0.0]), np.array([0, 0, 0.28])
        h.spin_until(lambda: len(h.commands) > count + 2, what='commands resume')
        assert np.all(np.isfinite([m.position for _, m in h.commands]))


def test_inputs_stamped_in_the_future_are_refused():
    with runner_node() as h:
        h.publish_goal()
        h.call('run')
        h.spin_until(lambda: len(h.commands) >= 2, what='first commands')
        h.joint_stamp_offset = 0.5                     # e.g. sim stamps before the first /clock
        h.spin(0.3)
        count = len(h.commands)
        h.spin(0.3)
        assert len(h.commands) == count
        assert h.node.skip_reason.startswith('/joint_states is stamped 0.') \
            and 'ahead of the node clock' in h.node.skip_reason
        h.joint_stamp_offset = 0.0
        h.cube_stamp_offset = 0.5
        h.spin_until(lambda: h.node.skip_reason.startswith('cube pose is stamped'),
                     what='cube pose refused')
        count = len(h.commands)
        h.spin(0.3)
        assert len(h.commands) == count
        h.cube_stamp_offset = 0.02                     # within the tolerance (0.05 s)
        h.spin_until(lambda: len(h.commands) > count + 2, what='commands resume')


def test_state_age_at_publish_is_that_of_the_oldest_input():
    with runner_node() as h:
        h.cube_stamp_offset = -0.15                    # the pose lags the joints by 150 ms
        h.publish_goal()
        h.call('run')
        h.spin_until(lambda: len(h.node.ages) >= 5, what='5 steps')
        assert min(h.node.ages[-5:]) >= 0.15
        h.call('home')                                 # home uses the joint states only
        h.node.ages.clear()
        h.spin_until(lambda: len(h.node.ages) >= 5, what='5 home steps')
        assert max(h.node.ages) < 0.15


def test_a_volatile_goal_publisher_is_named_in_an_error():
    with runner_node() as h:
        volatile = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.VOLATILE)
        h.goal_pub = h.probe.create_publisher(PoseStamped, 'goal/pose', volatile)
        h.call('run')
        h.spin_until(lambda: h.node.incompatible_qos['/goal/pose'] >= 1,
                     what='incompatible QoS event')
        h.publish_goal()                               # never arrives
        h.spin(0.3)
        assert h.commands == []
        assert 'incompatible QoS' in h.node.skip_reason \
            and 'reliable and transient local' in h.node.skip_reason
        assert h.node.incompatible_qos['/goal/episode'] == 0


def test_forward_kinematics_uses_the_scene_parameter(tmp_path):
    scene = yaml.safe_load(config_path('sim/scene.yaml').read_text())
    scene['hand_mount']['position'][2] += 0.1
    path = tmp_path / 'raised.yaml'
    path.write_text(yaml.safe_dump(scene))

    def palm(**parameters):
        with runner_node(**parameters) as h:
            kinematics = h.node.runner.builder.context.kinematics
            kinematics.update(PROFILE.home)
            return kinematics.palm_pose()[0]

    np.testing.assert_allclose(palm(scene=str(path)), palm() + [0.0, 0.0, 0.1], atol=1e-9)


def _yaw_spec_file(tmp_path, previous_target):
    """Write the shipped yaw spec with previous_target set, its model by absolute path."""
    shipped = load_spec('policies/inhand_yaw.yaml')
    data = yaml.safe_load(shipped.text)
    data['action']['previous_target'] = previous_target
    data['model']['file'] = str(shipped.model_path())
    path = tmp_path / f'yaw_{previous_target}.yaml'
    path.write_text(yaml.safe_dump(data))
    return path


def _joint_error(runner):
    """Return the joint_position_error slice of the runner's last observation."""
    start, size = next((start, size) for name, source, start, size in runner.builder.layout()
                       if source == 'joint_position_error')
    return np.asarray(runner.last_observation[start:start + size], dtype=float)


def test_previous_target_commanded_builds_on_what_the_limiter_sent(tmp_path):
    path = _yaw_spec_file(tmp_path, 'commanded')
    with runner_node(spec=str(path)) as h:
        command_pub = h.probe.create_publisher(JointState, 'hand/command', qos.COMMAND)
        h.publish_goal()
        h.episode_pub.publish(Int32(data=0))
        h.call('run')
        h.spin_until(lambda: h.node.runner.steps >= 3, what='3 policy steps')
        # No limiter answer yet: the policy builds on its own targets and counts it.
        assert h.node.following['followed'] == 0 and h.node.following['own_target'] >= 2
        runner = h.node.runner
        # The limiter clamped: what the hand got differs from the policy's raw targets.
        sent = np.clip(PROFILE.home[PROFILE.actuated_indices] + 0.05,
                       PROFILE.lower[PROFILE.actuated_indices],
                       PROFILE.upper[PROFILE.actuated_indices])
        command_pub.publish(JointState(name=list(PROFILE.actuated_joint_names),
                                       position=sent.tolist()))
        h.spin_until(lambda: h.node.following['followed'] >= 2, what='commands followed')
        action_sent = sent[[PROFILE.actuated_joint_names.index(n) for n in runner.joint_names]]
        # joint_position_error is measured minus the previous target: the target the hand got.
        np.testing.assert_allclose(_joint_error(runner),
                                   h.q[runner.joint_indices] - action_sent, atol=1e-5)
        # delta_target: the published target is that sent target plus at most one step.
        assert list(h.commands[-1][1].name) == list(runner.joint_names)
        raw = np.array(h.commands[-1][1].position)
        assert np.abs(raw - action_sent).max() <= runner.spec.action.scale + 1e-9
        values = {}
        h.spin_until(lambda: any(s.name == 'policy_runner' for s in h.statuses),
                     what='diagnostics')
        for status in h.statuses:
            if status.name == 'policy_runner':
                values = {kv.key: kv.value for kv in status.values}
        assert values['previous_target'] == 'commanded'
        # A command that lacks an action joint is not followed, and says why.
        command_pub.publish(JointState(name=['rh_FFJ3'], position=[0.1]))
        h.spin_until(lambda: 'lacks' in h.node.follow_problem, what='the mismatch named')
        followed, own = h.node.following['followed'], h.node.following['own_target']
        h.spin(0.3)
        assert h.node.following['followed'] == followed
        assert h.node.following['own_target'] > own
        assert 'lacks rh_' in h.node.follow_problem


def test_previous_target_policy_ignores_the_limiter_output(tmp_path):
    path = _yaw_spec_file(tmp_path, 'policy')
    with runner_node(spec=str(path)) as h:
        assert not h.node.follow_commands
        command_pub = h.probe.create_publisher(JointState, 'hand/command', qos.COMMAND)
        h.publish_goal()
        h.episode_pub.publish(Int32(data=0))
        h.call('run')
        h.spin_until(lambda: h.node.runner.steps >= 3, what='3 policy steps')
        runner = h.node.runner
        followed = []
        runner.follow = followed.append
        sent = PROFILE.lower[PROFILE.actuated_indices].copy()
        for _ in range(5):
            command_pub.publish(JointState(name=list(PROFILE.actuated_joint_names),
                                           position=sent.tolist()))
            h.spin(0.06)
        steps = runner.steps
        h.spin_until(lambda: runner.steps >= steps + 3, what='3 more policy steps')
        # The previous target stays the policy's own, as the network was trained.
        assert followed == []
        action_sent = sent[[PROFILE.actuated_joint_names.index(n) for n in runner.joint_names]]
        assert np.abs(_joint_error(runner) - (h.q[runner.joint_indices] - action_sent)).max() \
            > 0.1
