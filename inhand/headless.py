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
Choose MuJoCo's OpenGL backend when nothing chose one: a headless machine must not crash.

MuJoCo reads MUJOCO_GL when it is imported. Unset, it tries GLFW, which needs a display: on a
headless robot computer or a CI machine the first camera render then fails with "The DISPLAY
environment variable is missing". Both launchers give the nodes a backend that works without
a display (EGL, else OSMesa) when the user set none and there is no display; sim_bridge does
the same for itself when started on its own (ros2 run): it imports CHOSEN_GL_BACKEND from here
before it imports mujoco, and importing this module makes the choice for its process.
"""
import ctypes.util
import os


def gl_backend(environ) -> tuple[str | None, str]:
    """
    Return (MUJOCO_GL value to set or None to leave it, why) for this environment.

    An explicit MUJOCO_GL is the user's choice and stays; a display (DISPLAY or
    WAYLAND_DISPLAY) keeps MuJoCo's default (GLFW windows work); otherwise EGL when libEGL
    is installed, else OSMesa when libOSMesa is, else None (rendering will fail and says so).
    """
    if environ.get('MUJOCO_GL'):
        return None, f'MUJOCO_GL={environ["MUJOCO_GL"]} (as set)'
    if environ.get('DISPLAY') or environ.get('WAYLAND_DISPLAY'):
        return None, 'MuJoCo default (a display is available)'
    for value, library in (('egl', 'EGL'), ('osmesa', 'OSMesa')):
        if ctypes.util.find_library(library):
            return value, f'MUJOCO_GL={value} (no display; lib{library} found)'
    return None, 'no display and neither libEGL nor libOSMesa: camera rendering will fail ' \
                 '(install libegl1 or libosmesa6, or set MUJOCO_GL)'


def choose_gl_backend(environ=None) -> str:
    """Set MUJOCO_GL in environ (default os.environ) when gl_backend() says so; return why."""
    environ = os.environ if environ is None else environ
    value, why = gl_backend(environ)
    if value:
        environ['MUJOCO_GL'] = value
    return why


# The choice for this process, made when a node imports it before mujoco (sim_bridge).
CHOSEN_GL_BACKEND = choose_gl_backend()
