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
The goal_manager node: goal orientations for the cube, success counting, episode results.

It publishes /goal/pose (PoseStamped, frame world, latched), counts a success when the cube's
rotation to the goal drops below success_threshold (then publishes the next goal), and ends the
episode on a drop (cube centre below the palm, palm from forward kinematics of /joint_states),
when the cube pose is lost for pose_timeout_s, on a goal timeout or after max_successes. It
publishes /goal/episode (Int32, latched: the episode's index, -1 between episodes; the policy
runner restarts its state on a change and holds its default pose while it is -1),
/goal/successes (Int32, latched: consecutive successes of the running episode), /goal/results
(String, one JSON record per ended episode), diagnostics, and appends each record to the
results_file (JSON lines). Services: ~/start_episode and ~/stop_episode (std_srvs/Trigger).
Between episodes it waits restart_delay (the runner brings the hand home meanwhile), then calls
reset_service if one is set (the simulator puts the cube back; the hand is already home, so
nothing jumps) and starts the next episode on the first cube pose stamped reset_settle or more
after the reset answered.
The first goal of an episode is drawn away from the cube's measured orientation. Unusable
inputs (a zero or non-unit quaternion, non-finite values, another frame, joint states that do
not fit the profile) are dropped with a throttled warning and a diagnostics counter: no input
can take the node down.
"""
import json
import math
import sys
import time

from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from hand_control.hand_profile import load_hand_profile
from inhand import diagnostics, qos
from inhand.clock_watch import STALLED
from inhand.config import ConfigError
from inhand.hand_model import load_scene_config
from inhand.messages import MissingNames, msg_to_pose, NameOrder, pose_to_msg, stamp_to_sec
from inhand.ros_runtime import declare, run_node, watch_clock
import numpy as np
from policy_node.goals import append_jsonl, Episode, EpisodeConfig, GoalSampler, quat_problem
from policy_node.kinematics import HandKinematics, load_hand_model
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Int32, String
from std_srvs.srv import Trigger

# Late joiners get the last few episode records.
RESULTS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)


class GoalManagerNode(Node):
    """Goals, successes and episode bookkeeping for cube reorientation."""

    def __init__(self):
        super().__init__('goal_manager')
        hand = declare(self, 'hand', 'shadow', 'Hand profile name or path.')
        scene = declare(self, 'scene', 'sim/scene.yaml',
                        'Scene config: the hand mount (for the palm) and the drop threshold.')
        mode = declare(self, 'goal_mode', 'sequence',
                       'sequence (or reorient): arbitrary goals from (seed, episode), the same '
                       'every run; random: one generator seeded with seed (-1: from the OS); '
                       'yaw: each goal turned by yaw_step about the vertical from the last.')
        seed = declare(self, 'seed', 0, 'Seed of the goal generator.')
        min_angle = declare(self, 'min_goal_angle', math.pi / 2,
                            'Each goal is at least this far from the previous one [rad].')
        yaw_step = declare(self, 'yaw_step', math.pi / 2,
                           'goal_mode yaw: turn from one goal to the next about world z [rad]; '
                           'negative turns clockwise seen from above.')
        drop_below_palm = declare(self, 'drop_below_palm', 0.0,
                                  'The cube counts as dropped this far below the palm [m]; '
                                  '0 takes drop.below_palm of the scene config.')
        self.auto_start = declare(self, 'auto_start', True,
                                  'Start an episode as soon as the cube pose arrives, and the '
                                  'next one after restart_delay.')
        self.restart_delay = declare(self, 'restart_delay', 2.5,
                                     'Wait after an episode ends before the reset and the '
                                     'next episode [s]; the runner brings the hand home '
                                     'meanwhile.')
        self.max_episodes = declare(self, 'max_episodes', 0,
                                    'Stop starting episodes after this many; 0: no limit.')
        self.reset_service = declare(self, 'reset_service', '',
                                     'std_srvs/Trigger service called restart_delay after '
                                     'an episode ended, before the next starts (e.g. '
                                     '/sim_bridge/reset_random); empty: none.')
        self.reset_settle = declare(self, 'reset_settle', 0.1,
                                    'After the reset answered, start the next episode on a '
                                    'cube pose stamped this much later [s].')
        self.reset_timeout = declare(self, 'reset_timeout', 5.0,
                                     'Give up waiting for the reset service after this long '
                                     '(wall clock) and start anyway, with a warning [s].')
        self.results_file = declare(self, 'results_file', '',
                                    'Append each episode record to this JSON-lines file; '
                                    'empty: topic and diagnostics only.')
        check_rate = declare(self, 'check_rate_hz', 20.0, 'Rate of the timeout checks [Hz].')
        scene_config = load_scene_config(scene)
        try:
            self.config = EpisodeConfig(
                success_threshold=declare(self, 'success_threshold', 0.4,
                                          'Success when the rotation to the goal is below '
                                          'this [rad].'),
                hold_s=declare(self, 'hold_time', 0.0,
                               'The rotation must stay below the threshold this long [s].'),
                max_successes=declare(self, 'max_successes', 50,
                                      'End the episode after this many consecutive '
                                      'successes.'),
                goal_timeout_s=declare(self, 'goal_timeout', 80.0,
                                       'End the episode when a goal is not reached in this '
                                       'time [s].'),
                episode_timeout_s=declare(self, 'episode_timeout', 0.0,
                                          'End the episode after this time, whatever it '
                                          'reached [s]; 0: no limit.'),
                pose_timeout_s=declare(self, 'pose_timeout', 1.0,
                                       'End the episode when the cube pose is missing this '
                                       'long [s].'),
                drop_below_palm=drop_below_palm if drop_below_palm > 0
                else scene_config.drop_below_palm)
            self.sampler = GoalSampler(mode, None if seed < 0 else seed, min_angle,
                                       yaw_step)
        except ValueError as exc:
            raise ConfigError(f'goal_manager: {exc}') from exc
        if check_rate <= 0 or self.restart_delay < 0 or self.reset_settle < 0 \
                or self.reset_timeout <= 0:
            raise ConfigError('check_rate_hz must be > 0, restart_delay >= 0, reset_settle '
                              '>= 0 and reset_timeout > 0')

        self.profile = load_hand_profile(hand)
        # The palm from the same hand mount as the sim that this scene config describes.
        self.kinematics = HandKinematics(self.profile,
                                         load_hand_model(self.profile, scene_config))
        self.kinematics.update(self.profile.home)
        self._palm = self.kinematics.palm_pose()[0]
        self._unseen_joints = None             # newest q, not yet through forward kinematics
        self.joint_order = NameOrder(self.profile.joint_names)
        self.episode = None
        self.episodes_started = 0
        self.ended_at = None
        self.reset_pending = False             # the ended episode still wants its reset
        self.reset_call = None                 # (future, wall time called)
        self.reset_answered_at = None          # node time the last reset answered
        self.cube = None                       # (receipt time, position, quat, stamp)
        self.last_result = None
        # Inputs dropped as unusable (each also a throttled warning): never a crash.
        self.rejected = {'cube_pose_frame': 0, 'cube_pose_values': 0, 'joint_states': 0}

        self.goal_pub = self.create_publisher(PoseStamped, 'goal/pose', qos.LATCHED)
        self.episode_pub = self.create_publisher(Int32, 'goal/episode', qos.LATCHED)
        self.successes_pub = self.create_publisher(Int32, 'goal/successes', qos.LATCHED)
        self.results_pub = self.create_publisher(String, 'goal/results', RESULTS_QOS)
        self.diag_pub = self.create_publisher(diagnostics.DiagnosticArray, '/diagnostics', 10)
        self.create_subscription(PoseWithCovarianceStamped, 'cube/pose', self._on_cube,
                                 qos.SENSOR_SUB)
        self.create_subscription(JointState, 'joint_states', self._on_joints, qos.SENSOR_SUB)
        self.create_service(Trigger, '~/start_episode', self._on_start)
        self.create_service(Trigger, '~/stop_episode', self._on_stop)
        self.reset_client = self.create_client(Trigger, self.reset_service) \
            if self.reset_service else None
        self.create_timer(1.0 / check_rate, self._on_tick)
        # Diagnostics on the wall clock: they must keep coming (and say so) if /clock stalls.
        self.create_timer(1.0, self._publish_diagnostics,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.clock_watch = watch_clock(self, lambda state, watch: None)
        self.get_logger().info(
            f'goals: {self.sampler.mode} (seed {self.sampler.seed}), >= {min_angle:.3f} rad '
            f'apart; success < {self.config.success_threshold} rad; drop '
            f'{self.config.drop_below_palm} m below the palm; results '
            f'{self.results_file or "(no file)"}')

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ------------------------------------------------------------------ inputs

    def _reject(self, kind: str, message: str):
        self.rejected[kind] += 1
        self.get_logger().warning(f'ignoring {message} ({self.rejected[kind]} so far)',
                                  throttle_duration_sec=1.0)

    def _on_joints(self, msg: JointState):
        names = tuple(msg.name)
        if len(msg.position) != len(names):
            self._reject('joint_states', f'/joint_states with {len(names)} names and '
                         f'{len(msg.position)} positions')
            return
        try:
            order = self.joint_order.indices(names)
        except MissingNames as exc:
            self._reject('joint_states', f'/joint_states without {exc}')
            return
        q = np.asarray(msg.position, dtype=float)[order]
        if not np.all(np.isfinite(q)):
            self._reject('joint_states', '/joint_states with non-finite positions')
            return
        # Forward kinematics only when the palm is asked for (per cube pose, 15-100 Hz), not
        # per joint state (100 Hz and more): on 2 cores that is CPU the vision needs.
        self._unseen_joints = q

    @property
    def palm_position(self) -> np.ndarray:
        """Return the palm's position for the newest joint states."""
        if self._unseen_joints is not None:
            self.kinematics.update(self._unseen_joints)
            self._palm = self.kinematics.palm_pose()[0]
            self._unseen_joints = None
        return self._palm

    def _on_cube(self, msg: PoseWithCovarianceStamped):
        if msg.header.frame_id != self.profile.world_frame:
            self._reject('cube_pose_frame', f'cube pose in frame {msg.header.frame_id!r}, '
                         f'expected {self.profile.world_frame!r}')
            return
        position, quat = msg_to_pose(msg.pose.pose)
        problem = quat_problem(quat)
        if not problem and not np.all(np.isfinite(position)):
            problem = f'position {position.tolist()} is not finite'
        if problem:
            # Treated as no pose at all: a lasting stream of them ends the episode as
            # pose_lost, exactly like a silent estimator.
            self._reject('cube_pose_values', f'cube pose: {problem}')
            return
        now = self._now()
        self.cube = (now, position, quat, stamp_to_sec(msg.header.stamp))
        if self.episode is not None and self.episode.running:
            self._handle(self.episode.update(now, position, quat, self.palm_position))

    # ------------------------------------------------------------------ episodes

    def _cube_ready(self, now) -> bool:
        """Return whether a fresh cube pose shows the cube on the hand."""
        if self.cube is None or now - self.cube[0] > self.config.pose_timeout_s:
            return False
        return self.cube[1][2] >= self.palm_position[2] - self.config.drop_below_palm

    def _start_episode(self, now):
        if self.episode is not None and self.episode.running:
            self._finish(now, 'stopped')
        # The first goal is drawn away from where the cube is (a random reset leaves it in
        # any face-aligned orientation), so it is never reached by standing still.
        self.episode = Episode(index=self.episodes_started, config=self.config,
                               sampler=self.sampler, start_time=now,
                               start_quat=None if self.cube is None else self.cube[2])
        self.episodes_started += 1
        self.ended_at = None
        self.reset_pending = False
        self.reset_call = None
        self.episode_pub.publish(Int32(data=self.episode.index))
        self.successes_pub.publish(Int32(data=0))
        self._publish_goal()
        self.get_logger().info(f'episode {self.episode.index} started')

    def _publish_goal(self):
        msg = PoseStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.profile.world_frame
        # Only the orientation is a goal; the position is where the cube was, for display.
        position = self.cube[1] if self.cube is not None else np.zeros(3)
        pose_to_msg(position, self.episode.goal, msg.pose)
        self.goal_pub.publish(msg)

    def _handle(self, events):
        for kind, value in events:
            if kind == 'success':
                self.successes_pub.publish(Int32(data=value))
                self.get_logger().info(f'episode {self.episode.index}: success {value}')
            elif kind == 'goal':
                self._publish_goal()
            elif kind == 'end':
                self._record()

    def _finish(self, now, reason):
        self.episode.end(now, reason)
        self._record()

    def _record(self):
        result = self.episode.result()
        self.last_result = result
        self.ended_at = self.episode.end_time
        # The file first: at shutdown (close()) the context may already be gone.
        if self.results_file:
            try:
                append_jsonl(self.results_file, result)
            except OSError as exc:
                self.get_logger().error(f'cannot append to {self.results_file}: {exc}')
        if not self.context.ok():
            return
        self.results_pub.publish(String(data=json.dumps(result, sort_keys=True)))
        self.get_logger().info(
            f'episode {result["episode"]} ended ({result["reason"]}): '
            f'{result["successes"]} consecutive successes')
        # Between episodes: the runner holds the hand at its default pose until the next.
        self.episode_pub.publish(Int32(data=-1))
        self.reset_pending = self.reset_client is not None and result['reason'] != 'stopped'

    def _reset_done(self, now) -> bool:
        """Call the reset service once per gap; return whether it is done (or given up)."""
        if not self.reset_pending:
            return True
        if self.reset_call is None:
            if not self.reset_client.service_is_ready():
                self.get_logger().warning(f'reset service {self.reset_service} not available: '
                                          'starting without a reset')
                self.reset_pending = False
                return True
            self.reset_call = (self.reset_client.call_async(Trigger.Request()),
                               time.monotonic())
            return False
        future, called = self.reset_call
        if future.done():
            answer = future.result()
            if answer is not None and not answer.success:
                self.get_logger().warning(f'reset service {self.reset_service} refused: '
                                          f'{answer.message}')
        elif time.monotonic() - called < self.reset_timeout:
            return False
        else:
            self.get_logger().warning(f'reset service {self.reset_service} did not answer in '
                                      f'{self.reset_timeout:g} s: starting without a reset')
        self.reset_call = None
        self.reset_pending = False
        self.reset_answered_at = now
        return True

    def _on_tick(self):
        now = self._now()
        if self.episode is not None and self.episode.running:
            self._handle(self.episode.tick(now))
            return
        if not self.auto_start:
            return
        if self.max_episodes and self.episodes_started >= self.max_episodes:
            return
        if self.ended_at is not None and now - self.ended_at < self.restart_delay:
            return
        if not self._reset_done(now):
            return
        if self.reset_answered_at is not None and (
                now - self.reset_answered_at < self.reset_settle
                or self.cube is None or self.cube[3] < self.reset_answered_at
                + self.reset_settle):
            # A pose of the scene before the reset would start it tilted. Judged by the
            # stamp (when the images were taken), not by receipt: an estimate from camera
            # images arrives a frame period and a detection later.
            return
        if self._cube_ready(now):
            self._start_episode(now)

    def _on_start(self, _request, response):
        now = self._now()
        if self.cube is None:
            response.success = False
            response.message = 'no cube pose yet'
            return response
        self._start_episode(now)
        response.success = True
        response.message = f'episode {self.episode.index} started'
        return response

    def _on_stop(self, _request, response):
        if self.episode is None or not self.episode.running:
            response.success = False
            response.message = 'no episode is running'
            return response
        self._finish(self._now(), 'stopped')
        response.success = True
        response.message = f'episode {self.episode.index} stopped'
        return response

    def _publish_diagnostics(self):
        values = {'episodes': self.episodes_started,
                  **{f'rejected_{kind}': count for kind, count in self.rejected.items()}}
        if self.episode is None:
            level, message = diagnostics.WARN, 'waiting for the cube pose'
        elif self.episode.running:
            level = diagnostics.OK
            message = f'episode {self.episode.index}: {self.episode.successes} successes'
            values.update(episode=self.episode.index, successes=self.episode.successes,
                          error_rad=float(self.episode.last_error))
        else:
            level = diagnostics.OK
            message = f'episode {self.episode.index} ended ({self.episode.reason})'
        if self.clock_watch is not None and self.clock_watch.state == STALLED:
            # Goal timeouts run on /clock: the episode is frozen with it.
            level = diagnostics.ERROR
            message = f'clock stalled ({message}): {self.clock_watch.describe(time.monotonic())}'
        if self.last_result is not None:
            values.update(last_successes=self.last_result['successes'],
                          last_reason=self.last_result['reason'])
        status = diagnostics.status('goal_manager', level, message, **values)
        self.diag_pub.publish(diagnostics.array(self.get_clock().now().to_msg(), status))

    def close(self):
        """End a running episode as stopped so its record is written (run_node calls this)."""
        if self.episode is not None and self.episode.running:
            self._finish(self._now(), 'stopped')


def main(args=None):
    return run_node(GoalManagerNode, args)


if __name__ == '__main__':
    sys.exit(main())
