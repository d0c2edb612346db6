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
The scene_markers node: what rviz cannot draw from poses and TF alone, as one MarkerArray.

On /inhand/markers (visualization_msgs/MarkerArray), at `rate` Hz of wall time:

- cube_estimate: the cube at /cube/pose with face colours (x red, y green, z blue; + bright,
  - dark) and its 2-sigma position ellipsoid; grey once older than stale_after;
- cube_truth: the simulator's /cube/pose_gt as a wireframe (sim only);
- goal: the goal orientation (/goal/pose), a translucent face-coloured cube beside the hand;
- camera_frusta: each camera's viewing volume from its camera_info, in its optical frame;
- limiter: the safety_limiter's state from /diagnostics as text above the hand, coloured by
  level;
- joints: a sphere at each actuated joint of the commanded hand (the ghost's frames): orange
  where the limiter changed the raw command (/hand/command_raw vs /hand/command), red where
  the command is at a joint limit; invisible otherwise.

Runs on the robot as in simulation; nothing here depends on the simulator. Unusable inputs
(non-finite poses, bad covariances, wrong intrinsics) are skipped with a throttled warning.
"""
import math
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point, PoseStamped, PoseWithCovarianceStamped
from hand_control.description import HandDescription
from hand_control.hand_profile import load_hand_profile
from inhand import qos, scene_markers
from inhand.config import ConfigError
from inhand.cube_markers import load_cube_markers
from inhand.hand_model import build_model, load_camera_rig, load_scene_config
from inhand.messages import msg_to_pose, pose_to_msg
from inhand.ros_runtime import declare, run_node
import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, JointState
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

LEVEL_COLOURS = {0: (0.3, 0.9, 0.3), 1: (1.0, 0.8, 0.1), 2: (1.0, 0.25, 0.2), 3: (0.6, 0.6, 0.6)}
JOINT_COLOURS = {scene_markers.JOINT_AT_LIMIT: (1.0, 0.1, 0.1, 0.9),
                 scene_markers.JOINT_CLAMPED: (1.0, 0.55, 0.0, 0.9)}


def _colour(r, g, b, a=1.0) -> ColorRGBA:
    return ColorRGBA(r=float(r), g=float(g), b=float(b), a=float(a))


def _points(array) -> list:
    return [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in array]


class SceneMarkersNode(Node):
    """Cube estimate, truth, goal, camera frusta, limiter state and joint flags for rviz."""

    def __init__(self):
        super().__init__('scene_markers')
        hand = declare(self, 'hand', 'shadow', 'Hand profile name or path.')
        scene = declare(self, 'scene', 'sim/scene.yaml', 'Scene config: the hand mount.')
        cube = declare(self, 'cube', '',
                       "Cube description (its size); empty: the scene's cube.markers.")
        rig = declare(self, 'camera_rig', '',
                      'Camera rig: the names of the cameras whose frusta are drawn; empty: the '
                      "scene's camera_rig.")
        self.namespace = declare(self, 'camera_namespace', '/cameras',
                                 'camera_info topics are <camera_namespace>/<name>/camera_info.')
        self.world = declare(self, 'world_frame', 'world', 'Frame of the cube and goal poses.')
        self.ghost_prefix = declare(self, 'ghost_prefix', 'commanded/',
                                    'TF prefix of the commanded hand (hand_description).')
        rate = declare(self, 'rate', 10.0, 'MarkerArray messages per second (wall clock).')
        self.stale_after = declare(self, 'stale_after', 1.0,
                                   'A cube estimate older than this [s, wall] turns grey.')
        self.frustum_depth = declare(self, 'frustum_depth', 0.08,
                                     'Length of the drawn camera frusta [m].')
        self.limit_margin = declare(self, 'limit_margin', 0.02,
                                    'A commanded joint this close to a limit is red [rad].')
        self.clamp_tolerance = declare(self, 'clamp_tolerance', 0.01,
                                       'A command changed by more than this is orange [rad].')
        if rate <= 0 or self.frustum_depth <= 0 or self.stale_after <= 0:
            raise ConfigError('scene_markers: rate, frustum_depth and stale_after must be > 0')
        self.profile = load_hand_profile(hand)
        scene_config = load_scene_config(scene)
        self.cube_size = load_cube_markers(cube or scene_config.cube_markers).cube_size
        self.cameras = load_camera_rig(rig or scene_config.camera_rig).names
        description = HandDescription(self.profile, build_model(self.profile, scene_config))
        child_of = {j.name: j.child for j in description.movable}
        self.joint_names = list(self.profile.actuated_joint_names)
        self.joint_links = [child_of[n] for n in self.joint_names]
        act = self.profile.actuated_indices
        self.lower, self.upper = self.profile.lower[act], self.profile.upper[act]
        self.palm_frame = self.profile.palm_frame
        self.faces = scene_markers.cube_faces(self.cube_size)
        self.edges = scene_markers.cube_edges(self.cube_size)

        self.estimate = self.truth = self.goal = None          # (msg, wall time)
        self.commanded = np.full(len(self.joint_names), np.nan)
        self.requested = np.full(len(self.joint_names), np.nan)
        self.infos = {}
        self.limiter = None
        self.skipped = 0
        self.wall = Clock(clock_type=ClockType.STEADY_TIME)

        self.pub = self.create_publisher(MarkerArray, '/inhand/markers', 10)
        sub = self.create_subscription
        sub(PoseWithCovarianceStamped, 'cube/pose',
            lambda m: self._keep('estimate', m), qos.SENSOR_SUB)
        sub(PoseWithCovarianceStamped, 'cube/pose_gt',
            lambda m: self._keep('truth', m), qos.SENSOR_SUB)
        sub(PoseStamped, 'goal/pose', lambda m: self._keep('goal', m), qos.LATCHED)
        sub(JointState, 'hand/command', lambda m: self._on_joints(m, self.commanded),
            qos.COMMAND)
        sub(JointState, 'hand/command_raw', lambda m: self._on_joints(m, self.requested),
            qos.COMMAND)
        sub(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        for name in self.cameras:
            sub(CameraInfo, f'{self.namespace}/{name}/camera_info',
                lambda m, n=name: self.infos.__setitem__(n, m), qos.SENSOR_SUB)
        self.create_timer(1.0 / rate, self._publish, clock=self.wall)

    # ------------------------------------------------------------------ inputs

    def _keep(self, which: str, msg):
        pose = msg.pose.pose if isinstance(msg, PoseWithCovarianceStamped) else msg.pose
        position, quat = msg_to_pose(pose)
        if not (np.all(np.isfinite(position)) and np.all(np.isfinite(quat))
                and abs(np.linalg.norm(quat) - 1.0) < 1e-3):
            self._skip(f'{which} pose with non-finite values or a non-unit quaternion')
            return
        setattr(self, which, (msg, time.monotonic()))

    def _on_joints(self, msg: JointState, into: np.ndarray):
        if len(msg.name) != len(msg.position):
            self._skip('joint command with mismatched names and positions')
            return
        index = {n: i for i, n in enumerate(self.joint_names)}
        for name, value in zip(msg.name, msg.position):
            if name in index and math.isfinite(value):
                into[index[name]] = value

    def _on_diagnostics(self, msg: DiagnosticArray):
        for status in msg.status:
            if status.name == 'safety_limiter: state':
                level = status.level[0] if isinstance(status.level, bytes) else status.level
                values = {kv.key: kv.value for kv in status.values}
                self.limiter = (int(level), status.message, values.get('mode', ''))

    def _skip(self, why: str):
        self.skipped += 1
        self.get_logger().warning(f'skipped {why}', throttle_duration_sec=5.0)

    # ------------------------------------------------------------------ output

    def _marker(self, ns: str, kind: int, frame: str, marker_id=0, stamp=None) -> Marker:
        marker = Marker(ns=ns, id=marker_id, type=kind, action=Marker.ADD)
        marker.header.frame_id = frame
        if stamp is not None:
            marker.header.stamp = stamp
        marker.pose.orientation.w = 1.0
        marker.scale.x = marker.scale.y = marker.scale.z = 1.0
        return marker

    def _publish(self):
        markers = []
        now = time.monotonic()
        if self.estimate is not None:
            markers += self._estimate_markers(*self.estimate, now)
        if self.truth is not None:
            msg = self.truth[0]
            wire = self._marker('cube_truth', Marker.LINE_LIST, self.world,
                                stamp=msg.header.stamp)
            wire.pose = msg.pose.pose
            wire.scale.x = 0.0015
            wire.color = _colour(0.1, 1.0, 0.1)
            wire.points = _points(self.edges)
            markers.append(wire)
        if self.goal is not None:
            msg = self.goal[0]
            goal = self._marker('goal', Marker.TRIANGLE_LIST, self.world)
            goal.pose = msg.pose
            goal.points = _points(self.faces[0])
            goal.colors = [_colour(*c[:3], 0.35) for c in self.faces[1]]
            markers.append(goal)
        for k, name in enumerate(self.cameras):
            if name in self.infos:
                frustum = self._frustum(k, self.infos[name])
                if frustum is not None:
                    markers.append(frustum)
        if self.limiter is not None:
            level, message, mode = self.limiter
            text = self._marker('limiter', Marker.TEXT_VIEW_FACING, self.palm_frame)
            text.pose.position.z = 0.12
            text.scale.z = 0.014
            text.text = f'limiter: {mode or "?"} - {message}'
            text.color = _colour(*LEVEL_COLOURS.get(level, LEVEL_COLOURS[3]))
            markers.append(text)
        markers += self._joint_markers()
        self.pub.publish(MarkerArray(markers=markers))

    def _estimate_markers(self, msg, received, now) -> list:
        stale = now - received > self.stale_after
        cube = self._marker('cube_estimate', Marker.TRIANGLE_LIST, self.world,
                            stamp=msg.header.stamp)
        cube.pose = msg.pose.pose
        cube.points = _points(self.faces[0])
        cube.colors = [_colour(0.5, 0.5, 0.5, 0.6) if stale else _colour(*c[:3], 0.9)
                       for c in self.faces[1]]
        out = [cube]
        covariance = np.asarray(msg.pose.covariance, dtype=float).reshape(6, 6)[:3, :3]
        try:
            diameters, quat = scene_markers.covariance_ellipsoid(covariance)
        except ValueError as exc:
            self._skip(f'cube pose covariance: {exc}')
            return out
        if diameters.max() > 0:
            ellipsoid = self._marker('cube_estimate', Marker.SPHERE, self.world, marker_id=1,
                                     stamp=msg.header.stamp)
            p = msg.pose.pose.position
            pose_to_msg([p.x, p.y, p.z], quat, ellipsoid.pose)
            ellipsoid.scale.x, ellipsoid.scale.y, ellipsoid.scale.z = (
                float(max(d, 1e-4)) for d in diameters)
            ellipsoid.color = _colour(1.0, 0.9, 0.2, 0.35)
            out.append(ellipsoid)
        return out

    def _frustum(self, k: int, info: CameraInfo):
        try:
            lines = scene_markers.frustum_lines(info.k, info.width, info.height,
                                                self.frustum_depth)
        except ValueError as exc:
            self._skip(f'camera_info of {self.cameras[k]}: {exc}')
            return None
        frustum = self._marker('camera_frusta', Marker.LINE_LIST, info.header.frame_id,
                               marker_id=k)
        frustum.scale.x = 0.001
        frustum.color = _colour(0.8, 0.8, 0.8, 0.8)
        frustum.points = _points(lines)
        return frustum

    def _joint_markers(self) -> list:
        if not np.all(np.isfinite(self.commanded)):
            return []
        states = scene_markers.joint_states(self.commanded, self.lower, self.upper,
                                            self.requested, self.limit_margin,
                                            self.clamp_tolerance)
        out = []
        for k, (link, state) in enumerate(zip(self.joint_links, states)):
            sphere = self._marker('joints', Marker.SPHERE, self.ghost_prefix + link,
                                  marker_id=k)
            sphere.scale.x = sphere.scale.y = sphere.scale.z = 0.012
            sphere.frame_locked = True
            sphere.color = _colour(*JOINT_COLOURS.get(int(state), (0.0, 0.0, 0.0, 0.0)))
            out.append(sphere)
        return out


def main(args=None):
    return run_node(SceneMarkersNode, args)


if __name__ == '__main__':
    sys.exit(main())
