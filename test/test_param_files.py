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

"""Every shipped parameter file names exactly the parameters its node declares, with values."""
import importlib
import os

from inhand.paths import config_path
import pytest
import rclpy
import yaml

NODES = [
    ('policy_node.goal_manager_node', 'GoalManagerNode', 'policies/goal_manager.params.yaml',
     'goal_manager'),
    ('policy_node.policy_runner_node', 'PolicyRunnerNode', 'policies/policy_runner.params.yaml',
     'policy_runner'),
    ('vision_pose.cube_pose_node', 'CubePoseNode', 'vision/cube_pose.yaml', 'cube_pose'),
    ('sim_bridge.node', 'SimBridgeNode', 'sim/sim_bridge.yaml', 'sim_bridge'),
    ('hand_control.hand_description_node', 'HandDescriptionNode', 'hand_description.yaml',
     'hand_description'),
    ('inhand.scene_markers_node', 'SceneMarkersNode', 'scene_markers.yaml', 'scene_markers'),
    ('inhand.viewer_node', 'ViewerNode', 'viewer.yaml', 'viewer'),
]
# Declared by rclpy itself, not by our nodes.
BUILTIN = {'use_sim_time', 'start_type_description_service'}


@pytest.mark.parametrize('module, cls, file, name', NODES, ids=[n[3] for n in NODES])
def test_parameter_file_matches_the_node(module, cls, file, name):
    path = config_path(file)
    keys = yaml.safe_load(path.read_text())[name]['ros__parameters']
    node_class = getattr(importlib.import_module(module), cls)
    rclpy.init(args=['--ros-args', '--params-file', str(path)])
    node = None
    try:
        node = node_class()
        assert {k: node.get_parameter(k).value for k in keys} == keys
        declared = {p for p in node._parameters if p not in BUILTIN}
        assert declared == set(keys), f'declared but not in {file}: {declared - set(keys)}; ' \
            f'in {file} but not declared: {set(keys) - declared}'
    finally:
        if node is not None:
            getattr(node, 'close', lambda: None)()
            node.destroy_node()
        rclpy.shutdown()


def test_a_misspelt_parameter_is_refused_naming_the_node_and_the_nearest_one(tmp_path):
    import subprocess
    import sys
    from inhand import dds_env
    params = tmp_path / 'typo.yaml'
    params.write_text('safety_limiter:\n  ros__parameters:\n    comand_timeout: 0.1\n')
    env = dds_env.isolate(dict(os.environ),
                          domain_id=dds_env.pick_domain_id(os.getpid() + 2011))
    proc = subprocess.run(
        [sys.executable, '-m', 'inhand.node_entry', 'hand_control.safety_limiter_node',
         '--ros-args', '-r', '__node:=safety_limiter', '--params-file', str(params),
         '-p', f'state_dir:={tmp_path}'],
        capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2, proc.stderr
    expected = ("parameters of node /safety_limiter: unknown key 'comand_timeout' "
                '(did you mean command_timeout?)')
    assert expected in proc.stderr
    assert 'Traceback' not in proc.stderr
