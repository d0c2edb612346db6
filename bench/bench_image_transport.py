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
Benchmark how long a 640x480 image waits between its DDS reception and its rclpy callback.

    .venv/bin/python bench/bench_image_transport.py

This process publishes three 640x480 rgb8 images back to back at 15 Hz (a camera set, as
cube_pose receives it); a subscriber process with three subscriptions records, per image,
the callback's start minus the reception time DDS reports (message info). The subscriber runs
twice: with malloc's defaults and after inhand.large_buffers.keep_large_buffers(), which
cube_pose calls at start (`keep_image_buffers`). It backs the figures in docs/vision.md.
"""
import json
import os
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from inhand import dds_env  # noqa: E402
import numpy as np  # noqa: E402

CAMERAS = 3
RATE_HZ = 15.0
PUBLISH_S = 8.0
WARM_UP_SETS = 15            # the first sets pay for discovery and first allocations


def subscribe(keep: bool, seconds: float):
    """Record (camera index, callback start - reception ns) for `seconds`; print them."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import Image
    from inhand.large_buffers import keep_large_buffers
    from inhand.qos import SENSOR_SUB
    if keep:
        why_not = keep_large_buffers()
        if why_not:
            raise SystemExit(f'keep_large_buffers: {why_not}')
    rclpy.init()
    node = Node('bench_image_transport_subscriber')
    delays = []

    def on_image(index, info):
        delays.append((index, time.time_ns() - info['received_timestamp']))
    for index in range(CAMERAS):
        node.create_subscription(Image, f'/bench_cam{index}/image_raw',
                                 lambda msg, info, i=index: on_image(i, info), SENSOR_SUB)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)
    node.destroy_node()
    rclpy.shutdown()
    print(json.dumps(delays))


def publish(seconds: float) -> int:
    """Publish camera sets for `seconds`; return how many."""
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import Image
    from inhand.messages import image_to_msg
    from inhand.qos import SENSOR_PUB
    rclpy.init()
    node = Node('bench_image_transport_publisher')
    publishers = [node.create_publisher(Image, f'/bench_cam{i}/image_raw', SENSOR_PUB)
                  for i in range(CAMERAS)]
    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    sets, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        stamp = node.get_clock().now().to_msg()
        for publisher in publishers:
            publisher.publish(image_to_msg(image, stamp, 'bench_camera_optical'))
        sets += 1
        time.sleep(1.0 / RATE_HZ)
    node.destroy_node()
    rclpy.shutdown()
    return sets


def run(keep: bool, env: dict):
    """Return the delays (ms) per camera position in a set, warm-up sets dropped."""
    subscriber = subprocess.Popen(
        [sys.executable, __file__, '--subscribe', 'keep' if keep else 'default',
         str(PUBLISH_S + 4.0)], env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(2.0)                          # the subscriber starts and is discovered
    publish(PUBLISH_S)
    out, _ = subscriber.communicate(timeout=60)
    if subscriber.returncode:
        raise SystemExit(f'subscriber failed with exit code {subscriber.returncode}')
    delays = np.array(json.loads(out.strip().splitlines()[-1]), dtype=float).reshape(-1, 2)
    return [delays[delays[:, 0] == i, 1][WARM_UP_SETS:] / 1e6 for i in range(CAMERAS)]


def main() -> int:
    started = time.monotonic()
    env = dds_env.isolate(dict(os.environ))
    os.environ.update(env)
    print(f'640x480 rgb8 images, {CAMERAS} published back to back at {RATE_HZ:g} Hz for '
          f'{PUBLISH_S:g} s: DDS reception -> rclpy callback start (ms), per image of a set')
    print(f'{"subscriber malloc":24s} ' + ' '.join(
        f'{f"image {i + 1} med / p90":>18s}' for i in range(CAMERAS)) + f' {"received":>9s}')
    for keep in (False, True):
        per_image = run(keep, env)
        label = 'keep_large_buffers()' if keep else 'defaults'
        cells = ' '.join(f'{np.median(d):8.2f} / {np.percentile(d, 90):5.2f}  '
                         if len(d) else f'{"none":>18s}' for d in per_image)
        print(f'{label:24s} {cells} {sum(len(d) for d in per_image):9d}')
    print(f'\n({time.monotonic() - started:.0f} s, {os.cpu_count()} cores)')
    return 0


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--subscribe':
        subscribe(sys.argv[2] == 'keep', float(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())
