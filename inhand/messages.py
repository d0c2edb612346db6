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
Conversions between ROS messages and NumPy, and validation of incoming messages.

cv_bridge from PyPI is broken with NumPy 2, so images are converted here. Quaternions in ROS
messages are xyzw; the arrays returned here are wxyz (MuJoCo's order) via inhand.transforms.
"""
import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, Transform, TransformStamped
from inhand.transforms import wxyz_from_xyzw, xyzw_from_wxyz
import numpy as np
from sensor_msgs.msg import Image

_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}


class MissingNames(ValueError):
    """A message lacks names that are needed; str() lists them, comma separated."""


class NameOrder:
    """Where wanted names sit in a message's name list (e.g. JointState.name), cached."""

    def __init__(self, wanted):
        self.wanted = tuple(wanted)
        self._names = None
        self._index = None

    def indices(self, names) -> np.ndarray:
        """Return the index in names of each wanted name; MissingNames names the absent ones."""
        names = tuple(names)
        if names != self._names:
            where = {name: i for i, name in enumerate(names)}
            missing = [name for name in self.wanted if name not in where]
            if missing:
                raise MissingNames(', '.join(missing))
            self._names = names
            self._index = np.array([where[name] for name in self.wanted])
        return self._index


def stamp_to_sec(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(t: float) -> Time:
    sec = int(math.floor(t))
    return Time(sec=sec, nanosec=min(int(round((t - sec) * 1e9)), 999_999_999))


def image_to_msg(image: np.ndarray, stamp, frame_id: str, encoding='rgb8') -> Image:
    """HxWx3 (or HxW) uint8 array -> sensor_msgs/Image."""
    if image.dtype != np.uint8:
        raise ValueError(f'image must be uint8, got {image.dtype}')
    height, width = image.shape[:2]
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0,
                step=width * _CHANNELS[encoding])
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.data = np.ascontiguousarray(image).tobytes()
    return msg


def msg_to_image(msg: Image) -> np.ndarray:
    """sensor_msgs/Image -> HxWxC uint8 view (zero-copy). Raises ValueError when malformed."""
    channels = _CHANNELS.get(msg.encoding)
    if channels is None:
        raise ValueError(f'unsupported image encoding {msg.encoding!r}')
    if msg.height == 0 or msg.width == 0 or msg.step < msg.width * channels:
        raise ValueError(f'malformed image {msg.width}x{msg.height} step {msg.step}')
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < msg.step * msg.height:
        raise ValueError(f'image data has {data.size} bytes, expected {msg.step * msg.height}')
    rows = data[:msg.step * msg.height].reshape(msg.height, msg.step)
    return rows[:, :msg.width * channels].reshape(msg.height, msg.width, channels)


def pose_to_msg(position, quat_wxyz, msg=None):
    """Fill a geometry_msgs/Pose (or Transform when msg is one) from position + wxyz."""
    msg = Pose() if msg is None else msg
    x, y, z, w = xyzw_from_wxyz(quat_wxyz)
    if isinstance(msg, Transform):
        msg.translation.x, msg.translation.y, msg.translation.z = map(float, position)
        msg.rotation.x, msg.rotation.y, msg.rotation.z, msg.rotation.w = x, y, z, w
    else:
        msg.position.x, msg.position.y, msg.position.z = map(float, position)
        msg.orientation.x, msg.orientation.y = float(x), float(y)
        msg.orientation.z, msg.orientation.w = float(z), float(w)
    return msg


def transform_stamped(parent: str, child: str, position, quat_wxyz,
                      stamp=None) -> TransformStamped:
    """Make a TransformStamped parent -> child from a position and a wxyz quaternion."""
    msg = TransformStamped(child_frame_id=child)
    msg.header.frame_id = parent
    if stamp is not None:
        msg.header.stamp = stamp
    pose_to_msg(position, quat_wxyz, msg.transform)
    return msg


def msg_to_pose(msg: Pose):
    """geometry_msgs/Pose -> (position[3], quat_wxyz[4]) arrays."""
    p, o = msg.position, msg.orientation
    return (np.array([p.x, p.y, p.z]), wxyz_from_xyzw([o.x, o.y, o.z, o.w]))


class JointCommandError(ValueError):
    """Why a JointState command was rejected as a whole."""


def parse_joint_command(msg, allowed: dict) -> tuple[list, np.ndarray]:
    """
    Validate a JointState used as a position command; return (names, positions).

    allowed maps each accepted joint name to anything (e.g. its index). The message is rejected
    whole when a name is unknown or repeated, when the position array does not match the names,
    when velocity/effort are given with the wrong length, or when any value is non-finite.
    """
    names = list(msg.name)
    positions = np.asarray(msg.position, dtype=float)
    if not names:
        raise JointCommandError('command names no joint')
    if len(set(names)) != len(names):
        raise JointCommandError('command repeats a joint name')
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise JointCommandError(f'unknown or non-commandable joint(s): {", ".join(unknown)}')
    if positions.shape != (len(names),):
        raise JointCommandError(
            f'{len(names)} names but {positions.size} positions')
    for field in ('velocity', 'effort'):
        values = getattr(msg, field)
        if len(values) not in (0, len(names)):
            raise JointCommandError(f'{len(names)} names but {len(values)} {field} values')
        if len(values) and not np.all(np.isfinite(np.asarray(values, dtype=float))):
            raise JointCommandError(f'non-finite {field}')
    if not np.all(np.isfinite(positions)):
        bad = [n for n, p in zip(names, positions) if not math.isfinite(p)]
        raise JointCommandError(f'non-finite position for {", ".join(bad)}')
    return names, positions
