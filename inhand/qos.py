"""QoS profiles shared by the graph (REP 2003 for sensor data)."""
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)

# Producers of sensor data publish reliable (SystemDefault) like real drivers; consumers
# subscribe best effort (SENSOR_DATA), which matches both reliable and best-effort publishers.
SENSOR_PUB = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE,
                        history=HistoryPolicy.KEEP_LAST)
SENSOR_SUB = qos_profile_sensor_data
# Commands: reliable, shallow queue: a late command is a wrong command.
COMMAND = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     history=HistoryPolicy.KEEP_LAST)
# Latched topics (/tf_static, goal state): late joiners get the last value.
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     history=HistoryPolicy.KEEP_LAST)
# /tf like tf2_ros' broadcaster.
TF = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                history=HistoryPolicy.KEEP_LAST)
