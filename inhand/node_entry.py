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
Start a node process so that a stop during its start-up is quiet.

A node spends its first second or two importing (MuJoCo, onnxruntime, rclpy). When another
node refuses its configuration, the launcher (or `ros2 launch`) stops the graph with SIGINT,
which then lands in the middle of those imports: each node printed a KeyboardInterrupt
traceback under the one line that said what was wrong. So every node process starts here:
SIGINT and SIGTERM end it at once and silently (exit 128 + N) until the node's own run loop
(inhand.ros_runtime.run_node) takes the signals over for an orderly stop. Only the standard
library is imported before the handlers are in place.

    python -m inhand.node_entry policy_node.policy_runner_node --ros-args ...
    policy_runner --ros-args ...          # the console scripts (setup.py) come here too
"""
import importlib
import os
import signal
import sys

NODE_MODULES = {
    'sim_bridge': 'sim_bridge.node',
    'safety_limiter': 'hand_control.safety_limiter_node',
    'hand_description': 'hand_control.hand_description_node',
    'scene_markers': 'inhand.scene_markers_node',
    'viewer': 'inhand.viewer_node',
    'policy_runner': 'policy_node.policy_runner_node',
    'goal_manager': 'policy_node.goal_manager_node',
    'cube_pose': 'vision_pose.cube_pose_node',
    'vision_rig_calibration': 'vision_pose.rig_calibration',
}


def _quiet_stop(signum, _frame):
    # Nothing is running yet that needs an orderly stop: leave now, with no traceback.
    os._exit(128 + signum)


def run(module: str):
    """Install the quiet start-up handlers, import the node module and run its main()."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _quiet_stop)
    return importlib.import_module(module).main()


def _entry(name):
    def main():
        return run(NODE_MODULES[name])
    main.__name__ = name
    main.__doc__ = f'Run the {name} node ({NODE_MODULES[name]}).'
    return main


sim_bridge = _entry('sim_bridge')
safety_limiter = _entry('safety_limiter')
hand_description = _entry('hand_description')
scene_markers = _entry('scene_markers')
viewer = _entry('viewer')
policy_runner = _entry('policy_runner')
goal_manager = _entry('goal_manager')
cube_pose = _entry('cube_pose')
vision_rig_calibration = _entry('vision_rig_calibration')


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit('usage: python -m inhand.node_entry <node module> [--ros-args ...]')
    module = sys.argv.pop(1)
    sys.exit(run(module))
