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
The sim_bridge node: HandSim on the topics the real hand and camera drivers speak.

A physics thread steps the simulator in chunks of 1/clock_rate simulated seconds, paced to the
wall clock, applies the newest accepted command, and publishes /clock, /joint_states,
/cube/pose_gt, the true cube on /tf and the camera images (each at its rate, images only while
subscribed); the hand's links on TF come from hand_description, as on the robot.
The executor thread serves subscriptions and services; both share the simulator under a lock.
"""
import math
import os
import signal
import sys
import threading
import time
import traceback

from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseWithCovarianceStamped
from hand_control.hand_profile import load_hand_profile
from inhand import diagnostics, qos
from inhand.config import ConfigError
from inhand.cube_markers import load_cube_markers
# Before mujoco is imported (it reads MUJOCO_GL once): a backend that needs no display.
from inhand.hand_model import CameraRig, load_camera_rig, load_scene_config
from inhand.headless import CHOSEN_GL_BACKEND
from inhand.messages import (image_to_msg, JointCommandError, parse_joint_command, pose_to_msg,
                             sec_to_stamp, transform_stamped)
from inhand.ros_runtime import declare, run_node
import mujoco
import numpy as np
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from sim_bridge.camera_worker import CameraWorker
from sim_bridge.pacing import RealTimePacer, Schedule
from sim_bridge.simulator import HandSim, SimulationUnstable
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger
from tf2_msgs.msg import TFMessage


class SimBridgeNode(Node):
    """MuJoCo hand + cube + cameras behind the real drivers' topics and a few services."""

    def __init__(self):
        super().__init__('sim_bridge')
        p = {
            'hand': declare(self, 'hand', 'shadow', 'Hand profile name or path.'),
            'scene': declare(self, 'scene', 'sim/scene.yaml', 'Scene config file.'),
            'camera_rig': declare(self, 'camera_rig', '',
                                  "Camera rig config file; empty: the scene's camera_rig."),
            'cube_markers': declare(self, 'cube_markers', '',
                                    'Cube description file (size, markers); empty: the '
                                    "scene's cube.markers."),
            'rtf': declare(self, 'real_time_factor', 1.0,
                           'Sim speed relative to the wall clock; 0 = as fast as possible.'),
            'clock_rate': declare(self, 'clock_rate', 200.0,
                                  'Hz (sim time) of /clock and of applying commands.'),
            'joint_state_rate': declare(self, 'joint_state_rate', 100.0,
                                        'Hz (sim time) of /joint_states.'),
            'tf_rate': declare(self, 'tf_rate', 50.0,
                               'Hz (sim time) of the true cube (world -> cube) on /tf.'),
            'cube_pose_rate': declare(self, 'cube_pose_rate', 100.0,
                                      'Hz (sim time) of /cube/pose_gt.'),
            'ground_truth': declare(self, 'publish_ground_truth', True,
                                    'Publish /cube/pose_gt and the world->cube transform.'),
            'cameras': declare(self, 'enable_cameras', True,
                               'Render and publish camera images (only while subscribed).'),
            'randomize': declare(self, 'randomize_on_reset', False,
                                 'Apply domain randomization at every reset.'),
            'seed': declare(self, 'seed', 0, 'Seed of resets and randomization.'),
            'render_niceness': declare(self, 'render_niceness', 10,
                                       'Nice increment of the camera rendering thread (0-19): '
                                       'rendering yields the CPU to latency-bound nodes '
                                       '(cube_pose, limiter, policy) on small machines.'),
            'camera_wait': declare(self, 'camera_wait', 0.25,
                                   'Seconds (wall) the simulation may wait for the previous '
                                   'camera set to finish rendering before the next is due: a '
                                   'starved render thread then slows the simulated world (as '
                                   'a paused one, no catch-up burst) instead of losing frames. '
                                   '0: never wait, drop the older set.'),
        }
        if p['rtf'] < 0 or p['clock_rate'] <= 0:
            raise ConfigError('real_time_factor must be >= 0 and clock_rate > 0')
        if not 0.0 <= p['camera_wait'] < 1.0:
            raise ConfigError(f'camera_wait must be in [0, 1) s (the nodes take a /clock '
                              f'silent for 1 s as a stalled clock), got {p["camera_wait"]}')
        if not 0 <= p['render_niceness'] <= 19:
            raise ConfigError(f'render_niceness must be in 0..19, got {p["render_niceness"]}')
        self.params = p
        self.profile = load_hand_profile(p['hand'])
        scene = load_scene_config(p['scene'])
        rig = load_camera_rig(p['camera_rig'] or scene.camera_rig) if p['cameras'] \
            else CameraRig.empty()
        cube = load_cube_markers(p['cube_markers'] or scene.cube_markers)
        self.sim = HandSim(profile=self.profile, scene=scene,
                           rig=rig, cube=cube, seed=p['seed'])
        self.rng = np.random.default_rng(p['seed'])
        self.lock = threading.Lock()
        self.pacer = RealTimePacer(p['rtf'])
        self.commandable = {n: i for i, n in enumerate(self.profile.actuated_joint_names)}
        self.pending_command = {}
        self.rejected = 0
        self.accepted = 0
        self.paused = False
        self.step_request = 0
        self.dropped = False
        self.unstable = 0
        self.camera_wait_s = 0.0           # wall seconds the world stood still for its cameras
        self.restart_pacing = False

        self.clock_pub = self.create_publisher(Clock, '/clock', 10)
        self.joint_pub = self.create_publisher(JointState, 'joint_states', qos.SENSOR_PUB)
        self.cube_pub = self.create_publisher(PoseWithCovarianceStamped, 'cube/pose_gt',
                                              qos.SENSOR_PUB)
        self.tf_pub = self.create_publisher(TFMessage, '/tf', qos.TF)
        self.tf_static_pub = self.create_publisher(TFMessage, '/tf_static', qos.LATCHED)
        self.drop_pub = self.create_publisher(Bool, 'cube/dropped', qos.LATCHED)
        self.diag_pub = self.create_publisher(diagnostics.DiagnosticArray, '/diagnostics', 10)
        self.cameras = {}
        for name in (self.sim.camera_names if p['cameras'] else []):
            spec = self.sim.camera(name)
            self.cameras[name] = ({
                'spec': spec, 'schedule': Schedule(spec.rate_hz), 'info': self._camera_info(spec),
                'image': self.create_publisher(Image, f'cameras/{name}/image_raw',
                                               qos.SENSOR_PUB),
                'info_pub': self.create_publisher(CameraInfo, f'cameras/{name}/camera_info',
                                                  qos.SENSOR_PUB)})
        model = self.sim.model
        self.camera_worker = CameraWorker(
            model, {n: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, n)
                    for n in self.cameras},
            {n: (c['spec'].height, c['spec'].width) for n, c in self.cameras.items()},
            self._publish_camera, niceness=p['render_niceness'])
        self.create_subscription(JointState, 'hand/command', self._on_command, qos.COMMAND)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.create_service(Trigger, '~/reset_random', self._on_reset_random)
        self.create_service(SetBool, '~/pause', self._on_pause)
        self.create_service(Trigger, '~/step', self._on_step)

        self.schedules = {k: Schedule(p[k]) for k in ('joint_state_rate', 'tf_rate',
                                                      'cube_pose_rate')}
        self._publish_static_tf()
        self.drop_pub.publish(Bool(data=False))
        self.create_timer(1.0, self._publish_diagnostics)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._physics_loop, name='physics', daemon=True)
        self._thread.start()
        self.get_logger().info(
            f'simulating {self.profile.name} ({len(self.profile.actuated_joint_names)} actuated '
            f'joints), {len(self.cameras)} camera(s), real_time_factor {p["rtf"]:g}; '
            f'rendering: {CHOSEN_GL_BACKEND}')

    # ----------------------------------------------------------------- executor callbacks
    def _on_command(self, msg: JointState):
        try:
            names, positions = parse_joint_command(msg, self.commandable)
        except JointCommandError as exc:
            self.rejected += 1
            self.get_logger().warning(
                f'rejected /hand/command: {exc} ({self.rejected} so far)',
                throttle_duration_sec=1.0)
            return
        with self.lock:
            # Merge, newest value per joint: two subsets within one physics chunk both apply.
            self.pending_command.update(zip(names, positions))
            self.accepted += 1

    def _reset(self, randomize_cube: bool, response):
        with self.lock:
            seed = int(self.rng.integers(2**31))
            applied = self.sim.randomize(rng=np.random.default_rng(seed)) \
                if self.params['randomize'] else {}
            self.sim.reset(randomize_cube=randomize_cube, rng_seed=seed)
            self.pending_command = {}
            if applied:
                # Camera jitter moved the cameras: publish where they are now.
                for name, camera in self.cameras.items():
                    camera['spec'] = self.sim.camera(name)
                self._publish_static_tf()
        response.success = True
        response.message = 'reset: hand home, cube ' + ('random' if randomize_cube else 'nominal')
        self.get_logger().info(response.message)
        return response

    def _on_reset(self, _request, response):
        return self._reset(False, response)

    def _on_reset_random(self, _request, response):
        return self._reset(True, response)

    def _on_pause(self, request, response):
        with self.lock:
            self.paused = bool(request.data)
            self.restart_pacing = True   # the physics thread owns the pacer
        response.success = True
        response.message = 'paused' if self.paused else 'running'
        return response

    def _on_step(self, _request, response):
        if not self.paused:
            response.success = False
            response.message = 'step works only while paused (call ~/pause true first)'
            return response
        with self.lock:
            self.step_request += 1
        response.success = True
        response.message = f'stepping {1.0 / self.params["clock_rate"]:g} s'
        return response

    # ------------------------------------------------------------------- physics thread
    def _physics_loop(self):
        chunk_steps = max(1, round(1.0 / (self.params['clock_rate'] * self.sim.timestep)))
        try:
            while not self._stop.is_set():
                with self.lock:
                    run = not self.paused or self.step_request > 0
                    if run:
                        if self.step_request:
                            self.step_request -= 1
                        if self.pending_command:
                            self.sim.set_targets(list(self.pending_command),
                                                 list(self.pending_command.values()))
                            self.pending_command = {}
                        if self.restart_pacing:
                            self.pacer.reset()
                            self.restart_pacing = False
                        try:
                            self.sim.step(chunk_steps)
                        except SimulationUnstable as exc:
                            # The core already put the hand home; say so and carry on.
                            self.unstable += 1
                            self.get_logger().error(f'physics went unstable, hand reset: {exc}')
                    now = self.sim.time
                    if run:
                        self._publish_state(now)
                if not run:
                    time.sleep(0.01)
                    continue
                self._wait_for_cameras(now + chunk_steps * self.sim.timestep)
                sleep = self.pacer.sleep_needed(time.monotonic(), now)
                if sleep > 0:
                    self._stop.wait(sleep)
        except Exception as exc:  # noqa: B902 - report, then let the node die loudly
            if not self.context.ok():
                return   # SIGINT/SIGTERM shut the context down under us: a normal stop
            self.get_logger().fatal(f'physics thread crashed: {exc!r}')
            traceback.print_exc()
            self.fatal_error = f'physics thread crashed: {exc!r}'
            os.kill(os.getpid(), signal.SIGTERM)
        finally:
            # The renderers' GL contexts belong to the threads that made them.
            self.camera_worker.close()
            self.sim.close()

    def _wait_for_cameras(self, next_time: float):
        """Before a step that makes a camera set due, let the previous set finish rendering."""
        limit = self.params['camera_wait']
        if limit <= 0 or not any(c['schedule'].fires_by(next_time)
                                 for c in self.cameras.values()):
            return
        waited = self.camera_worker.wait_idle(limit)
        if waited > 1e-3:
            self.pacer.postpone(waited)
            self.camera_wait_s += waited

    def _publish_state(self, now: float):
        stamp = sec_to_stamp(now)
        self.clock_pub.publish(Clock(clock=stamp))
        if self.schedules['joint_state_rate'].due(now):
            pos, vel, eff = self.sim.joint_state()
            msg = JointState(name=list(self.profile.joint_names), position=pos.tolist(),
                             velocity=vel.tolist(), effort=eff.tolist())
            msg.header.stamp = stamp
            self.joint_pub.publish(msg)
        if self.schedules['tf_rate'].due(now):
            self._publish_tf(stamp)
        if self.params['ground_truth'] and self.schedules['cube_pose_rate'].due(now):
            msg = PoseWithCovarianceStamped()
            msg.header.stamp = stamp
            msg.header.frame_id = self.profile.world_frame
            pose_to_msg(*self.sim.cube_pose(), msg.pose.pose)
            msg.pose.covariance = [0.0] * 36   # ground truth: exact
            self.cube_pub.publish(msg)
        dropped = self.sim.cube_dropped()
        if dropped != self.dropped:
            self.dropped = dropped
            self.drop_pub.publish(Bool(data=dropped))
            if dropped:
                self.get_logger().warning('cube dropped (below the palm); call ~/reset')
        due = [name for name, camera in self.cameras.items()
               if camera['schedule'].due(now) and (
                   camera['image'].get_subscription_count() > 0
                   or camera['info_pub'].get_subscription_count() > 0)]
        if due:
            if self.camera_worker.error is not None:
                raise RuntimeError(f'camera rendering failed: {self.camera_worker.error!r}')
            self.camera_worker.submit(stamp, self.sim.data, due)

    def _publish_camera(self, stamp: Time, name: str, image):
        """Publish one rendered frame with its camera_info (called by the camera worker)."""
        camera = self.cameras[name]
        camera['image'].publish(image_to_msg(image, stamp, camera['spec'].frame_id))
        info = camera['info']
        info.header.stamp = stamp
        camera['info_pub'].publish(info)

    @staticmethod
    def _camera_info(spec) -> CameraInfo:
        info = CameraInfo(width=spec.width, height=spec.height, distortion_model='plumb_bob')
        info.header.frame_id = spec.frame_id
        k = np.asarray(spec.K, dtype=float)
        info.k = k.flatten().tolist()
        info.d = [0.0] * 5
        info.r = np.eye(3).flatten().tolist()
        info.p = np.hstack([k, np.zeros((3, 1))]).flatten().tolist()
        return info

    def _publish_tf(self, stamp):
        # Only what a real hand's drivers would not give: the true cube. The hand's links come
        # from /joint_states through hand_description (or robot_state_publisher), as on the
        # robot, so the sim and the real hand show the same TF tree.
        if self.params['ground_truth']:
            self.tf_pub.publish(TFMessage(transforms=[transform_stamped(
                self.profile.world_frame, 'cube', *self.sim.cube_pose(), stamp=stamp)]))

    def _publish_static_tf(self):
        stamp = sec_to_stamp(self.sim.time)
        transforms = [transform_stamped(self.profile.world_frame, c['spec'].frame_id,
                                        c['spec'].position, c['spec'].quat_wxyz, stamp=stamp)
                      for c in self.cameras.values()]
        if transforms:
            self.tf_static_pub.publish(TFMessage(transforms=transforms))

    # ------------------------------------------------------------------- diagnostics
    def _publish_diagnostics(self):
        factor = self.pacer.achieved_factor()
        target = self.params['rtf']
        level, message = diagnostics.OK, 'running'
        if self.paused:
            message = 'paused'
        elif self.unstable:
            level, message = diagnostics.ERROR, f'physics went unstable {self.unstable} time(s)'
        elif self.dropped:
            level, message = diagnostics.WARN, 'cube dropped'
        elif target > 0 and math.isfinite(factor) and factor < 0.9 * target:
            level, message = diagnostics.WARN, f'slower than requested ({factor:.2f}x)'
        renders = {f'render_ms_{k}': 1000 * v
                   for k, v in self.camera_worker.render_times().items()}
        renders['camera_sets_dropped'] = self.camera_worker.dropped_sets
        renders['camera_sets_rendered'] = self.camera_worker.rendered_sets
        renders['camera_wait_s'] = round(self.camera_wait_s, 3)
        status = diagnostics.status(
            'sim_bridge: simulation', level, message, hardware_id='mujoco',
            real_time_factor=factor, requested_real_time_factor=float(target),
            sim_time=float(self.sim.time), commands_accepted=self.accepted,
            commands_rejected=self.rejected, cube_dropped=self.dropped, **renders)
        self.diag_pub.publish(diagnostics.array(self.get_clock().now().to_msg(), status))

    def close(self):
        """Stop the physics thread (run_node calls this before destroying the node)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)


def main(args=None):
    return run_node(SimBridgeNode, args)


if __name__ == '__main__':
    sys.exit(main())
