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

"""What runs on the robot never imports the simulator or the trainer (nor torch or Ray)."""
import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
ROBOT_PACKAGES = ('hand_control', 'policy_node', 'vision_pose', 'inhand')
SIM_ONLY = ('sim_bridge', 'training', 'torch', 'ray')
# Command-line tools in inhand that exist for the simulator (they start it): allowed.
SIM_TOOLS = {'inhand/evaluate.py'}


def imported_modules(path: pathlib.Path):
    """Yield (line, module) for every import in a file, at any depth (lazy imports too)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


@pytest.mark.parametrize('package', ROBOT_PACKAGES)
def test_robot_packages_import_nothing_of_the_simulator_or_trainer(package):
    found = [f'{path.relative_to(ROOT)}:{line}: {module}'
             for path in sorted((ROOT / package).rglob('*.py'))
             if str(path.relative_to(ROOT)) not in SIM_TOOLS
             for line, module in imported_modules(path)
             if module.split('.')[0] in SIM_ONLY]
    assert not found, 'robot-side code imports sim/training modules:\n' + '\n'.join(found)


def test_the_robot_nodes_load_without_the_simulator_package():
    # Import every robot node module with sim_bridge made unimportable, as on a robot
    # install that left it out.
    code = ('import sys\n'
            'class Block:\n'
            '    def find_spec(self, name, path=None, target=None):\n'
            '        if name.split(".")[0] in ("sim_bridge", "training", "torch", "ray"):\n'
            '            raise ImportError(f"{name} is not on the robot")\n'
            'sys.meta_path.insert(0, Block())\n'
            'import hand_control.safety_limiter_node, policy_node.policy_runner_node\n'
            'import policy_node.goal_manager_node, vision_pose.cube_pose_node\n'
            'from policy_node.kinematics import load_hand_model\n'
            'from hand_control.hand_profile import load_hand_profile\n'
            'assert load_hand_model(load_hand_profile("shadow")).njnt > 20\n'
            'print("ok")\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == 'ok', proc.stderr
