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
The viewer node: the graph in a browser, without ROS tools (a Rerun web viewer on localhost).

`inhand launch bringup viewer:=true` starts it; it prints the URL to open. It shows what rviz
shows: the hand's meshes at the measured joints (/joint_states) and, translucent orange, at
the commanded ones (/hand/command); the cube estimate (face colours as in rviz), the truth
(sim, green wireframe) and the goal; each camera's image (its detection overlay when cube_pose
publishes one); and time series of every actuated joint (measured and commanded) and of the
limiter's state. Everything is on the `ros_time` timeline (message stamps: sim time in sim),
so the viewer can scrub back through the run.

The viewer's servers (gRPC for the data, HTTP for the web app) listen on the given ports;
open the URL on this computer, or tunnel the ports (ssh -L) from another one.
"""
import math
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from hand_control.description import HandDescription
from hand_control.hand_profile import load_hand_profile
from inhand import qos, scene_markers
from inhand.config import ConfigError
from inhand.cube_markers import load_cube_markers
from inhand.hand_model import build_model, load_camera_rig, load_scene_config
from inhand.messages import msg_to_image, msg_to_pose, stamp_to_sec
from inhand.ros_runtime import declare, run_node
from inhand.transforms import xyzw_from_wxyz
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState

# Blue-grey (not MuJoCo's near-white, invisible on the viewer's light background) and a
# translucent orange for the commanded ghost.
MEASURED_RGBA = (110, 130, 165, 255)
GHOST_RGBA = (255, 140, 30, 90)
LEVELS = {0: 'OK', 1: 'WARN', 2: 'ERROR', 3: 'STALE'}


def viewer_url(web_port: int, grpc_port: int) -> str:
    """Return the address that opens the web viewer connected to this node's data."""
    return (f'http://localhost:{web_port}/?url=rerun%2Bhttp://127.0.0.1:{grpc_port}/proxy')


class ViewerNode(Node):
    """Logs the graph's state to a Rerun recording served to a local web viewer."""

    def __init__(self):
        super().__init__('viewer')
        import rerun as rr
        self.rr = rr
        hand = declare(self, 'hand', 'shadow', 'Hand profile name or path.')
        scene = declare(self, 'scene', 'sim/scene.yaml', 'Scene config: the hand mount.')
        cube = declare(self, 'cube', '',
                       "Cube description (its size); empty: the scene's cube.markers.")
        rig = declare(self, 'camera_rig', '',
                      'Camera rig: the cameras whose images are shown; empty: the '
                      "scene's camera_rig.")
        namespace = declare(self, 'camera_namespace', '/cameras',
                            'Images are <camera_namespace>/<name>/image_raw (or debug_image).')
        self.web_port = declare(self, 'web_port', 9090, 'Port of the web viewer (HTTP).')
        self.grpc_port = declare(self, 'grpc_port', 9876, 'Port of the data server (gRPC).')
        self.hand_rate = declare(self, 'hand_rate', 10.0,
                                 'Hand poses logged per second, each hand (wall clock).')
        self.image_rate = declare(self, 'image_rate', 5.0,
                                  'Images logged per second per camera; 0: no images.')
        memory = declare(self, 'memory_limit', '1GiB',
                         'Data the server keeps for late viewers (oldest dropped first).')
        if self.hand_rate <= 0 or self.image_rate < 0:
            raise ConfigError('viewer: hand_rate must be > 0 and image_rate >= 0')
        self.profile = load_hand_profile(hand)
        scene_config = load_scene_config(scene)
        model = build_model(self.profile, scene_config)
        rig = rig or scene_config.camera_rig
        self.measured = HandDescription(self.profile, model)
        self.commanded = HandDescription(self.profile, model)
        self.joint_names = set(self.profile.joint_names)
        self.actuated = list(self.profile.actuated_joint_names)
        self.cube_size = load_cube_markers(cube or scene_config.cube_markers).cube_size
        self.last = {}
        self.limiter_state = None

        rr.init('inhand', spawn=False)
        self.grpc_url = rr.serve_grpc(grpc_port=self.grpc_port, server_memory_limit=memory,
                                      default_blueprint=self._blueprint(load_camera_rig(rig)))
        rr.serve_web_viewer(web_port=self.web_port, open_browser=False,
                            connect_to=self.grpc_url)
        self._log_static()

        sub = self.create_subscription
        sub(JointState, 'joint_states', lambda m: self._on_joints(m, 'measured'),
            qos.SENSOR_SUB)
        sub(JointState, 'hand/command', lambda m: self._on_joints(m, 'commanded'),
            qos.COMMAND)
        sub(PoseWithCovarianceStamped, 'cube/pose',
            lambda m: self._on_pose('cube/estimate', m.header, m.pose.pose), qos.SENSOR_SUB)
        sub(PoseWithCovarianceStamped, 'cube/pose_gt',
            lambda m: self._on_pose('cube/truth', m.header, m.pose.pose), qos.SENSOR_SUB)
        sub(PoseStamped, 'goal/pose', lambda m: self._on_pose('goal', m.header, m.pose),
            qos.LATCHED)
        sub(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        if self.image_rate > 0:
            for name in load_camera_rig(rig).names:
                for kind in ('image_raw', 'debug_image'):
                    sub(Image, f'{namespace}/{name}/{kind}',
                        lambda m, n=name, k=kind: self._on_image(n, k, m), qos.SENSOR_SUB)
        self.get_logger().info(
            f'viewer: open {viewer_url(self.web_port, self.grpc_port)} in a browser')

    # ------------------------------------------------------------------ static scene

    def _blueprint(self, rig):
        """Return the layout: the 3D scene large; joints, limiter log and cameras beside it."""
        import rerun.blueprint as rrb
        cameras = [rrb.Spatial2DView(origin=f'cameras/{name}', name=name)
                   for name in rig.names] if self.image_rate > 0 else []
        side = [rrb.TimeSeriesView(origin='joints', name='joints [rad]'),
                rrb.TextLogView(origin='limiter', name='limiter')]
        if cameras:
            side.append(rrb.Horizontal(*cameras))
        return rrb.Blueprint(rrb.Horizontal(
            rrb.Spatial3DView(origin='/', name='hand and cube',
                              contents=['hand/**', 'cube/**', 'goal/**']),
            rrb.Vertical(*side), column_shares=[3, 2]), collapse_panels=True)

    def _log_static(self):
        rr = self.rr
        rr.log('/', rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
        for which in ('measured', 'commanded'):
            rr.log(f'joints/{which}', rr.SeriesLines(
                names=[f'{n} {which}' for n in self.actuated]), static=True)
        # Each hand's meshes go out with its first pose (a hand without joint positions yet
        # would be drawn with every link at the origin).
        self.hand_meshes = {'measured': [], 'commanded': []}
        for link, meshes in self.measured.visual_meshes().items():
            for k, (vertices, faces, _rgba) in enumerate(meshes):
                for which, colour in (('measured', MEASURED_RGBA), ('commanded', GHOST_RGBA)):
                    self.hand_meshes[which].append((f'hand/{which}/{link}/visual_{k}', rr.Mesh3D(
                        vertex_positions=vertices, triangle_indices=faces,
                        albedo_factor=list(colour))))
        faces, colours = scene_markers.cube_faces(self.cube_size)
        triangles = np.arange(len(faces)).reshape(-1, 3)
        rgb = (255 * colours[:, :3]).astype(np.uint8)
        edges = scene_markers.cube_edges(self.cube_size).reshape(-1, 2, 3)
        # Logged with the first pose of each: a cube nobody reports is not drawn at the origin.
        self.shapes = {
            'cube/estimate': rr.Mesh3D(vertex_positions=faces, triangle_indices=triangles,
                                       vertex_colors=rgb),
            'goal': rr.Mesh3D(vertex_positions=faces, triangle_indices=triangles,
                              vertex_colors=np.hstack([rgb, np.full((len(rgb), 1), 90,
                                                                    np.uint8)])),
            'cube/truth': rr.LineStrips3D(edges, colors=[[40, 230, 40]], radii=[0.0008])}

    # ------------------------------------------------------------------ inputs

    def _due(self, key, rate) -> bool:
        now = time.monotonic()
        if now - self.last.get(key, -math.inf) < 1.0 / rate:
            return False
        self.last[key] = now
        return True

    def _at(self, header):
        self.rr.set_time('ros_time', duration=stamp_to_sec(header.stamp))

    def _on_joints(self, msg: JointState, which: str):
        if len(msg.name) != len(msg.position):
            return
        positions = {n: float(v) for n, v in zip(msg.name, msg.position)
                     if n in self.joint_names and math.isfinite(v)}
        if not positions:
            return
        if not self._due(which, self.hand_rate):
            return
        rr = self.rr
        self._at(msg.header)
        # One entity per hand, a series per joint: one plot, few log calls.
        rr.log(f'joints/{which}', rr.Scalars([positions.get(n, math.nan)
                                              for n in self.actuated]))
        description = self.measured if which == 'measured' else self.commanded
        for link, (position, quat) in description.link_poses(positions).items():
            rr.log(f'hand/{which}/{link}', rr.Transform3D(
                translation=position, quaternion=rr.Quaternion(xyzw=xyzw_from_wxyz(quat))))
        for path, mesh in self.hand_meshes.pop(which, ()):
            rr.log(path, mesh, static=True)

    def _on_pose(self, path, header, pose):
        position, quat = msg_to_pose(pose)
        if not (np.all(np.isfinite(position)) and np.all(np.isfinite(quat))):
            return
        if not self._due(path, self.hand_rate):
            return
        shape = self.shapes.pop(path, None)
        if shape is not None:
            self.rr.log(f'{path}/shape', shape, static=True)
        self._at(header)
        self.rr.log(path, self.rr.Transform3D(
            translation=position, quaternion=self.rr.Quaternion(xyzw=xyzw_from_wxyz(quat))))

    def _on_image(self, name, kind, msg):
        # The detection overlay replaces the raw image once cube_pose publishes it.
        if kind == 'image_raw' and time.monotonic() - self.last.get((name, 'debug'), -10) < 2:
            return
        if kind == 'debug_image':
            self.last[(name, 'debug')] = time.monotonic()
        if not self._due((name, 'image'), self.image_rate):
            return
        try:
            image = msg_to_image(msg)
        except ValueError:
            return
        self._at(msg.header)
        self.rr.log(f'cameras/{name}', self.rr.Image(image))

    def _on_diagnostics(self, msg: DiagnosticArray):
        rr = self.rr
        for status in msg.status:
            if status.name != 'safety_limiter: state':
                continue
            level = status.level[0] if isinstance(status.level, bytes) else status.level
            self._at(msg.header)
            rr.log('limiter/level', rr.Scalars(float(level)))
            state = (level, status.message)
            if state != self.limiter_state:
                self.limiter_state = state
                rr.log('limiter/state', rr.TextLog(f'{LEVELS.get(level, level)}: '
                                                   f'{status.message}',
                                                   level=LEVELS.get(level, 'INFO')))

    def close(self):
        self.rr.disconnect()


def main(args=None):
    return run_node(ViewerNode, args)


if __name__ == '__main__':
    sys.exit(main())
