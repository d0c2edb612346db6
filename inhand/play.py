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
`inhand play`: play a recording back into a graph, with its clock.

    inhand launch bringup sim:=false use_sim_time:=true pose_source:=vision &
    inhand play recordings/run1                    # the sensor streams, at recorded speed
    inhand play recordings/run1 --rate 0.5 --topics /clock /joint_states /cube/pose_gt

By default it plays what the hand and cameras (or the simulator) gave the graph: /clock,
/joint_states, the camera images and camera_info, /tf_static and /cube/pose_gt; the graph's
own nodes make the rest again (--all plays everything, --topics chooses). Messages go out as
recorded (CDR bytes, no conversion) at their recorded spacing divided by --rate. /clock comes
from the recording, so nodes with use_sim_time see the recorded time; a recording without
/clock (a real robot's, on wall time) gets one made from its log times. Latched topics are
played latched. A recording that is missing, not a recording, or truncated / corrupt stops
with an error that says so (exit 2).
"""
import argparse
import os
import signal
import sys
import time

from inhand import graph
from inhand.recording import (find_message_class, LATCHED_TOPICS, RecordingError,
                              RecordingReader)

# What the hardware (or sim_bridge) feeds the graph: what a replay stands in for.
SENSOR_TOPICS = ('/clock', '/joint_states', '/tf_static', '/cube/pose_gt')
SENSOR_PREFIXES = ('/cameras/',)
SYNTHETIC_CLOCK_HZ = 100.0


def sensor_topics(recorded) -> list:
    return [t for t in recorded if t in SENSOR_TOPICS
            or any(t.startswith(p) and t.endswith(('/image_raw', '/camera_info'))
                   for p in SENSOR_PREFIXES)]


class Player:
    """Publish a recording's raw messages on their topics, paced by their log times."""

    def __init__(self, reader: RecordingReader, topics, rate=1.0):
        import rclpy
        from rclpy.node import Node
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        self.rclpy, self.reader, self.rate = rclpy, reader, rate
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context)
        self.node = Node('inhand_player', context=self.context)
        recorded = reader.topics
        self.topics = list(topics)
        self.publishers = {}
        for topic in self.topics:
            msgtype, count = recorded[topic]
            latched = topic in LATCHED_TOPICS
            qos = QoSProfile(depth=max(1, min(count, 100)) if latched else 100,
                             reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL if latched
                             else DurabilityPolicy.VOLATILE)
            self.publishers[topic] = self.node.create_publisher(
                find_message_class(msgtype), topic, qos)
        self.synthetic_clock = '/clock' not in recorded
        if self.synthetic_clock:
            from rosgraph_msgs.msg import Clock
            self.clock_pub = self.node.create_publisher(Clock, '/clock', 10)
        self.sent = dict.fromkeys(self.topics, 0)

    def wait_for_subscribers(self, timeout):
        """Give discovery a moment so that the first messages are not lost."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(p.get_subscription_count() for p in self.publishers.values()):
                time.sleep(0.5)
                return True
            time.sleep(0.05)
        return False

    def play(self, stop=lambda: False):
        start_ns = self.reader.start_ns
        wall0 = time.monotonic()
        next_clock = 0.0
        for message in self.reader.messages(self.topics):
            offset = (message.time_ns - start_ns) * 1e-9
            if self.synthetic_clock:
                while next_clock <= offset:
                    self._sleep_until(wall0 + next_clock / self.rate)
                    self._publish_clock(start_ns + int(next_clock * 1e9))
                    next_clock += 1.0 / SYNTHETIC_CLOCK_HZ
            self._sleep_until(wall0 + offset / self.rate)
            if stop():
                break
            self.publishers[message.topic].publish(message.data)
            self.sent[message.topic] += 1
        return self.sent

    def _publish_clock(self, time_ns):
        from rosgraph_msgs.msg import Clock
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(int(time_ns), 1_000_000_000)
        self.clock_pub.publish(msg)

    @staticmethod
    def _sleep_until(target):
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def close(self):
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='inhand play', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('recording', help='rosbag2 folder (or its .mcap file)')
    parser.add_argument('--rate', type=float, default=1.0, help='playback speed factor')
    parser.add_argument('--topics', nargs='+', default=None, help='topics to play')
    parser.add_argument('--all', action='store_true', help='play every recorded topic')
    parser.add_argument('--wait', type=float, default=5.0,
                        help='seconds to wait for a subscriber before starting')
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if options.rate <= 0:
        print('inhand play: --rate must be > 0', file=sys.stderr)
        return 2
    # The player publishes like a driver: the graph's Fast DDS profile (large images in
    # shared memory), unless the environment names one.
    os.environ.update(graph.node_environment(graph.resolve_arguments({}), os.environ))
    stop = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.append(True))
    try:
        reader = RecordingReader(options.recording)
        recorded = reader.topics
        if options.topics:
            unknown = [t for t in options.topics if t not in recorded]
            if unknown:
                raise RecordingError(f'{reader.path}: not recorded: {", ".join(unknown)} '
                                     f'(recorded: {", ".join(sorted(recorded))})')
            topics = options.topics
        else:
            topics = list(recorded) if options.all else sensor_topics(recorded)
        player = Player(reader, topics, options.rate)
        print(f'[play] {reader.path}: {reader.duration_ns * 1e-9:.1f} s, {len(topics)} topics'
              + (' (+ /clock from log times)' if player.synthetic_clock else '')
              + f' at rate {options.rate:g}', flush=True)
        player.wait_for_subscribers(options.wait)
        sent = player.play(stop=lambda: bool(stop))
        player.close()
    except RecordingError as exc:
        print(f'inhand play: {exc}', file=sys.stderr)
        return 2
    print('[play] done: ' + ', '.join(f'{t} {n}' for t, n in sorted(sent.items())), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
