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
The goal_manager node in this process, against fake cube poses and joint states.

Goals advance on success, drops and lost poses end episodes, and every episode lands on
/goal/results and in the results file.
"""
import json
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from hand_control.hand_profile import load_hand_profile
from inhand import qos
from inhand.messages import msg_to_pose, pose_to_msg
from inhand.paths import config_path
from inhand.transforms import axis_angle_to_quat, quat_multiply, rotation_between
import numpy as np
from policy_node.goal_manager_node import GoalManagerNode, RESULTS_QOS
from policy_node.goals import GoalSampler, read_jsonl
from policy_node.kinematics import HandKinematics
import pytest
import rclpy
from rclpy.duration import Duration
from ros_harness import in_process, NodeHarness
from sensor_msgs.msg import JointState
from std_msgs.msg import Int32, String
from std_srvs.srv import Trigger
import yaml

pytestmark = pytest.mark.ros
PROFILE = load_hand_profile('shadow')


def palm_position():
    kinematics = HandKinematics(PROFILE)
    kinematics.update(PROFILE.home)
    return kinematics.palm_pose()[0]


class Harness(NodeHarness):
    def __init__(self, node):
        super().__init__(node)
        self.goals, self.episodes, self.successes, self.results = [], [], [], []
        sub = self.probe.create_subscription
        sub(PoseStamped, 'goal/pose', self.goals.append, qos.LATCHED)
        sub(Int32, 'goal/episode', lambda m: self.episodes.append(m.data), qos.LATCHED)
        sub(Int32, 'goal/successes', lambda m: self.successes.append(m.data), qos.LATCHED)
        sub(String, 'goal/results', lambda m: self.results.append(json.loads(m.data)),
            RESULTS_QOS)
        self.diagnostics = []
        sub(DiagnosticArray, '/diagnostics', lambda m: self.diagnostics.extend(m.status), 10)
        self.cube_pub = self.probe.create_publisher(PoseWithCovarianceStamped, 'cube/pose',
                                                    qos.SENSOR_PUB)
        self.joint_pub = self.probe.create_publisher(JointState, 'joint_states',
                                                     qos.SENSOR_PUB)
        self.palm = palm_position()
        self.cube_position = self.palm + np.array([0.0, 0.0, 0.04])
        self.cube_quat = np.array([1.0, 0.0, 0.0, 0.0])
        self.feed = True
        self.cube_age = 0.0               # s the cube pose's stamp lags (an estimate's latency)

    def publish(self):
        now = self.probe.get_clock().now()
        stamp = now.to_msg()
        joints = JointState(name=list(PROFILE.joint_names), position=PROFILE.home.tolist())
        joints.header.stamp = stamp
        self.joint_pub.publish(joints)
        cube = PoseWithCovarianceStamped()
        cube.header.stamp = (now - Duration(nanoseconds=int(self.cube_age * 1e9))).to_msg()
        cube.header.frame_id = 'world'
        pose_to_msg(self.cube_position, self.cube_quat, cube.pose.pose)
        self.cube_pub.publish(cube)

    def spin_until(self, condition, timeout=10.0, what='condition'):
        end = time.monotonic() + timeout
        next_feed = 0.0
        while time.monotonic() < end:
            if condition():
                return
            if self.feed and time.monotonic() >= next_feed:
                self.publish()
                next_feed = time.monotonic() + 0.02
            self.executor.spin_once(timeout_sec=0.005)
        raise TimeoutError(f'{what} not reached within {timeout} s')

    def goal_quat(self):
        return msg_to_pose(self.goals[-1].pose)[1]

    def call(self, service):
        client = self.probe.create_client(Trigger, f'goal_manager/{service}')
        self.spin_until(client.service_is_ready, what=f'service {service}')
        future = client.call_async(Trigger.Request())
        self.spin_until(future.done, what=f'{service} answered')
        return future.result()

    def diagnostic_values(self):
        """Return the key/values of the newest goal_manager status."""
        statuses = [s for s in self.diagnostics if s.name == 'goal_manager']
        return {kv.key: kv.value for kv in statuses[-1].values} if statuses else {}


def goal_manager(**parameters):
    return in_process(GoalManagerNode, Harness, parameters)


def test_goals_advance_on_success_and_a_drop_ends_the_episode(tmp_path):
    results = tmp_path / 'results.jsonl'
    with goal_manager(results_file=str(results), seed=3, restart_delay=0.3) as h:
        h.spin_until(lambda: h.episodes == [0] and h.goals, what='episode 0 and a goal')
        sampler = GoalSampler('sequence', seed=3)
        sampler.start_episode(0)
        first = sampler.next_goal()
        np.testing.assert_allclose(h.goal_quat(), first, atol=1e-9)   # reproducible sequence
        assert rotation_between(h.cube_quat, first) >= np.pi / 2

        h.cube_quat = first                         # the cube reaches the goal
        h.spin_until(lambda: h.successes[-1:] == [1], what='first success')
        h.spin_until(lambda: len(h.goals) >= 2, what='second goal')
        assert rotation_between(first, h.goal_quat()) >= np.pi / 2

        h.cube_position = h.palm - np.array([0.0, 0.0, 0.2])     # dropped on the floor
        h.spin_until(lambda: h.results, what='episode result')
        record = h.results[0]
        assert (record['episode'], record['successes'], record['reason']) == (0, 1, 'drop')
        assert read_jsonl(results) == [record]

        h.cube_position = h.palm + np.array([0.0, 0.0, 0.04])    # back on the hand
        h.spin_until(lambda: h.episodes[-1:] == [1], what='episode 1 starts')
        h.spin_until(lambda: h.successes[-1:] == [0], what='successes back to 0')


def test_between_episodes_it_says_minus_one_then_resets_after_the_delay_then_starts(tmp_path):
    calls = []

    def on_reset(_request, response):
        calls.append(time.monotonic())
        response.success = True
        return response

    with goal_manager(restart_delay=0.6, reset_service='/test_sim/reset',
                      reset_settle=0.2, goal_timeout=0.3) as h:
        h.probe.create_service(Trigger, '/test_sim/reset', on_reset)
        h.spin_until(lambda: h.episodes == [0], what='episode 0')
        h.spin_until(lambda: h.results, what='episode 0 times out')
        ended = time.monotonic()
        h.spin_until(lambda: h.episodes[-1:] == [-1], what='-1 between episodes')
        assert calls == []                  # the hand gets restart_delay to go home first
        h.cube_age = 1.5                    # poses arrive, but of images from before the reset
        h.spin_until(lambda: calls, what='the reset')
        assert calls[0] - ended >= 0.6 - 0.05
        with pytest.raises(TimeoutError):
            h.spin_until(lambda: h.episodes[-1:] == [1], timeout=1.0, what='episode 1 starts')
        assert h.episodes[-1] == -1         # not before a pose of the scene after the reset
        h.cube_age = 0.0
        h.spin_until(lambda: h.episodes[-1:] == [1], what='episode 1 starts')
        assert time.monotonic() - calls[0] >= 0.2 - 0.05
        assert h.episodes == [0, -1, 1] and len(calls) == 1


def test_lost_pose_ends_the_episode_and_shutdown_records_the_running_one(tmp_path):
    results = tmp_path / 'results.jsonl'
    with goal_manager(results_file=str(results), pose_timeout=0.3, auto_start=True,
                      max_episodes=2, restart_delay=0.1) as h:
        h.spin_until(lambda: h.episodes == [0], what='episode 0')
        h.feed = False
        h.spin_until(lambda: h.results, what='pose lost')
        assert h.results[0]['reason'] == 'pose_lost'
        h.feed = True
        h.spin_until(lambda: h.episodes[-1:] == [1], what='episode 1')
    records = read_jsonl(results)
    assert [(r['episode'], r['reason']) for r in records] == [(0, 'pose_lost'), (1, 'stopped')]


def test_broken_cube_poses_and_joint_states_are_dropped_not_fatal(tmp_path):
    results = tmp_path / 'results.jsonl'
    with goal_manager(results_file=str(results), pose_timeout=0.5, auto_start=False) as h:
        h.spin_until(lambda: h.node.cube is not None, what='a cube pose')
        assert h.call('start_episode').success
        for quat in ([0.0, 0.0, 0.0, 0.0], [0.5, 0.0, 0.0, 0.0], [np.nan, 0.0, 0.0, 1.0]):
            h.cube_quat = np.array(quat)
            rejected = h.node.rejected['cube_pose_values']
            # Each one used to raise in the callback and take the node down with it.
            h.spin_until(lambda: h.node.rejected['cube_pose_values'] > rejected + 2,
                         what=f'quaternion {quat} rejected')
        assert h.node.episode.running and np.isnan(h.node.episode.last_error)
        h.cube_quat = np.array([1.0, 0.0, 0.0, 0.0])
        h.cube_position = np.array([np.nan, 0.0, 0.3])
        # Nothing usable arrives: after pose_timeout the episode ends as pose_lost.
        h.spin_until(lambda: h.results, what='pose_lost')
        assert h.results[0]['reason'] == 'pose_lost'
        assert read_jsonl(results)[0]['reason'] == 'pose_lost'
        # A joint state whose positions do not match its names (after a good one).
        bad = JointState(name=list(PROFILE.joint_names), position=[0.1, 0.2, 0.3])
        h.joint_pub.publish(bad)
        h.spin_until(lambda: h.node.rejected['joint_states'] >= 1, what='joint state rejected')
        h.spin_until(lambda: 'rejected_cube_pose_values' in h.diagnostic_values(),
                     what='diagnostics')
        values = h.diagnostic_values()
        assert int(values['rejected_cube_pose_values']) >= 9
        assert int(values['rejected_joint_states']) >= 1


def test_first_goal_is_far_from_the_measured_start_and_a_success_is_recorded(tmp_path):
    results = tmp_path / 'results.jsonl'
    start = axis_angle_to_quat([1.0, 0.0, 0.0], np.pi)       # a face-aligned random reset
    with goal_manager(results_file=str(results), seed=4, auto_start=False) as h:
        h.cube_quat = start
        h.spin_until(lambda: h.node.cube is not None, what='a cube pose')
        assert h.call('start_episode').success
        h.spin_until(lambda: h.goals, what='the first goal')
        sampler = GoalSampler('sequence', seed=4)
        sampler.start_episode(0, start)
        first = sampler.next_goal()
        np.testing.assert_allclose(h.goal_quat(), first, atol=1e-9)   # reproducible from start
        assert rotation_between(start, h.goal_quat()) >= np.pi / 2
        # Within the default threshold (0.4 rad) of the goal: a success and the next goal.
        h.cube_quat = quat_multiply(axis_angle_to_quat([0.0, 1.0, 0.0], 0.3), first)
        h.spin_until(lambda: h.successes[-1:] == [1], what='first success')
        h.spin_until(lambda: len(h.goals) >= 2, what='second goal')
        second = h.goal_quat()
        assert rotation_between(first, second) >= np.pi / 2
        assert h.call('stop_episode').success
        h.spin_until(lambda: h.results, what='the record')
    (record,) = read_jsonl(results)
    assert record == h.results[0]
    assert (record['successes'], record['reason']) == (1, 'stopped')
    np.testing.assert_allclose(record['start_wxyz'], start, atol=1e-6)
    np.testing.assert_allclose(record['goals_wxyz'], [first, second], atol=1e-6)
    assert len(record['time_to_goal_s']) == 1 and record['success_threshold'] == 0.4


def test_the_palm_comes_from_the_scene_parameter(tmp_path):
    scene = yaml.safe_load(config_path('sim/scene.yaml').read_text())
    scene['hand_mount']['position'][2] += 0.1
    path = tmp_path / 'raised.yaml'
    path.write_text(yaml.safe_dump(scene))
    default = palm_position()
    rclpy.init(args=['--ros-args', '-p', f'scene:={path}'])
    try:
        node = GoalManagerNode()
        np.testing.assert_allclose(node.palm_position, default + [0.0, 0.0, 0.1], atol=1e-9)
        node.destroy_node()
    finally:
        rclpy.shutdown()
