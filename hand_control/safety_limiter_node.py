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
The safety_limiter node: the last line between any policy and the hand.

Thin wiring around hand_control.limiter.SafetyLimiter (the ROS-free core, where every guarantee
lives): raw commands on hand/command_raw are limited and forwarded at once (event-driven); a
timer at watchdog_rate on the node clock (sim time aware) runs the watchdogs and moves held
targets, and on sim time a wall-clock timer watches /clock itself (a stalled clock refuses
commands until it moves again, with an ERROR in diagnostics); ~/estop (std_srvs/SetBool,
true = stop) latches a stop, ~/reset_fault (std_srvs/Trigger) clears a fault once the joints
are back within their limits. Diagnostics go
to /diagnostics at diagnostics_rate (wall clock, so they keep coming if /clock stops). The wear
odometer is saved to state_dir every odometer_save_period and at shutdown.

Parameters are documented in docs/safety_limiter.md and config/safety_limiter.yaml.
"""
import array
import pathlib
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped
from hand_control.hand_profile import load_hand_profile
from hand_control.limiter import Drop, LimiterConfig, Output, SafetyLimiter, UncertaintyConfig
from hand_control.limits import (load_joint_limits_file, merge_joint_limits,
                                 parse_joint_limits_params)
from hand_control.wear import Odometer, WearConfig, WearMonitor
from inhand import diagnostics, qos, ros_runtime
from inhand.clock_watch import STALLED
from inhand.config import ConfigError
from inhand.messages import sec_to_stamp
from inhand.ros_runtime import run_node
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool, Trigger

OUTPUT_TYPES = ('joint_state', 'float64_multi_array')
DEFAULT_ARRAY_TOPIC = '/forward_position_controller/commands'


def declare(node, name, default, description):
    """
    Declare a read-only parameter and return its value.

    The core is built once from the parameters; a runtime set would report success and change
    nothing, so every parameter refuses it.
    """
    return ros_runtime.declare(node, name, default, description, read_only=True)


class SafetyLimiterNode(Node):
    """Subscribe raw commands and joint states, publish safe commands; see the module doc."""

    def __init__(self, **node_options):
        """Declare the parameters, build the core and wire it; node_options go to Node."""
        super().__init__('safety_limiter', **node_options)
        # Kilted deprecates warn() for warning(); Jazzy has both. Throttling is per call site
        # (rclpy walks the stack past its own frames), so a bound method works as well.
        logger = self.get_logger()
        self._warning = getattr(logger, 'warning', None) or logger.warn
        d = LimiterConfig()
        u = UncertaintyConfig()
        w = WearConfig()
        hand = declare(self, 'hand', 'shadow', 'Hand profile name or path.')
        limits_file = declare(self, 'joint_limits_file', '',
                              'Optional YAML with joint_limits (ros2_control names); '
                              'joint_limits.* parameters override it.')
        ignore_unknown = declare(self, 'ignore_unknown_joints', False,
                                 'Skip joint_limits entries for joints not in the hand profile '
                                 '(e.g. an arm in the same file) instead of refusing them.')
        allow_wider = declare(self, 'allow_wider_position_limits', False,
                              'Accept position limits wider than the hand profile.')
        allow_faster = declare(self, 'allow_faster_than_profile', False,
                               'Accept velocity and acceleration limits above the hand '
                               'profile.')
        config = LimiterConfig(
            position_margin=declare(self, 'position_margin', d.position_margin,
                                    'rad kept clear of each (soft) position limit.'),
            fault_tolerance=declare(self, 'fault_tolerance', d.fault_tolerance,
                                    'rad a measured position may pass a limit before a fault '
                                    'latches.'),
            max_tracking_error=declare(self, 'max_tracking_error', d.max_tracking_error,
                                       'rad a target may lead the measured position.'),
            command_timeout=declare(self, 'command_timeout', d.command_timeout,
                                    's without a raw command before holding.'),
            joint_state_timeout=declare(self, 'joint_state_timeout', d.joint_state_timeout,
                                        's without joint states before commanding stops.'),
            timeout_action=declare(self, 'timeout_action', d.timeout_action,
                                   'On command timeout: "hold" the last safe target or ease '
                                   'to "home".'),
            home_velocity=declare(self, 'home_velocity', d.home_velocity,
                                  'rad/s while easing home after a command timeout.'),
            ramp_time=declare(self, 'ramp_time', d.ramp_time,
                              's to blend from the measured pose to the policy when commands '
                              '(re)start.'),
            max_step_dt=declare(self, 'max_step_dt', d.max_step_dt,
                                's: the longest step between outputs that motion is allowed '
                                'for (a longer gap counts as this).'),
            hold_republish_period=declare(self, 'hold_republish_period',
                                          d.hold_republish_period,
                                          's between repeats of a target that does not move.'),
            uncertainty=UncertaintyConfig(
                enabled=declare(self, 'uncertainty.enabled', u.enabled,
                                'Slow down when the cube pose is stale or uncertain.'),
                timeout=declare(self, 'uncertainty.timeout', u.timeout,
                                's after which a cube pose is stale.'),
                position_std_low=declare(self, 'uncertainty.position_std_low',
                                         u.position_std_low,
                                         'm: position std at or below which the pose is trusted.'),
                position_std_high=declare(self, 'uncertainty.position_std_high',
                                          u.position_std_high,
                                          'm: position std at or above which it is not.'),
                rotation_std_low=declare(self, 'uncertainty.rotation_std_low',
                                         u.rotation_std_low,
                                         'rad: rotation std at or below which it is trusted.'),
                rotation_std_high=declare(self, 'uncertainty.rotation_std_high',
                                          u.rotation_std_high,
                                          'rad: rotation std at or above which it is not.'),
                min_scale=declare(self, 'uncertainty.min_scale', u.min_scale,
                                  'Velocity-limit factor when unsure.'),
                max_scale=declare(self, 'uncertainty.max_scale', u.max_scale,
                                  'Velocity-limit factor when sure.')),
            wear=WearConfig(
                enabled=declare(self, 'wear.enabled', w.enabled, 'Account wear per joint.'),
                window=declare(self, 'wear.window', w.window, 's of the sliding window.'),
                buckets=declare(self, 'wear.buckets', w.buckets,
                                'Resolution of the window (it slides by window/buckets).'),
                max_mean_speed=declare(self, 'wear.max_mean_speed', w.max_mean_speed,
                                       'rad/s mean |velocity| budget over the window.'),
                max_reversal_rate=declare(self, 'wear.max_reversal_rate', w.max_reversal_rate,
                                          'Direction reversals per second budget.'),
                max_pressed_fraction=declare(self, 'wear.max_pressed_fraction',
                                             w.max_pressed_fraction,
                                             'Budget for the fraction of the window spent '
                                             'pressing against a limit or an obstacle.'),
                throttle_scale=declare(self, 'wear.throttle_scale', w.throttle_scale,
                                       'Velocity-limit factor of a joint over budget.'),
                release_duty=declare(self, 'wear.release_duty', w.release_duty,
                                     'Duty below which a throttled joint is released.'),
                reversal_deadband=declare(self, 'wear.reversal_deadband', w.reversal_deadband,
                                          'rad a target must come back to count a reversal.')))
        watchdog_rate = declare(self, 'watchdog_rate', 100.0,
                                'Hz (node clock) of the watchdog and of moving held targets.')
        diagnostics_rate = declare(self, 'diagnostics_rate', 1.0, 'Hz (wall clock) of '
                                   '/diagnostics.')
        output_type = declare(self, 'output_type', 'joint_state',
                              'joint_state (sensor_msgs/JointState) or float64_multi_array '
                              '(std_msgs/Float64MultiArray for a ros2_control forward '
                              'position controller).')
        output_topic = declare(self, 'output_topic', '',
                               'Topic of the safe commands; empty: hand/command for '
                               f'joint_state, {DEFAULT_ARRAY_TOPIC} for float64_multi_array.')
        output_order = declare(self, 'output_joint_order', Parameter.Type.STRING_ARRAY,
                               'float64_multi_array: the joint order of the controller; '
                               'empty: the hand profile order. Must list every actuated joint.')
        cube_topic = declare(self, 'cube_pose_topic', 'cube/pose',
                             'geometry_msgs/PoseWithCovarianceStamped watched when '
                             'uncertainty.enabled.')
        state_dir = declare(self, 'state_dir', '~/.ros/inhand',
                            'Folder of the persistent wear odometer.')
        self.save_period = declare(self, 'odometer_save_period', 30.0,
                                   's (wall clock) between odometer saves.')
        if watchdog_rate <= 0 or diagnostics_rate <= 0:
            raise ConfigError('watchdog_rate and diagnostics_rate must be > 0')
        if config.max_step_dt < 1.0 / watchdog_rate:
            raise ConfigError(f'max_step_dt ({config.max_step_dt} s) must be at least one '
                              f'watchdog period ({1.0 / watchdog_rate:g} s)')
        if output_type not in OUTPUT_TYPES:
            raise ConfigError(f'output_type: expected one of {OUTPUT_TYPES}, got '
                              f'{output_type!r}')

        self.profile = profile = load_hand_profile(hand)
        layers = [load_joint_limits_file(limits_file)] if limits_file else []
        layers.append(self._joint_limit_parameters())
        limits, notes = parse_joint_limits_params(
            merge_joint_limits(*layers), profile, ignore_unknown_joints=ignore_unknown,
            allow_wider_position_limits=allow_wider, allow_faster_than_profile=allow_faster)
        for note in notes:
            self._warning(note)
        names = profile.actuated_joint_names
        odometer_path = pathlib.Path(state_dir).expanduser() / f'wear_odometer_{profile.name}.json'
        odometer, warnings = Odometer.load(names, odometer_path, hand=profile.name)
        for warning in warnings:
            self._warning(warning)
        self.odometer = odometer
        self.core = SafetyLimiter(limits, config, profile.joint_names, names,
                                  home=profile.home[profile.actuated_indices],
                                  wear=WearMonitor(names, config.wear, odometer))

        # Output: every actuated joint, always (held joints at their last safe target).
        if output_type == 'joint_state':
            order = list(names)
            self.out_msg = JointState(name=order)
            self.publisher = self.create_publisher(JointState, output_topic or 'hand/command',
                                                   qos.COMMAND)
        else:
            order = list(output_order or names)
            missing = sorted(set(names) - set(order))
            extra = [n for n in order if n not in names]
            if missing or extra or len(order) != len(names):
                raise ConfigError(
                    f'output_joint_order must list each actuated joint once; missing '
                    f'{missing}, not actuated {extra}')
            self.out_msg = Float64MultiArray()
            self.publisher = self.create_publisher(
                Float64MultiArray, output_topic or DEFAULT_ARRAY_TOPIC, qos.COMMAND)
        self.output_type = output_type
        self.order = np.array([names.index(n) for n in order], dtype=int)
        self.in_order = bool((self.order == np.arange(len(names))).all())

        self.create_subscription(JointState, 'hand/command_raw', self._on_command, qos.COMMAND)
        self.create_subscription(JointState, 'joint_states', self._on_joint_state,
                                 qos.SENSOR_SUB)
        if config.uncertainty.enabled:
            self.create_subscription(PoseWithCovarianceStamped, cube_topic, self._on_cube_pose,
                                     qos.SENSOR_SUB)
        self.create_service(SetBool, '~/estop', self._on_estop)
        self.create_service(Trigger, '~/reset_fault', self._on_reset_fault)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(1.0 / watchdog_rate, self._on_tick)
        self.create_timer(1.0 / diagnostics_rate, self._on_diagnostics,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.last_save = time.monotonic()
        self._clock = self.get_clock()
        # On sim time the watchdogs above stop with /clock; this one runs on the wall clock.
        self.clock_watch = ros_runtime.watch_clock(self, self._on_clock_change)
        scaling = f'on ({cube_topic})' if config.uncertainty.enabled else 'off'
        self.get_logger().info(
            f'limiting {len(names)} joints of {profile.name} -> {self.publisher.topic_name} '
            f'({output_type}); margin {config.position_margin:g} rad, tracking '
            f'{config.max_tracking_error:g} rad, command timeout {config.command_timeout:g} s, '
            f'uncertainty scaling {scaling}; odometer {odometer_path}')

    def _joint_limit_parameters(self) -> dict:
        """Declare and return every joint_limits.* parameter given on the command line/files."""
        # rclpy offers no public list of overrides before declaration; _parameter_overrides
        # (the parsed --params-file / -p values) is the same dict declare_parameter reads.
        found = {}
        overrides = getattr(self, '_parameter_overrides', {})
        for name in sorted(overrides):
            if name.startswith('joint_limits.'):
                descriptor = ParameterDescriptor(
                    description='ros2_control joint limit override', dynamic_typing=True,
                    read_only=True)
                found[name] = self.declare_parameter(name, None, descriptor).value
        return found

    # ------------------------------------------------------------------ callbacks
    def _now(self) -> float:
        return self._clock.now().nanoseconds * 1e-9

    def _on_command(self, msg: JointState):
        stamp = msg.header.stamp
        result = self.core.on_command(self._now(), stamp.sec + stamp.nanosec * 1e-9, msg.name,
                                      msg.position, msg.velocity, msg.effort)
        if isinstance(result, Drop):
            self._warning(f'dropped a hand/command_raw message: {result.reason}: '
                          f'{result.detail}', throttle_duration_sec=1.0)
        else:
            self._publish(result)
        if self.core.events or self.core.wear.events:
            self._log_events()

    def _on_joint_state(self, msg: JointState):
        self.core.on_joint_state(self._now(), msg.name, msg.position, msg.velocity, msg.effort)
        if self.core.events:
            self._log_events()

    def _on_cube_pose(self, msg: PoseWithCovarianceStamped):
        stamp = msg.header.stamp
        self.core.on_cube_pose(self._now(), stamp.sec + stamp.nanosec * 1e-9,
                               msg.pose.covariance)

    def _on_tick(self):
        out = self.core.tick(self._now())
        if out is not None:
            self._publish(out)
        if self.core.events or self.core.wear.events:
            self._log_events()

    def _publish(self, out: Output):
        positions = out.positions if self.in_order else out.positions[self.order]
        values = array.array('d')
        values.frombytes(positions.tobytes())
        msg = self.out_msg
        if self.output_type == 'joint_state':
            msg.header.stamp = sec_to_stamp(out.t)     # the time the limits were applied for
            msg.position = values
        else:
            msg.data = values
        self.publisher.publish(msg)

    def _log_events(self):
        logger = self.get_logger()
        for level, text in self.core.pop_events():
            if level == 'error':
                logger.error(text)
            elif level == 'warn':
                self._warning(text, throttle_duration_sec=1.0)
            else:
                logger.info(text)

    def _on_clock_change(self, state, watch):
        self.core.set_clock_stalled(state == STALLED, watch.describe(time.monotonic()))
        self._log_events()

    def _on_estop(self, request, response):
        response.message = self.core.set_estop(bool(request.data))
        response.success = True
        self._log_events()
        return response

    def _on_reset_fault(self, _request, response):
        response.success, response.message = self.core.reset_fault(self._now())
        self._log_events()
        return response

    def _on_diagnostics(self):
        t = self._now()
        if self.clock_watch is not None and self.clock_watch.state == STALLED:
            # Refresh how long the stall has lasted (no new event: it is still the same one).
            self.core.set_clock_stalled(True, self.clock_watch.describe(time.monotonic()))
        summary = self.core.diagnostics(t)
        state = diagnostics.status('safety_limiter: state', summary.level, summary.message,
                                   hardware_id=self.profile.name, **summary.values)
        per_joint = {}
        for name, figures in summary.joints.items():
            for key, value in figures.items():
                per_joint[f'{name}.{key}'] = value
        throttled = [n for n, f in summary.joints.items() if f['throttled']]
        joints = diagnostics.status(
            'safety_limiter: joints', diagnostics.WARN if throttled else diagnostics.OK,
            'wear throttle on ' + ', '.join(throttled) if throttled else 'clamps and wear',
            hardware_id=self.profile.name, **per_joint)
        self.diag_pub.publish(diagnostics.array(self.get_clock().now().to_msg(), state, joints))
        if time.monotonic() - self.last_save >= self.save_period:
            self._save_odometer()

    def _save_odometer(self):
        self.last_save = time.monotonic()
        try:
            self.core.wear.sync()
            self.odometer.save()
        except OSError as exc:
            self.get_logger().error(f'could not save the wear odometer: {exc}',
                                    throttle_duration_sec=60.0)

    def close(self):
        """Save the odometer (run_node calls this at shutdown)."""
        self._save_odometer()


def main(args=None):
    return run_node(SafetyLimiterNode, args)


if __name__ == '__main__':
    sys.exit(main())
