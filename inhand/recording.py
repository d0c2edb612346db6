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
Recordings: rosbag2 folders with MCAP storage, written and read without a ROS install.

A recording is what `ros2 bag record -s mcap` makes: a folder with metadata.yaml and an .mcap
file whose messages are CDR-serialized ROS 2 messages with their ros2msg schemas, so
`ros2 bag info/play`, Foxglove and any MCAP reader open it. The maintained `rosbags` library
writes and reads it; this module adds what inhand needs: message definitions for the types
the graph uses (the Kilted set; the same for Jazzy), run metadata (commit, launch arguments,
hand, policy) in the bag's custom_data, and errors that name the problem when a folder is
missing, is not a recording, or is truncated or corrupt. Messages stay serialized bytes from
end to end: rclpy's raw subscriptions give them, raw publishing sends them back.
"""
import dataclasses
import pathlib
import struct
import zlib

from inhand.config import ConfigError

# Topics worth recording from the graph by default: enough to replay vision and the policy
# (cameras, joints, clock, cube, goals) and to see what happened (commands, limiter, TF).
DEFAULT_TOPICS = (
    '/clock', '/joint_states', '/hand/command_raw', '/hand/command', '/cube/pose',
    '/cube/pose_gt', '/goal/pose', '/goal/episode', '/goal/successes', '/goal/results',
    '/diagnostics', '/tf', '/tf_static',
    '/cameras/vision_cam_top/image_raw', '/cameras/vision_cam_top/camera_info',
    '/cameras/vision_cam_left/image_raw', '/cameras/vision_cam_left/camera_info',
    '/cameras/vision_cam_right/image_raw', '/cameras/vision_cam_right/camera_info',
)
# Topics whose publishers latch (transient local): played back the same way.
LATCHED_TOPICS = ('/tf_static', '/goal/pose', '/goal/episode', '/goal/successes',
                  '/robot_description', '/cube/dropped')


class RecordingError(ConfigError):
    """A recording cannot be written or read; the message says which and why."""


def _typestore():
    from rosbags.typesys import get_typestore, Stores
    return get_typestore(Stores.ROS2_KILTED)


def ros_type_name(msg_class) -> str:
    """'sensor_msgs/msg/Image' for sensor_msgs.msg.Image (what rosbag2 stores)."""
    package = msg_class.__module__.split('.')[0]
    return f'{package}/msg/{msg_class.__name__}'


@dataclasses.dataclass
class RecordedMessage:
    """One message of a recording: topic, its ROS type, log time [ns] and CDR bytes."""

    topic: str
    msgtype: str
    time_ns: int
    data: bytes


class RecordingWriter:
    """Write CDR messages of any graph topic into a new rosbag2 folder (MCAP storage)."""

    def __init__(self, path, custom_data=None):
        from rosbags.rosbag2 import Writer, WriterError
        from rosbags.rosbag2.enums import StoragePlugin
        self.path = pathlib.Path(path)
        if self.path.exists():
            raise RecordingError(f'{self.path}: exists already; a recording needs a new '
                                 'folder')
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._typestore = _typestore()
        try:
            self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
            self._writer.open()
        except WriterError as exc:
            raise RecordingError(f'{self.path}: cannot write a recording: {exc}') from exc
        for key, value in (custom_data or {}).items():
            self._writer.set_custom_data(str(key), str(value))
        self._connections = {}
        self.counts = {}

    def add_topic(self, topic: str, msgtype: str):
        """Declare a topic before its first message (its schema goes into the file)."""
        if topic in self._connections:
            return
        if msgtype not in self._typestore.fielddefs:
            raise RecordingError(f'{topic}: message type {msgtype} has no definition here; '
                                 'it cannot be recorded')
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self._typestore)
        self.counts[topic] = 0

    def write(self, topic: str, time_ns: int, data: bytes):
        self._writer.write(self._connections[topic], int(time_ns), bytes(data))
        self.counts[topic] += 1

    def close(self):
        self._writer.close()
        for mcap in self.path.glob('*.mcap'):
            seal_mcap(mcap)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RecordingReader:
    """Read a rosbag2 folder (or its .mcap file) written here or by `ros2 bag record`."""

    def __init__(self, path):
        from rosbags.rosbag2 import Reader, ReaderError
        path = pathlib.Path(path)
        if path.is_file() and path.suffix == '.mcap':
            path = path.parent
        if not path.exists():
            raise RecordingError(f'{path}: no such recording')
        if not (path / 'metadata.yaml').is_file():
            raise RecordingError(f'{path}: not a recording (no metadata.yaml: record with '
                                 '`inhand record` or `ros2 bag record -s mcap`)')
        self.path = path
        for mcap in sorted(path.glob('*.mcap')):
            verify_mcap(mcap)
        try:
            self._reader = Reader(path)
            self._reader.open()
        except (ReaderError, OSError, ValueError, KeyError) as exc:
            raise RecordingError(f'{path}: cannot open the recording: {exc}') from exc
        self.connections = list(self._reader.connections)

    @property
    def topics(self) -> dict:
        """Topic -> (ROS type, message count)."""
        return {c.topic: (c.msgtype, c.msgcount) for c in self.connections}

    @property
    def start_ns(self) -> int:
        return int(self._reader.start_time)

    @property
    def duration_ns(self) -> int:
        return int(self._reader.duration)

    @property
    def custom_data(self) -> dict:
        """Return the run's metadata as `inhand record` wrote it (commit, arguments, ...)."""
        import yaml
        info = yaml.safe_load((self.path / 'metadata.yaml').read_text())
        return dict(info.get('rosbag2_bagfile_information', {}).get('custom_data') or {})

    def messages(self, topics=None):
        """Yield RecordedMessage in log-time order; RecordingError if the file is damaged."""
        from rosbags.rosbag2 import ReaderError
        chosen = [c for c in self.connections if topics is None or c.topic in topics]
        try:
            for connection, time_ns, data in self._reader.messages(connections=chosen):
                yield RecordedMessage(connection.topic, connection.msgtype, time_ns, data)
        except (ReaderError, OSError, ValueError, EOFError, KeyError) as exc:
            raise RecordingError(f'{self.path}: the recording is damaged (truncated or '
                                 f'corrupt): {type(exc).__name__}: {exc}') from exc

    def close(self):
        self._reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


MCAP_MAGIC = b'\x89MCAP0\r\n'
_CHUNK, _DATA_END = 0x06, 0x0F


def _records(data: bytes, where: str):
    """Yield (opcode, start, body) of the top-level MCAP records; RecordingError if cut."""
    if len(data) < 2 * len(MCAP_MAGIC) or not data.startswith(MCAP_MAGIC):
        raise RecordingError(f'{where}: not an MCAP file (no MCAP magic at its start)')
    if not data.endswith(MCAP_MAGIC):
        raise RecordingError(f'{where}: the recording is damaged (truncated: no MCAP magic at '
                             'its end; was the recorder killed?)')
    pos, end = len(MCAP_MAGIC), len(data) - len(MCAP_MAGIC)
    while pos < end:
        if pos + 9 > end:
            raise RecordingError(f'{where}: the recording is damaged (a record header is cut '
                                 f'at byte {pos})')
        opcode = data[pos]
        length = struct.unpack_from('<Q', data, pos + 1)[0]
        if pos + 9 + length > end:
            raise RecordingError(f'{where}: the recording is damaged (record at byte {pos} is '
                                 f'{length} bytes long, past the end of the file)')
        yield opcode, pos, memoryview(data)[pos + 9:pos + 9 + length]
        pos += 9 + length


def _chunk_records(body) -> tuple:
    """(offset of the uncompressed_crc field in the body, compression, records bytes)."""
    compression_length = struct.unpack_from('<I', body, 28)[0]
    compression = bytes(body[32:32 + compression_length]).decode()
    records_length = struct.unpack_from('<Q', body, 32 + compression_length)[0]
    start = 40 + compression_length
    return 24, compression, body[start:start + records_length]


def seal_mcap(path):
    """
    Write the CRCs that rosbags leaves at 0: each uncompressed chunk's and the data section's.

    With them a reader (ours, the mcap CLI, Foxglove) can tell a damaged file from a good one.
    """
    path = pathlib.Path(path)
    data = bytearray(path.read_bytes())
    where = str(path)
    for opcode, start, body in list(_records(bytes(data), where)):
        if opcode == _CHUNK:
            offset, compression, records = _chunk_records(body)
            if compression == '':
                struct.pack_into('<I', data, start + 9 + offset, zlib.crc32(records))
        elif opcode == _DATA_END:
            struct.pack_into('<I', data, start + 9, zlib.crc32(bytes(data[:start])))
    temporary = path.with_suffix('.mcap.tmp')
    temporary.write_bytes(bytes(data))
    temporary.replace(path)


def verify_mcap(path):
    """Raise RecordingError if an MCAP file is cut short or a CRC it carries does not match."""
    path = pathlib.Path(path)
    data = path.read_bytes()
    where = str(path)
    for opcode, start, body in _records(data, where):
        if opcode == _CHUNK:
            offset, compression, records = _chunk_records(body)
            expected = struct.unpack_from('<I', body, offset)[0]
            if expected and compression == '' and zlib.crc32(records) != expected:
                raise RecordingError(f'{where}: the recording is damaged (corrupt: the chunk '
                                     f'at byte {start} fails its CRC)')
        elif opcode == _DATA_END:
            expected = struct.unpack_from('<I', body, 0)[0]
            if expected and zlib.crc32(data[:start]) != expected:
                raise RecordingError(f'{where}: the recording is damaged (corrupt: the data '
                                     'section fails its CRC)')


def find_message_class(msgtype: str):
    """Import the rclpy message class of 'pkg/msg/Name'; RecordingError if unavailable."""
    import importlib
    try:
        package, kind, name = msgtype.split('/')
        return getattr(importlib.import_module(f'{package}.{kind}'), name)
    except (ValueError, ImportError, AttributeError) as exc:
        raise RecordingError(f'message type {msgtype} is not installed here: {exc}') from exc
