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
The cube_pose node: the cube's world pose from N calibrated cameras.

Subscribes, per camera <name> of the `cameras` parameter (sensor-data QoS):
  <camera_namespace>/<name>/image_raw     sensor_msgs/Image (rgb8, bgr8 or mono8)
  <camera_namespace>/<name>/camera_info   sensor_msgs/CameraInfo (intrinsics, validated)
  /tf_static                              world -> <camera optical frame> (extrinsics), unless
                                          extrinsics_source is `rig` (read the rig file)
Publishes:
  /cube/pose                              geometry_msgs/PoseWithCovarianceStamped in `world`,
                                          stamped with the image time, only for valid estimates
  <camera_namespace>/<name>/debug_image   markers and projected cube axes (publish_debug_images)
  /diagnostics                            estimator state (ok / degraded / lost and why), and
                                          per camera: calibration errors, silence, rejections,
                                          clock offset (left out of the sets when beyond slop,
                                          or when about a whole number of frame periods)

Frames are grouped by stamp (vision_pose.sync); the image callback that completes a set runs the
estimator and publishes at once. The estimator is chosen by name (`estimator`, registry in
vision_pose.estimator); its settings come from `estimator_config`.
"""
import collections
import concurrent.futures
import dataclasses
import sys
import time

import cv2
from geometry_msgs.msg import PoseWithCovarianceStamped
from inhand import diagnostics
from inhand.config import ConfigError, load_yaml
from inhand.hand_model import DEFAULT_RIG, load_scene_config
from inhand.large_buffers import keep_large_buffers
from inhand.messages import image_to_msg, msg_to_image, pose_to_msg, stamp_to_sec
from inhand.qos import SENSOR_PUB, SENSOR_SUB, TF_STATIC_SUB
from inhand.ros_runtime import declare, run_node
from inhand.transforms import wxyz_from_xyzw
import numpy as np
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from vision_pose.camera_model import (CameraModel, CameraModelError, Extrinsics,
                                      intrinsics_from_camera_info)
from vision_pose.debug_draw import draw_debug
from vision_pose.estimator import (available_estimators, CameraFrame, create_estimator,
                                   FrameSet, pose_matrix, Report)
from vision_pose.static_tf import StaticTransforms
from vision_pose.sync import FrameSync


IMAGE_QOS = {
    'sensor_data': SENSOR_SUB,
    'reliable': QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE,
                           history=HistoryPolicy.KEEP_LAST),
}


def rig_camera_names(rig_file: str) -> list:
    """Return the camera names listed in a rig file (config/cameras/*.yaml)."""
    data, path = load_yaml(rig_file)
    cameras = data.get('cameras')
    if not isinstance(cameras, list) or not cameras:
        raise ConfigError(f'{path}.cameras: expected a non-empty list')
    names = []
    for i, camera in enumerate(cameras):
        if not isinstance(camera, dict) or not isinstance(camera.get('name'), str):
            raise ConfigError(f'{path}.cameras[{i}].name: expected a string')
        names.append(camera['name'])
    return names


def rig_extrinsics(rig_file: str) -> dict:
    """Return {camera name: Extrinsics} from a rig file (the simulator's parser)."""
    from inhand.hand_model import load_camera_rig
    rig = load_camera_rig(rig_file)
    return {c.name: Extrinsics.from_pose(c.position, c.optical_quat, f'{rig.source}: {c.name}')
            for c in rig.cameras}


class _Camera:
    """What the node knows about one camera."""

    def __init__(self, name):
        self.name = name
        self.intrinsics = None
        self.info_error = 'no camera_info received'
        self.info_key = None
        self.frame_id = ''
        self.extrinsics = None
        self.images = 0
        self.rejected_images = 0
        self.last_accepted = None     # time.monotonic() of the last image used
        self.last_received = None     # ... and of the last image at all
        self.last_error = ''
        self.debug_pub = None

    def model(self):
        if self.intrinsics is None or self.extrinsics is None:
            return None
        return CameraModel(self.name, self.intrinsics, self.extrinsics)


class CubePoseNode(Node):
    """Estimate the cube pose from synchronised camera images."""

    def __init__(self):
        super().__init__('cube_pose')
        scene = declare(self, 'scene', '',
                        'Scene config (config/sim/*.yaml, config/hands/<hand>.scene.yaml): '
                        'its camera_rig and cube stand in for empty camera_rig and cube.')
        scene_config = load_scene_config(scene) if scene else None
        rig_file = declare(self, 'camera_rig', '',
                           'Camera rig file: the default camera names, and the extrinsics when '
                           "extrinsics_source is \"rig\". Empty: the scene's, else "
                           f'{DEFAULT_RIG}.') \
            or (scene_config.camera_rig if scene_config else DEFAULT_RIG)
        cube_file = declare(self, 'cube', '',
                            'Cube description (size, markers; config/cube/*.yaml): replaces the '
                            "estimator config's marker_layout. Empty: the scene's cube, else "
                            "the estimator config's.") \
            or (scene_config.cube_markers if scene_config else '')
        names = declare(self, 'cameras', rig_camera_names(rig_file),
                        'Names of the cameras to use (default: all cameras of camera_rig).')
        self.namespace = declare(self, 'camera_namespace', '/cameras',
                                 'Topics are <camera_namespace>/<name>/image_raw and '
                                 '/camera_info.').rstrip('/')
        source = declare(self, 'extrinsics_source', 'tf_static',
                         'Where camera poses come from: "tf_static" (world -> optical frame of '
                         'each camera_info) or "rig" (the camera_rig file).')
        self.world_frame = declare(self, 'world_frame', 'world',
                                   'Frame of the published pose and of the extrinsics.')
        estimator_name = declare(self, 'estimator', 'aruco',
                                 f'Estimator implementation (registered: '
                                 f'{", ".join(available_estimators())}) or '
                                 '"package.module:factory".')
        estimator_file = declare(self, 'estimator_config', 'vision/aruco_estimator.yaml',
                                 'Settings of the estimator (config/vision/*.yaml or a path).')
        slop = declare(self, 'sync_slop', 0.004,
                       'Frames whose stamps differ by at most this many seconds form a set.')
        silence = declare(self, 'silence_timeout', 0.5,
                          'A camera with no frame for this long (in stamp time) is left out '
                          'of the sets; the estimate is then degraded. So is a camera whose '
                          'frames match no set for this long (its clock is offset by more '
                          'than sync_slop): WARN with the offset in /diagnostics.')
        self.debug_images = declare(self, 'publish_debug_images', False,
                                    'Publish <camera_namespace>/<name>/debug_image overlays.')
        period = declare(self, 'diagnostics_period', 1.0, 'Seconds between /diagnostics.')
        image_qos = declare(self, 'image_qos', 'sensor_data',
                            'QoS of the image subscriptions: "sensor_data" (best effort, the ROS '
                            'convention) or "reliable" (large images over UDP: best effort '
                            'loses most 640x480 frames when a socket buffer overflows).')
        check_misstamped = declare(
            self, 'leave_out_misstamped', True,
            'With 3 or more cameras, leave out a camera whose clock is off by about a whole '
            'number of frame periods (its frames match the sets but show other instants; '
            "measured from the stamps' delay against the other cameras'). WARN either way.")
        workers = declare(self, 'preprocess_threads', 2,
                          "Threads that run the estimator's per-image step (marker detection) "
                          'as images arrive, several cameras at once; 0 runs it in the image '
                          'callback. For machines with cores to spare: on 2 shared cores, 0 '
                          'and 2 measured the same (docs/vision.md).')
        keep_buffers = declare(
            self, 'keep_image_buffers', True,
            'Let malloc reuse image-sized buffers instead of mapping fresh pages for each '
            'message (glibc; inhand.large_buffers). Three 640x480 images arriving together: the '
            "last one's callback starts under 1 ms after its reception instead of about 5 ms "
            '(bench/bench_image_transport.py).')
        threads = declare(self, 'opencv_threads', 1,
                          'Threads OpenCV may use (0: its default, one per core). One keeps '
                          'the latency steady when the cores are shared with the simulator.')

        if image_qos not in IMAGE_QOS:
            raise ConfigError(f'image_qos: must be one of {sorted(IMAGE_QOS)}, got {image_qos!r}')
        if threads < 0:
            raise ConfigError(f'opencv_threads: must be >= 0, got {threads}')
        if workers < 0:
            raise ConfigError(f'preprocess_threads: must be >= 0, got {workers}')
        cv2.setNumThreads(threads if threads > 0 else -1)
        if keep_buffers:
            why_not = keep_large_buffers()
            if why_not:
                self.get_logger().warning(f'keep_image_buffers: {why_not}')
        if not names or len(set(names)) != len(names) or not all(names):
            raise ConfigError(f'cameras: need distinct non-empty names, got {list(names)}')
        if source not in ('tf_static', 'rig'):
            raise ConfigError(f'extrinsics_source: must be "tf_static" or "rig", got {source!r}')
        data, path = load_yaml(estimator_file)
        if cube_file and (estimator_name == 'aruco' or 'marker_layout' in data):
            # The estimator's settings as written, but for the cube this scene has.
            data = dict(data, marker_layout=cube_file)
        try:
            self.estimator = create_estimator(estimator_name, data)
        except (ValueError, KeyError) as exc:
            raise ConfigError(f'{path}: {exc}') from exc
        try:
            self.sync = FrameSync(names, slop=slop, silence_timeout=silence,
                                  check_misstamped=check_misstamped)
        except ValueError as exc:
            raise ConfigError(f'sync_slop / silence_timeout: {exc}') from exc

        self.cameras = {name: _Camera(name) for name in names}
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix='preprocess') if workers else None
        self.static_tf = StaticTransforms()
        self.extrinsics_source = source
        if source == 'rig':
            extrinsics = rig_extrinsics(rig_file)
            for name, camera in self.cameras.items():
                if name not in extrinsics:
                    raise ConfigError(f'camera {name!r} is not in the rig {rig_file}')
                camera.extrinsics = extrinsics[name]
        else:
            self.create_subscription(TFMessage, '/tf_static', self._on_tf_static,
                                     TF_STATIC_SUB)

        self.pose_pub = self.create_publisher(PoseWithCovarianceStamped, 'cube/pose',
                                              SENSOR_PUB)
        self.diag_pub = self.create_publisher(diagnostics.DiagnosticArray, '/diagnostics', 10)
        for name, camera in self.cameras.items():
            base = f'{self.namespace}/{name}'
            # With the message info: its reception time starts the latency clock.
            self.create_subscription(Image, f'{base}/image_raw',
                                     lambda msg, info, n=name: self._on_image(n, msg, info),
                                     IMAGE_QOS[image_qos])
            self.create_subscription(CameraInfo, f'{base}/camera_info',
                                     lambda msg, n=name: self._on_info(n, msg), SENSOR_SUB)
            if self.debug_images:
                camera.debug_pub = self.create_publisher(Image, f'{base}/debug_image',
                                                         SENSOR_PUB)
        self.published = 0
        self.lost = 0
        self.latencies = []         # (s from the last image's reception, callback CPU s)
        self.preprocess_cpu = collections.deque(maxlen=600)    # CPU s per image, any thread
        self.last_report = None
        self.create_timer(period, self._publish_diagnostics)
        self.get_logger().info(
            f'cube_pose: estimator {estimator_name!r}, cameras {names}, extrinsics from '
            f'{source}')

    # ------------------------------------------------------------------ inputs
    def _on_tf_static(self, msg: TFMessage):
        for transform in msg.transforms:
            t, r = transform.transform.translation, transform.transform.rotation
            try:
                self.static_tf.add(transform.header.frame_id, transform.child_frame_id,
                                   [t.x, t.y, t.z], wxyz_from_xyzw([r.x, r.y, r.z, r.w]))
            except ValueError as exc:
                self.get_logger().warning(f'/tf_static: ignored {exc}')
        for camera in self.cameras.values():
            self._update_extrinsics(camera)

    def _update_extrinsics(self, camera: _Camera):
        if self.extrinsics_source != 'tf_static' or not camera.frame_id:
            return
        found = self.static_tf.lookup(self.world_frame, camera.frame_id)
        if found is not None:
            camera.extrinsics = Extrinsics(R=found[0], t=found[1])
        elif camera.extrinsics is not None:
            # The old extrinsics belong to another frame: fusing with them would place this
            # camera wrongly. Without any, its images are refused and diagnostics say ERROR.
            camera.extrinsics = None
            self.get_logger().error(
                f'camera {camera.name}: no transform {self.world_frame} -> {camera.frame_id} '
                'on /tf_static; its images are not used')

    def _on_info(self, name: str, msg: CameraInfo):
        camera = self.cameras[name]
        key = (msg.width, msg.height, tuple(msg.k), tuple(msg.d), msg.distortion_model,
               msg.header.frame_id)
        if key == camera.info_key:
            return
        camera.info_key = key
        try:
            camera.intrinsics = intrinsics_from_camera_info(msg, name)
            camera.info_error = ''
        except CameraModelError as exc:
            camera.intrinsics = None
            camera.info_error = str(exc)
            self.get_logger().error(str(exc), throttle_duration_sec=5.0)
        camera.frame_id = msg.header.frame_id
        self._update_extrinsics(camera)

    def _on_image(self, name: str, msg: Image, info=None):
        # The latency runs from the image's reception by DDS (system clock, as time.time_ns),
        # so time spent queued behind other callbacks counts; the CPU time tells how much of
        # it was this node's own work rather than waiting for a core.
        received = (info or {}).get('received_timestamp') or time.time_ns()
        arrived = (received, time.thread_time())
        # Arrival on the node's clock (sim time under /clock, like the stamps), read before any
        # work on the image: the sync measures each camera's clock offset from it; wall time
        # would stretch the simulator's render delays by 1 / real-time factor.
        arrival = self.get_clock().now().nanoseconds * 1e-9
        camera = self.cameras[name]
        camera.images += 1
        camera.last_received = time.monotonic()
        model = camera.model()
        if model is None:
            camera.rejected_images += 1
            camera.last_error = camera.info_error or 'no extrinsics (world -> ' \
                f'{camera.frame_id or "?"} not on /tf_static)'
            return
        try:
            image = msg_to_image(msg)
        except ValueError as exc:
            camera.rejected_images += 1
            camera.last_error = f'bad image: {exc}'
            return
        if (msg.width, msg.height) != (model.intrinsics.width, model.intrinsics.height):
            camera.rejected_images += 1
            camera.last_error = (f'image {msg.width}x{msg.height} does not match camera_info '
                                 f'{model.intrinsics.width}x{model.intrinsics.height}')
            return
        camera.last_error = ''
        camera.last_accepted = time.monotonic()
        if msg.encoding == 'bgr8':
            image = image[:, :, ::-1]
        stamp = stamp_to_sec(msg.header.stamp)
        # The per-camera half of the work starts now, as each image arrives, on the pool's
        # threads (several cameras at once); the set's callback waits for what is left. A
        # frame the sets will not take (too late, or from a camera left out as misstamped)
        # is not worked on.
        frame = CameraFrame(camera=model, image=image, stamp=stamp)
        if self.sync.will_use(name, stamp):
            frame = Pending(self._pool.submit(self._preprocess, frame), frame) \
                if self._pool is not None else self._preprocess(frame)
        synced = self.sync.add(name, stamp, (frame, msg.header.stamp), arrival=arrival)
        if synced is not None:
            self._estimate(synced, arrived)

    def _preprocess(self, frame: CameraFrame) -> CameraFrame:
        started = time.thread_time()
        try:
            return self.estimator.preprocess(frame)
        except Exception as exc:  # noqa: B902 - estimate() gets the raw frame and retries
            self.get_logger().error(f'preprocess failed: {exc!r}', throttle_duration_sec=5.0)
            return frame
        finally:
            self.preprocess_cpu.append(time.thread_time() - started)   # deque: thread-safe

    def close(self):
        """Stop the preprocessing threads (run_node calls this before destroying the node)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ estimate
    def _estimate(self, synced, arrived):
        synced = dataclasses.replace(synced, frames={
            name: (finished(frame, self._preprocess), stamp)
            for name, (frame, stamp) in synced.frames.items()})
        frames = tuple(frame for frame, _ in synced.frames.values())
        newest = max(synced.frames.values(), key=lambda f: f[0].stamp)
        try:
            estimate = self.estimator.estimate(
                FrameSet(stamp=synced.stamp, frames=frames, missing=synced.missing))
        except Exception as exc:  # noqa: B902 - one bad frame set must not stop the graph
            self.get_logger().error(f'estimator failed: {exc!r}', throttle_duration_sec=5.0)
            self.estimator.last_report = Report(stamp=synced.stamp, reason=f'estimator '
                                                f'failed: {exc!r}')
            estimate = None
        self.last_report = self.estimator.last_report
        if estimate is not None:
            msg = PoseWithCovarianceStamped()
            msg.header.stamp = newest[1]
            msg.header.frame_id = self.world_frame
            pose_to_msg(estimate.position, estimate.quat_wxyz, msg.pose.pose)
            msg.pose.covariance = [float(v) for v in estimate.covariance.ravel()]
            self.pose_pub.publish(msg)
            self.published += 1
        else:
            self.lost += 1
        received, cpu = arrived
        self.latencies.append(((time.time_ns() - received) * 1e-9, time.thread_time() - cpu))
        if self.debug_images:
            self._publish_debug(synced, estimate)

    def _publish_debug(self, synced, estimate):
        report = self.last_report
        pose = pose_matrix(estimate) if estimate is not None else None
        size = getattr(getattr(self.estimator, 'layout', None), 'cube_size', 0.05)
        for name, (frame, stamp) in synced.frames.items():
            camera = self.cameras[name]
            text = report.status if estimate is not None else f'lost: {report.reason}'
            overlay = draw_debug(frame.image, frame.camera, report.detections.get(name), pose,
                                 size, text[:60])
            camera.debug_pub.publish(image_to_msg(overlay, stamp, camera.frame_id))

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self):
        statuses = []
        report = self.last_report
        # Silence in stamp time (the sync's view) or in wall time: when every camera is
        # refused, no stamps advance at all.
        now = time.monotonic()
        stale_after = max(1.0, 2.0 * self.sync.silence_timeout)
        silent = set(self.sync.silent()) | {
            c.name for c in self.cameras.values()
            if c.last_accepted is None or now - c.last_accepted > stale_after}
        out_of_sync = self.sync.out_of_sync()
        misstamped = self.sync.misstamped()
        offsets = self.sync.clock_offsets()
        usable = [c for c in self.cameras.values()
                  if c.model() is not None and c.name not in silent
                  and c.name not in out_of_sync and c.name not in misstamped]
        self.latencies = self.latencies[-200:]
        latencies, cpu = np.array(self.latencies).reshape(-1, 2).T * 1e3
        values = {
            'published': self.published, 'lost': self.lost,
            'latency_ms_median': float(np.median(latencies)) if latencies.size else -1.0,
            'latency_ms_p90': float(np.percentile(latencies, 90)) if latencies.size else -1.0,
            'latency_ms_max': float(latencies.max()) if latencies.size else -1.0,
            'callback_cpu_ms_median': float(np.median(cpu)) if cpu.size else -1.0,
            'callback_cpu_ms_p90': float(np.percentile(cpu, 90)) if cpu.size else -1.0,
            'preprocess_cpu_ms_median': float(np.median(self.preprocess_cpu)) * 1e3
            if self.preprocess_cpu else -1.0,
            'sync_restarts': self.sync.restarts, 'sync_dropped_late': self.sync.dropped_late}
        if not usable:
            level, message = diagnostics.ERROR, \
                'no camera delivers usable images (see the camera statuses)'
        elif report is None:
            level, message = diagnostics.WARN, 'no synchronised frame set yet'
        elif report.status == 'ok':
            level, message = diagnostics.OK, 'tracking'
        elif report.status == 'degraded':
            level, message = diagnostics.WARN, f'degraded: {report.reason}'
        else:
            level, message = diagnostics.WARN, f'lost: {report.reason}'
        if report is not None and report.estimate is not None:
            values.update(position_std_mm=report.estimate.position_std * 1e3,
                          rotation_std_deg=float(np.degrees(report.estimate.rotation_std)),
                          reprojection_rms_px=report.estimate.reprojection_rms_px,
                          cameras_used=','.join(report.estimate.cameras_used))
        statuses.append(diagnostics.status('cube_pose: estimator', level, message,
                                           hardware_id=self.estimator.name, **values))
        for name, camera in self.cameras.items():
            markers = report.markers_per_camera.get(name, 0) if report else 0
            unknown = report.unknown_ids.get(name, []) if report else []
            if camera.info_error:
                level, message = diagnostics.ERROR, camera.info_error
            elif camera.extrinsics is None:
                level, message = diagnostics.ERROR, \
                    f'no extrinsics: {self.world_frame} -> {camera.frame_id} unknown'
            elif camera.last_error and camera.last_received is not None \
                    and now - camera.last_received <= stale_after:
                level, message = diagnostics.ERROR, camera.last_error
            elif name in silent:
                level, message = diagnostics.STALE, 'no recent images'
            elif name in out_of_sync:
                level, message = diagnostics.WARN, _offset_message(
                    out_of_sync[name], self.sync.slop)
            elif name in misstamped:
                level, message = diagnostics.WARN, _misstamped_message(misstamped[name])
            elif unknown:
                level, message = diagnostics.WARN, f'markers not on the cube: {unknown}'
            else:
                level, message = diagnostics.OK, 'ok'
            offset = {} if offsets[name] is None else {'clock_offset_s': offsets[name]}
            statuses.append(diagnostics.status(
                f'cube_pose: camera {name}', level, message, hardware_id=name,
                images=camera.images, rejected_images=camera.rejected_images, markers=markers,
                **offset))
        self.diag_pub.publish(diagnostics.array(self.get_clock().now().to_msg(), *statuses))


def _offset_message(offset, slop):
    if offset is None:
        return f'left out: its frames match no frame set (sync_slop {slop:g} s)'
    return (f'{_offset_text(offset)} (more than sync_slop {slop:g} s); left out of the frame '
            'sets')


def _misstamped_message(offset):
    return (f'{_offset_text(offset)}, about a whole number of frame periods: its frames match '
            "the sets but show other instants; left out of the frame sets (check the driver's "
            'stamps)')


def _offset_text(offset):
    side = 'behind' if offset < 0 else 'ahead of'
    return f'clock offset: stamps {abs(offset):.3f} s {side} the other cameras'


@dataclasses.dataclass(frozen=True)
class Pending:
    """A frame queued for preprocessing on the pool, and the frame itself."""

    future: concurrent.futures.Future
    frame: CameraFrame


def finished(frame, preprocess):
    """
    Return a preprocessed frame, waiting for it if it is still being worked on.

    A frame still queued (every pool thread busy with the set's other images) is preprocessed
    here, by preprocess(frame): the calling thread would only wait for it.
    """
    if not isinstance(frame, Pending):
        return frame
    if frame.future.cancel():
        return preprocess(frame.frame)
    return frame.future.result()


def main(args=None):
    return run_node(CubePoseNode, args)


if __name__ == '__main__':
    sys.exit(main())
