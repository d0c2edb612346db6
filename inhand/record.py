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
`inhand record`: record graph topics to MCAP (a rosbag2 folder), per run or per episode.

    inhand record --out recordings/run1 --duration 60                 # a running graph
    inhand record --launch --per-episode --duration 120 pose_source:=vision
    inhand record --topics /joint_states /cube/pose --out joints_only

Each topic is subscribed as its publishers offer it (reliable only if they all are, transient
local for latched topics, as rosbag2 does), messages are written as received (CDR bytes,
receive time as log time). The bag's custom_data holds the commit, the machine, the command,
the launch arguments and the hand and policy they name. --per-episode starts a new recording
(<out>/episode_<n>) whenever /goal/episode changes, repeating the latched topics at its start.
Topics that never appear are reported at the end; the recording holds the others.
"""
import argparse
import datetime
import os
import platform
import signal
import subprocess
import sys
import time

from inhand import graph
from inhand.paths import share_dir
from inhand.recording import (DEFAULT_TOPICS, find_message_class, RecordingError,
                              RecordingWriter, ros_type_name)


def _commit() -> str:
    try:
        out = subprocess.run(['git', '-C', str(share_dir()), 'describe', '--always', '--dirty',
                              '--abbrev=12'], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def run_metadata(args: dict, argv) -> dict:
    """Return what a recording says about its run (its bag's custom_data)."""
    return {
        'recorded_by': 'inhand record',
        'command': ' '.join(['inhand', 'record'] + list(argv)),
        'commit': _commit(),
        'machine': f'{platform.node()} ({platform.platform()})',
        'started': datetime.datetime.now().isoformat(timespec='seconds'),
        'launch_arguments': ' '.join(f'{k}:={v}' for k, v in sorted(args.items())),
        'hand': args.get('hand', ''),
        'policy': args.get('policy', ''),
        'scene': args.get('scene', ''),
    }


class Recorder:
    """An rclpy node that writes raw messages of chosen topics; ROS imports stay inside."""

    def __init__(self, out, topics, metadata, per_episode=False, image_rate=0.0):
        import rclpy
        from rclpy.node import Node
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context)
        self.node = Node('inhand_recorder', context=self.context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.out, self.topics, self.metadata = str(out), list(topics), dict(metadata)
        self.per_episode = per_episode
        self.image_period_ns = int(1e9 / image_rate) if image_rate > 0 else 0
        self.last_image_ns = {}
        if per_episode and '/goal/episode' not in self.topics:
            self.topics.append('/goal/episode')      # what starts each episode's file
        self.types = {}
        self.latched_last = {}          # topic -> last raw message, repeated per episode file
        self.writer = None
        self.episode = None
        self.files = []
        if not per_episode:
            self._open(self.out)

    def _open(self, path):
        self.writer = RecordingWriter(path, self.metadata)
        self.files.append(path)
        for topic, msgtype in self.types.items():
            self.writer.add_topic(topic, msgtype)
        now = time.time_ns()
        for topic, data in self.latched_last.items():
            self.writer.write(topic, now, data)

    def _qos(self, topic):
        from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile,
                               ReliabilityPolicy)
        infos = self.node.get_publishers_info_by_topic(topic)
        reliable = infos and all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                                 for i in infos)
        latched = infos and all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                                for i in infos)
        return QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                          reliability=ReliabilityPolicy.RELIABLE if reliable
                          else ReliabilityPolicy.BEST_EFFORT,
                          durability=DurabilityPolicy.TRANSIENT_LOCAL if latched
                          else DurabilityPolicy.VOLATILE), bool(latched)

    def discover(self):
        """Subscribe to every wanted topic that has appeared; return those still missing."""
        available = dict(self.node.get_topic_names_and_types())
        for topic in self.topics:
            if topic in self.types or topic not in available:
                continue
            msgtype = available[topic][0]
            cls = find_message_class(msgtype)
            self.types[topic] = ros_type_name(cls)
            if self.writer is not None:
                self.writer.add_topic(topic, self.types[topic])
            qos, latched = self._qos(topic)
            # With the message info: the log time is the reception by DDS, not the moment
            # this executor got round to it (a backlog behind an image would skew /clock
            # against the joint states it was published with).
            self.node.create_subscription(
                cls, topic,
                lambda data, info, t=topic, keep=latched: self._on_message(t, data, keep, info),
                qos, raw=True)
        return [t for t in self.topics if t not in self.types]

    def _on_message(self, topic, data, latched, info=None):
        now = (info or {}).get('received_timestamp') or time.time_ns()
        if latched:
            self.latched_last[topic] = data
        if topic == '/goal/episode' and self.per_episode:
            from rclpy.serialization import deserialize_message
            from std_msgs.msg import Int32
            episode = deserialize_message(data, Int32).data
            # -1 (between episodes) belongs to the episode that just ended.
            if episode >= 0 and episode != self.episode:
                if self.writer is not None:
                    self.writer.close()
                self.episode = episode
                self._open(os.path.join(self.out, f'episode_{episode:04d}'))
                return                      # _open wrote it (latched)
        if self.image_period_ns and topic.endswith(('/image_raw', '/debug_image')):
            if now - self.last_image_ns.get(topic, -self.image_period_ns) < self.image_period_ns:
                return                      # thinned: images are most of a recording's size
            self.last_image_ns[topic] = now
        if self.writer is not None and topic in self.writer.counts:
            self.writer.write(topic, now, data)

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end and self.context.ok():
            self.executor.spin_once(timeout_sec=0.05)

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='inhand record', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default=None,
                        help='recording folder (new); default recordings/<date-time>')
    parser.add_argument('--topics', nargs='+', default=list(DEFAULT_TOPICS),
                        help="topics to record (default: the graph's main topics)")
    parser.add_argument('--duration', type=float, default=None,
                        help='stop after this many seconds (default: until Ctrl-C)')
    parser.add_argument('--per-episode', '--episodes', action='store_true',
                        help='one recording per episode (<out>/episode_<n>)')
    parser.add_argument('--image-rate', type=float, default=0.0,
                        help='record camera images at most this often per camera [Hz]; '
                        '0: every image')
    parser.add_argument('--launch', action='store_true',
                        help='start the bringup graph with the arguments and record it')
    parser.add_argument('--wait', type=float, default=10.0,
                        help='seconds to wait for the topics to appear before recording')
    parser.add_argument('arguments', nargs='*', help='bringup arguments name:=value '
                        '(recorded as metadata; with --launch, the graph started)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    options = parse_args(argv)
    args = graph.resolve_arguments(graph.parse_cli_arguments(options.arguments))
    out = options.out or os.path.join(
        'recordings', datetime.datetime.now().strftime('%Y%m%d-%H%M%S'))
    launcher = None
    stop = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.append(True))
    # The recorder is a subscriber like the nodes: the graph's Fast DDS profile (large images
    # in shared memory), unless the environment names one.
    os.environ.update(graph.node_environment(args, os.environ))
    try:
        if options.launch:
            from inhand import dds_env, launcher as launching
            if args['sim'] == 'true':      # all on this machine, as `inhand launch` does
                dds_env.isolate(profile=None)
            launcher = launching.Launcher(graph.bringup(args), env=dict(os.environ),
                                          isolate=False)
            launcher.start()
        recorder = Recorder(out, options.topics, run_metadata(args, argv),
                            per_episode=options.per_episode, image_rate=options.image_rate)
    except RecordingError as exc:
        print(f'inhand record: {exc}', file=sys.stderr)
        if launcher is not None:
            launcher.shutdown()
        return 2
    try:
        deadline = time.monotonic() + options.wait
        missing = recorder.discover()
        while missing and time.monotonic() < deadline and not stop:
            recorder.spin(0.2)
            missing = recorder.discover()
        print(f'[record] recording {len(recorder.types)} topics to {out}'
              + (f' (not seen yet: {", ".join(missing)})' if missing else ''), flush=True)
        end = time.monotonic() + options.duration if options.duration else float('inf')
        while time.monotonic() < end and not stop:
            recorder.spin(min(1.0, max(0.0, end - time.monotonic())))
            if missing:
                missing = recorder.discover()
            if launcher is not None and launcher.check():
                print('[record] the graph stopped', flush=True)
                break
    finally:
        recorder.close()
        if launcher is not None:
            launcher.shutdown()
    counts = {}
    for path in recorder.files:
        from inhand.recording import RecordingReader
        with RecordingReader(path) as reader:
            for topic, (_, count) in reader.topics.items():
                counts[topic] = counts.get(topic, 0) + count
    print(f'[record] wrote {len(recorder.files)} recording(s) under {out}: '
          + ', '.join(f'{t} {n}' for t, n in sorted(counts.items())), flush=True)
    if missing:
        print(f'[record] never published: {", ".join(missing)}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
