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
The Fast DDS profile carries 640x480 images between processes without losing them.

Without it (Fast DDS's 512 kB shared-memory segment), three 640x480 rgb8 streams at 15 Hz with
sensor-data QoS lose most of their frames between two processes on this machine, and this test
fails (tried by pointing FASTDDS_DEFAULT_PROFILES_FILE at an empty profile); with it, every frame
arrives. The publisher here is a separate
process, as sim_bridge is for cube_pose.
"""
import os
import subprocess
import sys
import textwrap

from inhand import dds_env
import pytest
from ros_harness import Probe
from sensor_msgs.msg import Image

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FRAMES = 45
CAMERAS = ('a', 'b', 'c')

PUBLISHER = textwrap.dedent(f"""
    import time
    import numpy as np
    import rclpy
    from inhand.messages import image_to_msg, sec_to_stamp
    from inhand.qos import SENSOR_PUB
    from sensor_msgs.msg import Image
    rclpy.init()
    node = rclpy.create_node('vga_publisher')
    pubs = [node.create_publisher(Image, f'/vga/{{n}}/image_raw', SENSOR_PUB)
            for n in {CAMERAS!r}]
    deadline = time.monotonic() + 60.0
    while any(p.get_subscription_count() == 0 for p in pubs) and time.monotonic() < deadline:
        time.sleep(0.05)
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    start = time.monotonic()
    for k in range({FRAMES}):
        for p in pubs:
            p.publish(image_to_msg(image, sec_to_stamp(k / 15.0), 'vga'))
        time.sleep(max(0.0, start + (k + 1) / 15.0 - time.monotonic()))
    time.sleep(0.5)
    node.destroy_node()
    rclpy.shutdown()
""")


def test_three_640x480_streams_at_15_hz_arrive_whole():
    env = dds_env.isolate(dict(os.environ))
    assert env['FASTDDS_DEFAULT_PROFILES_FILE'].endswith('fastdds_large_images.xml')
    with Probe('vga_subscriber') as probe:
        received = {n: probe.subscribe(f'/vga/{n}/image_raw', Image) for n in CAMERAS}
        publisher = subprocess.Popen([sys.executable, '-c', PUBLISHER], env=env)
        try:
            probe.wait_until(lambda: publisher.poll() is not None, timeout=90,
                             what='the publisher to finish')
            probe.spin(0.3)
        finally:
            publisher.kill()
    assert publisher.returncode == 0
    counts = {n: len(msgs) for n, msgs in received.items()}
    # Best effort may still drop a frame on a loaded machine; never most of them.
    assert all(count >= 0.9 * FRAMES for count in counts.values()), counts
    assert all(m.width == 640 and m.height == 480 for msgs in received.values() for m in msgs)
