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
The policy_runner node: any ONNX hand policy with a spec, on the newest joint states and pose.

Modes (services ~/idle, ~/home, ~/run, std_srvs/Trigger; the current one latched on ~/mode):
idle publishes nothing; home ramps the targets from where they are to the spec's default pose
and holds it; run steps the policy. A timer at the spec's rate (node clock: sim time aware)
publishes /hand/command_raw (JointState, the spec's action joints by name) for the safety
limiter. In run mode it follows the goal_manager's /goal/episode: a new episode restarts the
policy from the measured pose; -1 (between episodes: the last one ended, the next is not yet
started) ramps the hand to the default pose and holds it there, as home mode does, so the hand
meets the next episode where a trainer's reset puts it instead of playing on against a stale
goal. A spec with action.previous_target: commanded (the default) builds each step on what the
hand was last sent, the limiter's /hand/command, not on the policy's own raw target: the two
differ whenever the limiter clamps. When the joint states, the cube pose or the goal are
missing or older than their thresholds it publishes nothing (the limiter then holds) and says
why: a throttled log line and the diagnostics. All start-up checks (spec against the hand,
term sizes, model tensors) happen in the constructor, so a mismatched policy exits with code 2
and a message before any command.
Unusable inputs (non-finite values, a zero or non-unit quaternion) are dropped in the callbacks
with a counter and a throttled warning, and a publisher whose QoS cannot reach the latched goal
subscriptions is named in an error: no input takes the node down or fails silently.
"""
import math
import re
import sys
import time

from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from hand_control.hand_profile import load_hand_profile
from inhand import diagnostics, qos
from inhand.clock_watch import STALLED
from inhand.config import ConfigError
from inhand.hand_model import load_scene_config
from inhand.messages import MissingNames, msg_to_pose, NameOrder, stamp_to_sec
from inhand.ros_runtime import declare, run_node, watch_clock
import numpy as np
from policy_node.goals import quat_problem
from policy_node.runner import load_runner
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import qos_policy_name_from_kind
from sensor_msgs.msg import JointState
from std_msgs.msg import Int32, String
from std_srvs.srv import Trigger

MODES = ('idle', 'home', 'run')


class Latest:
    """The newest message of one input, with its stamp and arrival time (node clock, s)."""

    def __init__(self):
        self.value = None
        self.pose = None                      # (position, quat wxyz) of pose messages
        self.stamp = None
        self.arrival = None

    def update(self, value, stamp: float, arrival: float, pose=None):
        self.value = value
        self.pose = pose
        # Drivers that leave the stamp at zero are aged by arrival time instead.
        self.stamp = stamp if stamp > 0.0 else arrival
        self.arrival = arrival

    def age(self, now: float) -> float:
        return math.inf if self.stamp is None else now - self.stamp


class PolicyRunnerNode(Node):
    """Observation -> ONNX policy -> /hand/command_raw at the spec's rate."""

    def __init__(self):
        super().__init__('policy_runner')
        hand = declare(self, 'hand', 'shadow', 'Hand profile name or path.')
        spec = declare(self, 'spec', 'policies/inhand_demo.yaml',
                       'Policy spec (YAML): a path or a name under config/. Empty: the YAML '
                       'beside the model, else the spec embedded in the model.')
        model = declare(self, 'model', '',
                        "ONNX model path (or a name under models/). Empty: the spec's "
                        'model.file.')
        initial_mode = declare(self, 'initial_mode', 'idle',
                               'Mode at start-up: idle, home or run.')
        self.max_joint_age = declare(self, 'max_joint_state_age', 0.1,
                                     'Publish nothing when /joint_states is older [s].')
        self.max_cube_age = declare(self, 'max_cube_pose_age', 0.35,
                                    'Publish nothing when the cube pose is older [s].')
        self.max_goal_age = declare(self, 'max_goal_age', 0.0,
                                    'Publish nothing when the goal is older [s]; 0: any age '
                                    '(goals are latched).')
        self.home_duration = declare(self, 'home_duration', 2.0,
                                     'Time to ramp from the current targets to the home pose '
                                     '[s].')
        rate_override = declare(self, 'rate_hz', 0.0,
                                "Control rate [Hz]; 0 uses the spec's rate_hz.")
        threads = declare(self, 'threads', 1, 'onnxruntime intra-op threads.')
        self.reset_on_episode = declare(self, 'reset_on_episode', True,
                                        'Restart the policy state (history, recurrent state, '
                                        'last action) when /goal/episode changes, and hold '
                                        'the default pose while it is -1 (between '
                                        'episodes).')
        self.future_tolerance = declare(self, 'future_stamp_tolerance', 0.05,
                                        'Publish nothing when an input stamp is further than '
                                        'this ahead of the node clock [s] (clocks disagree, '
                                        'e.g. before the first /clock).')
        hand_command_topic = declare(
            self, 'hand_command_topic', 'hand/command',
            "What the hand was sent (the limiter's sensor_msgs/JointState output): a spec "
            'with action.previous_target: commanded builds on it. Empty: subscribe to '
            "nothing (the policy's own targets).")
        scene = declare(self, 'scene', 'sim/scene.yaml',
                        'Scene config whose hand mount places the hand for forward kinematics '
                        '(fingertips, palm); the same file as the sim and goal_manager.')
        if initial_mode not in MODES:
            raise ConfigError(f'initial_mode must be one of {", ".join(MODES)}, '
                              f'got {initial_mode!r}')
        for name, value in (('max_joint_state_age', self.max_joint_age),
                            ('max_cube_pose_age', self.max_cube_age),
                            ('home_duration', self.home_duration)):
            if not value > 0:
                raise ConfigError(f'{name} must be > 0, got {value}')
        if not self.future_tolerance >= 0:
            raise ConfigError(f'future_stamp_tolerance must be >= 0, got '
                              f'{self.future_tolerance}')

        self.profile = load_hand_profile(hand)
        self.runner = load_runner(self.profile, spec, model, threads=threads,
                                  scene_config=load_scene_config(scene))
        spec = self.runner.spec
        self.rate = rate_override if rate_override > 0 else spec.rate_hz
        self.joint_names = list(self.runner.joint_names)
        self.needs_velocity = any(t.source == 'joint_velocities' for t in spec.observation)
        self.world_frame = self.profile.world_frame

        self.joints = Latest()
        self.cube = Latest()
        self.goal = Latest()
        self._joint_order = NameOrder(self.profile.joint_names)
        self.episode = None
        self.mode = 'idle'
        self.last_published = None            # (time, targets)
        self.home_ramp = None
        self.policy_started = False
        self.seed_from_measured = False
        self.between_episodes = False          # /goal/episode -1: holding the default pose
        self.skip_reason = ''
        self.counts = {'published': 0, 'skipped': 0}
        # Inputs dropped in the callbacks, and publishers whose QoS cannot reach a latched
        # subscription (their messages never arrive): both in the diagnostics.
        self.rejected = {'cube_pose': 0, 'goal_pose': 0}
        self.incompatible_qos = {}
        self.step_times = []
        self.ages = []
        # previous_target: commanded: the newest limiter output (msg, monotonic receipt time),
        # when the policy last (re)started, and how often it could build on what was sent.
        self.hand_command = None
        self.policy_started_at = 0.0
        self._command_order = NameOrder(self.joint_names)
        self.following = {'followed': 0, 'own_target': 0}
        self.follow_problem = ''

        self.command_pub = self.create_publisher(JointState, 'hand/command_raw', qos.COMMAND)
        self.mode_pub = self.create_publisher(String, '~/mode', qos.LATCHED)
        self.diag_pub = self.create_publisher(diagnostics.DiagnosticArray, '/diagnostics', 10)
        self.create_subscription(JointState, 'joint_states', self._on_joints, qos.SENSOR_SUB)
        self.create_subscription(PoseWithCovarianceStamped, 'cube/pose', self._on_cube,
                                 qos.SENSOR_SUB)
        self.follow_commands = bool(hand_command_topic) and self.runner.follows_commanded
        if self.follow_commands:
            self.create_subscription(JointState, hand_command_topic, self._on_hand_command,
                                     qos.COMMAND)
        for msg_type, topic, callback in ((PoseStamped, 'goal/pose', self._on_goal),
                                          (Int32, 'goal/episode', self._on_episode)):
            name = self.resolve_topic_name(topic)
            self.incompatible_qos[name] = 0
            self.create_subscription(
                msg_type, topic, callback, qos.LATCHED,
                event_callbacks=SubscriptionEventCallbacks(
                    incompatible_qos=lambda event, n=name: self._on_incompatible_qos(n, event)))
        for mode in MODES:
            self.create_service(Trigger, f'~/{mode}',
                                lambda request, response, m=mode: self._on_mode(m, response))
        self.create_timer(1.0 / self.rate, self._on_timer)
        # Diagnostics on the wall clock: they must keep coming (and say so) if /clock stalls.
        self.create_timer(1.0, self._publish_diagnostics,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.clock_watch = watch_clock(self, lambda state, watch: None)
        self._set_mode(initial_mode)
        layout = ', '.join(f'{name} {size}' for name, _, _, size in self.runner.builder.layout())
        self.get_logger().info(
            f'policy {spec.name!r} ({self.runner.model_path.name}) on {self.profile.name}: '
            f'{self.runner.builder.size} observations [{layout}] -> '
            f'{len(self.joint_names)} joints, {self.rate:g} Hz, mode {self.mode}')

    # ------------------------------------------------------------------ inputs

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_joints(self, msg: JointState):
        # Parsed (and checked) at the control step, which needs only the newest one.
        self.joints.update(msg, stamp_to_sec(msg.header.stamp), self._now())

    def _on_hand_command(self, msg: JointState):
        # Parsed at the control step, like the joint states: only the newest one matters.
        self.hand_command = (msg, time.monotonic())

    def _commanded_targets(self):
        """Return the action joints' targets in the newest /hand/command, or why not."""
        msg, received = self.hand_command
        if received < self.policy_started_at:
            return 'no /hand/command since the policy started'
        try:
            order = self._command_order.indices(msg.name)
        except MissingNames as exc:
            return f'/hand/command lacks {exc}'
        if len(msg.position) != len(msg.name):
            return f'/hand/command has {len(msg.name)} names but {len(msg.position)} positions'
        values = np.asarray(msg.position, dtype=float)[order]
        if not np.all(np.isfinite(values)):
            return '/hand/command has non-finite positions'
        return values

    def _follow_hand_command(self):
        """Make what the hand was last sent the policy's previous target, when known."""
        values = 'no /hand/command received' if self.hand_command is None \
            else self._commanded_targets()
        if isinstance(values, str):
            # The policy builds on its own last target this step (the first steps of an
            # episode, before the limiter's answer; or a limiter publishing arrays).
            self.following['own_target'] += 1
            if values != self.follow_problem and self.following['followed']:
                self.get_logger().warning(f'previous_target commanded: {values}; using the '
                                          "policy's own target", throttle_duration_sec=2.0)
            self.follow_problem = values
            return
        self.runner.follow(values)
        self.following['followed'] += 1
        self.follow_problem = ''

    def _pose_or_reject(self, kind: str, topic: str, pose_msg):
        """Return (position, quat wxyz) of a pose message, or None (counted, warned)."""
        position, quat = msg_to_pose(pose_msg)
        problem = quat_problem(quat)
        if not problem and not np.all(np.isfinite(position)):
            problem = f'position {position.tolist()} is not finite'
        if not problem:
            return position, quat
        # Dropped: the previous pose ages out and the step says so, as if none had come.
        self.rejected[kind] += 1
        self.get_logger().warning(f'ignoring {topic}: {problem} ({self.rejected[kind]} so far)',
                                  throttle_duration_sec=1.0)
        return None

    def _on_cube(self, msg: PoseWithCovarianceStamped):
        pose = self._pose_or_reject('cube_pose', 'cube pose', msg.pose.pose)
        if pose is not None:
            self.cube.update(msg, stamp_to_sec(msg.header.stamp), self._now(), pose)

    def _on_goal(self, msg: PoseStamped):
        pose = self._pose_or_reject('goal_pose', 'goal pose', msg.pose)
        if pose is not None:
            self.goal.update(msg, stamp_to_sec(msg.header.stamp), self._now(), pose)

    def _on_incompatible_qos(self, topic: str, event):
        self.incompatible_qos[topic] += 1
        policy = qos_policy_name_from_kind(event.last_policy_kind)
        self.get_logger().error(
            f'a publisher on {topic} offers QoS incompatible with this subscription '
            f'(policy {policy}): none of its messages arrive. Publish {topic} reliable and '
            f'transient local (latched), e.g. ros2 topic pub --qos-reliability reliable '
            f'--qos-durability transient_local ...')

    def _on_episode(self, msg: Int32):
        if msg.data == self.episode or not self.reset_on_episode:
            self.episode = msg.data
            return
        self.episode = msg.data
        # Remembered in every mode, so that switching to run between episodes holds too.
        self.between_episodes = msg.data < 0
        self.home_ramp = None
        if self.mode == 'run' and not self.between_episodes:
            # Restarted at the next step from the measured pose, as a trainer's reset seeds
            # its targets (the episode may have begun with a reset of the hand).
            self.policy_started = False
            self.seed_from_measured = True

    def _holding_between_episodes(self) -> bool:
        return self.mode == 'run' and self.between_episodes

    def _joint_arrays(self):
        """Return (positions, velocities) in profile order, or a reason string."""
        msg = self.joints.value
        names = msg.name
        try:
            order = self._joint_order.indices(names)
        except MissingNames as exc:
            return f'/joint_states lacks {exc}'
        if len(msg.position) != len(names):
            return f'/joint_states has {len(names)} names but {len(msg.position)} positions'
        positions = np.asarray(msg.position, dtype=float)[order]
        if len(msg.velocity) == len(names):
            velocities = np.asarray(msg.velocity, dtype=float)[order]
        elif self.needs_velocity:
            return '/joint_states carries no velocities and the policy observes them'
        else:
            velocities = np.zeros(len(order))
        if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(velocities))):
            return '/joint_states has non-finite values'
        return positions, velocities

    def _future(self, what: str, latest: Latest, now: float) -> str:
        """Return why latest's stamp cannot be trusted ('' when it can)."""
        age = latest.age(now)
        if age < -self.future_tolerance:
            return (f'{what} is stamped {-age:.3f} s ahead of the node clock (tolerance '
                    f'{self.future_tolerance:g} s): the clocks disagree (no /clock yet?)')
        return ''

    def _stale(self, now: float, needs_policy_inputs: bool) -> str:
        """Return why the inputs cannot be used now ('' when they can)."""
        if self.joints.value is None:
            return 'no /joint_states yet'
        age = self.joints.age(now)
        if age > self.max_joint_age:
            return f'/joint_states is {age:.3f} s old (max {self.max_joint_age:g})'
        reason = self._future('/joint_states', self.joints, now)
        if reason or not needs_policy_inputs:
            return reason
        if self.runner.needs_cube:
            if self.cube.value is None:
                return 'no cube pose yet'
            age = self.cube.age(now)
            if age > self.max_cube_age:
                return f'cube pose is {age:.3f} s old (max {self.max_cube_age:g})'
            reason = self._future('cube pose', self.cube, now)
            if reason:
                return reason
            if self.cube.value.header.frame_id != self.world_frame:
                return (f'cube pose is in frame {self.cube.value.header.frame_id!r}, '
                        f'expected {self.world_frame!r}')
        if self.runner.needs_goal:
            if self.goal.value is None:
                topic = self.resolve_topic_name('goal/pose')
                if self.incompatible_qos.get(topic):
                    return (f'no goal on {topic} yet: a publisher with incompatible QoS was '
                            f'seen; publish it reliable and transient local')
                return 'no goal on /goal/pose yet'
            if self.max_goal_age > 0:
                # Goals are latched and may be any age unless max_goal_age is set: only then
                # does their stamp matter, and a future one is as wrong as an old one.
                if self.goal.age(now) > self.max_goal_age:
                    return (f'goal is {self.goal.age(now):.3f} s old '
                            f'(max {self.max_goal_age:g})')
                reason = self._future('goal', self.goal, now)
                if reason:
                    return reason
            if self.goal.value.header.frame_id != self.world_frame:
                return (f'goal is in frame {self.goal.value.header.frame_id!r}, expected '
                        f'{self.world_frame!r}')
        return ''

    # ------------------------------------------------------------------ modes

    def _set_mode(self, mode: str):
        self.mode = mode
        self.home_ramp = None
        self.policy_started = False
        self.seed_from_measured = False
        self.mode_pub.publish(String(data=mode))

    def _on_mode(self, mode: str, response):
        previous = self.mode
        self._set_mode(mode)
        response.success = True
        response.message = f'mode {previous} -> {mode}'
        self.get_logger().info(response.message)
        return response

    def _current_targets(self, positions) -> np.ndarray:
        """Return where the action joints are commanded now: last published, else measured."""
        if self.last_published is not None:
            return self.last_published.copy()
        return positions[self.runner.joint_indices]

    # ------------------------------------------------------------------ control step

    def _on_timer(self):
        if self.mode == 'idle':
            return
        started = time.perf_counter()
        now = self._now()
        # Holding between episodes needs only the joints: the cube may be on the floor.
        holding = self._holding_between_episodes()
        reason = self._stale(now, self.mode == 'run' and not holding)
        joints = None
        if not reason:
            joints = self._joint_arrays()
            if isinstance(joints, str):
                reason = joints
        if reason:
            self._skip(reason)
            return
        positions, velocities = joints
        try:
            if self.mode == 'home' or holding:
                targets = self._home_step(now, positions)
            else:
                targets = self._policy_step(positions, velocities)
        except ValueError as exc:
            self._skip(f'policy step failed: {exc}')
            return
        msg = JointState(name=self.joint_names, position=targets.tolist())
        msg.header.stamp = self.get_clock().now().to_msg()
        self.command_pub.publish(msg)
        self.last_published = targets
        self.counts['published'] += 1
        self.skip_reason = ''
        self._record(started, now)

    def _home_step(self, now, positions) -> np.ndarray:
        if self.home_ramp is None:
            self.home_ramp = (now, self._current_targets(positions))
        start_time, start = self.home_ramp
        s = min(1.0, max(0.0, (now - start_time) / self.home_duration))
        blend = 0.5 - 0.5 * math.cos(math.pi * s)        # smooth start and stop
        return start + blend * (self.runner.default_pose - start)

    def _policy_step(self, positions, velocities) -> np.ndarray:
        if not self.policy_started:
            self.runner.start(positions[self.runner.joint_indices] if self.seed_from_measured
                              else self._current_targets(positions))
            self.policy_started = True
            self.seed_from_measured = False
            self.policy_started_at = time.monotonic()
        elif self.follow_commands:
            self._follow_hand_command()
        cube_position = cube_quat = goal_quat = None
        if self.runner.needs_cube:
            cube_position, cube_quat = self.cube.pose
        if self.runner.needs_goal:
            goal_quat = self.goal.pose[1]
        return self.runner.step(positions, velocities, cube_position, cube_quat, goal_quat)

    def _skip(self, reason: str):
        self.counts['skipped'] += 1
        # A new kind of reason is said at once; the same kind again (its ages change every
        # tick: "0.153 s old", "0.203 s old") at most every 2 s.
        if reason_kind(reason) != reason_kind(self.skip_reason):
            self.get_logger().warning(f'{self.mode}: publishing nothing: {reason}')
        else:
            self.get_logger().warning(f'{self.mode}: publishing nothing: {reason}',
                                      throttle_duration_sec=2.0)
        self.skip_reason = reason

    def _record(self, started: float, now: float):
        self.step_times.append(time.perf_counter() - started)
        # The state is as old as its oldest part: the joint states, and the cube pose when the
        # policy used it. The goal is a latched command, not state, and may be any age.
        stamps = [self.joints.stamp]
        if self.mode == 'run' and self.runner.needs_cube \
                and not self._holding_between_episodes():
            stamps.append(self.cube.stamp)
        self.ages.append(now - min(stamps))
        del self.step_times[:-200], self.ages[:-200]

    def _publish_diagnostics(self):
        level = diagnostics.OK
        message = f'{self.mode}, publishing'
        if self.mode == 'idle':
            message = 'idle (publishing nothing)'
        elif self.skip_reason:
            level, message = diagnostics.WARN, f'{self.mode}, publishing nothing: ' \
                f'{self.skip_reason}'
        elif self._holding_between_episodes():
            message = 'run, between episodes: holding the default pose'
        elif self.mode == 'run' and self.follow_commands \
                and not self.following['followed'] and self.following['own_target'] > self.rate:
            # Runs, but builds on its own targets, not on what the limiter sent the hand.
            level, message = diagnostics.WARN, f'run, publishing; previous_target commanded ' \
                f'but {self.follow_problem}: building on its own targets'
        if self.clock_watch is not None and self.clock_watch.state == STALLED:
            # The control timer runs on /clock: nothing is published until it moves again.
            level = diagnostics.ERROR
            message = f'clock stalled, publishing nothing: ' \
                f'{self.clock_watch.describe(time.monotonic())}'
        values = {'mode': self.mode, 'policy': self.runner.spec.name,
                  'rate_hz': float(self.rate), **self.counts,
                  **{f'rejected_{kind}': n for kind, n in self.rejected.items()},
                  **{f'incompatible_qos_publishers{topic.replace("/", "_")}': n
                     for topic, n in self.incompatible_qos.items()}}
        values['previous_target'] = self.runner.spec.action.previous_target
        if self.follow_commands:
            values.update({f'previous_target_{k}': n for k, n in self.following.items()})
            if self.follow_problem:
                values['previous_target_problem'] = self.follow_problem
        if self.step_times:
            values['step_ms_median'] = float(np.median(self.step_times) * 1e3)
            values['step_ms_max'] = float(np.max(self.step_times) * 1e3)
            values['input_age_ms_median'] = float(np.median(self.ages) * 1e3)
        status = diagnostics.status('policy_runner', level, message, **values)
        self.diag_pub.publish(diagnostics.array(self.get_clock().now().to_msg(), status))


def reason_kind(reason: str) -> str:
    """Return a skip reason without its numbers: what throttling compares."""
    return re.sub(r'[-+]?\d+(\.\d+)?', '#', reason or '')


def main(args=None):
    return run_node(PolicyRunnerNode, args)


if __name__ == '__main__':
    sys.exit(main())
