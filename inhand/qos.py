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

"""QoS profiles shared by the graph (REP 2003 for sensor data)."""
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)

# Producers of sensor data publish reliable (SystemDefault) like real drivers; consumers
# subscribe best effort (SENSOR_DATA), which matches both reliable and best-effort publishers.
SENSOR_PUB = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE,
                        history=HistoryPolicy.KEEP_LAST)
SENSOR_SUB = qos_profile_sensor_data
# Commands: reliable, keep last 10. Not 1: a command may name a subset of the joints, and two
# subsets sent back to back must both arrive (the receiver merges them, newest per joint).
COMMAND = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                     history=HistoryPolicy.KEEP_LAST)
# Latched topics (/tf_static, goal state): late joiners get the last value.
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     history=HistoryPolicy.KEEP_LAST)
# Subscribing to /tf_static: every broadcaster latches its own message, and a late joiner gets
# them all at once; a reader history of 1 would keep only one of them (tf2_ros' static
# listener keeps 100 for the same reason).
TF_STATIC_SUB = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL,
                           history=HistoryPolicy.KEEP_LAST)
# /tf like tf2_ros' broadcaster.
TF = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                history=HistoryPolicy.KEEP_LAST)
