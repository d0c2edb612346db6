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
The hand_description node: the hand's URDF on /robot_description and its links on TF.

What robot_state_publisher does on a ROS install, for any hand profile and without a URDF on
disk (the pip-only install has no robot_state_publisher): the URDF is generated from the hand's
MuJoCo model (hand_control.description), its meshes written as STL files to mesh_dir, and
published on /robot_description (std_msgs/String, reliable + transient local). /joint_states
moves the links on /tf (MuJoCo forward kinematics, stamped with the joint state's stamp);
fixed joints (world -> mount, fingertips) go to /tf_static once.

The ghost: the limiter's output (/hand/command) moves a second copy of the hand on TF under
ghost_prefix (commanded/rh_palm ...), so an rviz RobotModel with that TF prefix shows the
commanded hand beside the measured one. Joint states or commands with unknown names keep the
known ones (a driver may publish an arm's joints too); non-finite values are dropped with a
throttled warning and counted in the diagnostics: nothing sent here can take the node down.
"""
import math
import pathlib
import sys

from hand_control.description import DEFAULT_MESH_DIR, HandDescription
from hand_control.hand_profile import load_hand_profile
from inhand import diagnostics, qos
from inhand.config import ConfigError
from inhand.hand_model import build_model, load_scene_config
from inhand.messages import transform_stamped
from inhand.ros_runtime import declare, run_node
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage


class HandDescriptionNode(Node):
    """URDF on /robot_description, TF of the measured hand and of the commanded ghost."""

    def __init__(self):
        super().__init__('hand_description')
        hand = declare(self, 'hand', 'shadow', 'Hand profile name or path.')
        scene = declare(self, 'scene', 'sim/scene.yaml',
                        'Scene config: where the hand is mounted in the world frame.')
        mesh_dir = declare(self, 'mesh_dir', DEFAULT_MESH_DIR,
                           'Folder for the hand meshes as STL (a subfolder per hand profile); '
                           'the URDF names them with file:// URIs.')
        self.publish_tf = declare(self, 'publish_tf', True,
                                  'Publish the measured hand on /tf and /tf_static; false when '
                                  'robot_state_publisher does it from the same URDF.')
        self.publish_description = declare(self, 'publish_description', True,
                                           'Publish the URDF on robot_description.')
        self.ghost_prefix = declare(self, 'ghost_prefix', 'commanded/',
                                    'TF prefix of the commanded hand (from hand/command); '
                                    'empty: no ghost.')
        self.max_rate = declare(self, 'max_tf_rate', 30.0,
                                'Most /tf messages per second per hand (joint states or '
                                'commands arriving faster are thinned); 0: every message.')
        if self.max_rate < 0:
            raise ConfigError('hand_description: max_tf_rate must be >= 0')
        self.profile = load_hand_profile(hand)
        model = build_model(self.profile, load_scene_config(scene))
        folder = pathlib.Path(mesh_dir).expanduser() / self.profile.name
        self.measured = HandDescription(self.profile, model, mesh_dir=folder)
        self.measured.write_meshes()
        self.urdf = self.measured.urdf()
        self.commanded = HandDescription(self.profile, model) if self.ghost_prefix else None
        if self.commanded is not None:
            self.commanded.mesh_paths = self.measured.mesh_paths
        self.joint_names = set(self.profile.joint_names)
        self.counts = {'joint_states': 0, 'commands': 0, 'rejected': 0, 'unknown_names': 0}
        self.last_sent = {'measured': -math.inf, 'commanded': -math.inf}
        self.wall = Clock(clock_type=ClockType.STEADY_TIME)

        if self.publish_description:
            self.description_pub = self.create_publisher(String, 'robot_description',
                                                         qos.LATCHED)
            self.description_pub.publish(String(data=self.urdf))
        self.tf_pub = self.create_publisher(TFMessage, '/tf', qos.TF)
        self.tf_static_pub = self.create_publisher(TFMessage, '/tf_static', qos.LATCHED)
        self._publish_static()
        self.create_subscription(JointState, 'joint_states', self._on_joint_states,
                                 qos.SENSOR_SUB)
        if self.commanded is not None:
            self.create_subscription(JointState, 'hand/command', self._on_command, qos.COMMAND)
        self.diag_pub = self.create_publisher(diagnostics.DiagnosticArray, '/diagnostics', 10)
        self.create_timer(1.0, self._publish_diagnostics, clock=self.wall)
        self.get_logger().info(
            f'{self.profile.name}: URDF with {len(self.measured.links)} links and '
            f'{len(self.measured.movable)} joints on robot_description, meshes in {folder}; '
            + (f'ghost of hand/command under {self.ghost_prefix!r}' if self.commanded
               else 'no ghost'))

    def _publish_static(self):
        stamp = self.get_clock().now().to_msg()
        transforms = []
        if self.publish_tf:
            transforms += [transform_stamped(parent, child, pos, quat, stamp=stamp)
                           for parent, child, pos, quat in self.measured.static_transforms()]
        if self.commanded is not None:
            prefix = self.ghost_prefix
            # The ghost's root sits on the real world frame; everything below is prefixed.
            for parent, child, pos, quat in self.commanded.static_transforms():
                transforms.append(transform_stamped(
                    parent if parent == self.profile.world_frame else prefix + parent,
                    prefix + child, pos, quat, stamp=stamp))
        if transforms:
            self.tf_static_pub.publish(TFMessage(transforms=transforms))

    def _positions(self, msg: JointState, what: str):
        """Known joint names -> finite positions of a message, or None (counted, warned)."""
        if len(msg.name) != len(msg.position):
            self._reject(f'{what} with {len(msg.name)} names and {len(msg.position)} '
                         'positions')
            return None
        positions = {}
        for name, value in zip(msg.name, msg.position):
            if name not in self.joint_names:
                self.counts['unknown_names'] += 1
                continue
            if not math.isfinite(value):
                self._reject(f'{what} with a non-finite position for {name}')
                return None
            positions[name] = float(value)
        return positions

    def _reject(self, why: str):
        self.counts['rejected'] += 1
        self.get_logger().warning(f'dropped {why}', throttle_duration_sec=2.0)

    def _due(self, which: str) -> bool:
        if self.max_rate <= 0:
            return True
        now = self.wall.now().nanoseconds * 1e-9
        if now - self.last_sent[which] < 1.0 / self.max_rate:
            return False
        self.last_sent[which] = now
        return True

    def _on_joint_states(self, msg: JointState):
        self.counts['joint_states'] += 1
        if not self.publish_tf or not self._due('measured'):
            return
        positions = self._positions(msg, 'joint_states')
        if positions:
            self._send(self.measured.transforms(positions), msg.header.stamp, '')

    def _on_command(self, msg: JointState):
        self.counts['commands'] += 1
        if not self._due('commanded'):
            return
        positions = self._positions(msg, 'hand/command')
        if positions:
            self._send(self.commanded.transforms(positions), msg.header.stamp,
                       self.ghost_prefix)

    def _send(self, transforms, stamp, prefix: str):
        self.tf_pub.publish(TFMessage(transforms=[
            transform_stamped(prefix + parent, prefix + child, pos, quat, stamp=stamp)
            for parent, child, pos, quat in transforms]))

    def _publish_diagnostics(self):
        level, message = diagnostics.OK, 'publishing'
        if self.publish_tf and self.counts['joint_states'] == 0:
            level, message = diagnostics.WARN, 'no joint_states received yet'
        elif self.counts['rejected']:
            level, message = diagnostics.WARN, 'dropped unusable joint states or commands'
        status = diagnostics.status('hand_description', level, message,
                                    links=len(self.measured.links), **self.counts)
        self.diag_pub.publish(diagnostics.array(self.get_clock().now().to_msg(), status))


def main(args=None):
    return run_node(HandDescriptionNode, args)


if __name__ == '__main__':
    sys.exit(main())
