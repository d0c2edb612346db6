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
Render camera frames off the physics thread.

The physics thread hands over a snapshot of the state (qpos, mocap) with the cameras that are
due; a worker thread owns its own MjData and renderers (GL contexts are bound to the thread
that created them), rebuilds the kinematics and renders, then calls publish(stamp, name,
image). MuJoCo releases the GIL while stepping and rasterising, so physics and rendering
overlap on two cores. The queue holds one frame set: when the worker is still busy, the older
pending set is dropped (counted), so images are never late by more than one set.
"""
import os
import threading
import time

import mujoco
import numpy as np


class CameraWorker:
    """A thread that renders the newest requested frame set and publishes it."""

    def __init__(self, model, camera_ids: dict, sizes: dict, publish, vis_option=None,
                 niceness: int = 0):
        self.model = model
        self.niceness = int(niceness)
        self.native_id = None                  # the rendering thread's OS id, once running
        self.camera_ids = camera_ids           # name -> MuJoCo camera id
        self.sizes = sizes                     # name -> (height, width)
        self.publish = publish                 # callable(stamp, name, image)
        self.vis_option = vis_option or mujoco.MjvOption()
        self.dropped_sets = 0
        self.rendered_sets = 0
        self._render_seconds = {}
        self._pending = None
        self._rendering = False
        self._cv = threading.Condition()
        self._stop = False
        self.error = None
        self._thread = threading.Thread(target=self._run, name='cameras', daemon=True)
        self._thread.start()

    def _lower_priority(self):
        """
        Make this thread (and the renderer threads it starts) yield to latency-bound work.

        Rendering is throughput work: on a machine with few cores it competes with the nodes
        that must answer within milliseconds (the cube_pose fit of the frame just published,
        the limiter, the policy). Linux gives each thread its own nice value, inherited by
        the threads it creates (the GL renderer's), so only the rendering yields; physics and
        /clock keep their priority. Raising one's niceness needs no privilege.
        """
        if self.niceness <= 0 or not hasattr(os, 'setpriority'):
            return
        try:
            current = os.getpriority(os.PRIO_PROCESS, self.native_id)
            os.setpriority(os.PRIO_PROCESS, self.native_id, min(19, current + self.niceness))
        except OSError:
            pass        # not permitted here: render at the process's priority

    def submit(self, stamp, data: mujoco.MjData, names):
        """Queue a frame set of `names` rendered from a copy of data's configuration."""
        snapshot = (stamp, data.qpos.copy(), data.mocap_pos.copy(), data.mocap_quat.copy(),
                    tuple(names))
        with self._cv:
            if self._pending is not None:
                self.dropped_sets += 1
            self._pending = snapshot
            self._cv.notify_all()

    def _run(self):
        self.native_id = threading.get_native_id()
        self._lower_priority()
        data = mujoco.MjData(self.model)
        renderers = {}
        try:
            while True:
                with self._cv:
                    while self._pending is None and not self._stop:
                        self._cv.wait()
                    if self._stop:
                        return
                    stamp, qpos, mocap_pos, mocap_quat, names = self._pending
                    self._pending = None
                    self._rendering = True
                data.qpos[:] = qpos
                data.mocap_pos[:] = mocap_pos
                data.mocap_quat[:] = mocap_quat
                mujoco.mj_kinematics(self.model, data)
                mujoco.mj_camlight(self.model, data)
                for name in names:
                    size = self.sizes[name]
                    if size not in renderers:
                        renderers[size] = mujoco.Renderer(self.model, height=size[0],
                                                          width=size[1])
                    started = time.perf_counter()
                    renderer = renderers[size]
                    renderer.update_scene(data, camera=self.camera_ids[name],
                                          scene_option=self.vis_option)
                    image = np.array(renderer.render(), copy=False)
                    with self._cv:
                        self._render_seconds[name] = time.perf_counter() - started
                    self.publish(stamp, name, image)
                with self._cv:
                    self.rendered_sets += 1
                    self._rendering = False
                    self._cv.notify_all()
        except Exception as exc:  # noqa: B902 - surfaced by the node through .error
            self.error = exc
        finally:
            with self._cv:
                self._rendering = False
                self._cv.notify_all()
            for renderer in renderers.values():
                renderer.close()

    def wait_idle(self, timeout: float) -> float:
        """
        Wait (at most timeout s) until every submitted set is rendered; return the wait (s).

        The simulator calls it before the next set is due, so that a slow or starved render
        thread slows the simulated world instead of losing frames (see sim_bridge's
        camera_wait parameter).
        """
        started = time.monotonic()
        with self._cv:
            self._cv.wait_for(lambda: self._stop or self.error is not None
                              or (self._pending is None and not self._rendering),
                              timeout=timeout)
        return time.monotonic() - started

    def render_times(self) -> dict:
        """Return a copy of the last render time [s] per camera (safe from any thread)."""
        with self._cv:
            return dict(self._render_seconds)

    def close(self, timeout=5.0):
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout)
