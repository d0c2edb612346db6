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
Check a policy spec and model without ROS: every start-up check of policy_runner, then a layout.

    .venv/bin/python -m policy_node.check_spec --spec policies/playground_reorient.yaml \
        --model /path/to/policy.onnx [--hand shadow]

Prints the observation layout (term, source, index range), the model's tensors and the action
semantics, then runs one step on the hand's home pose with the cube at rest and a goal 90
degrees away, and prints the targets. Exit code 0 when everything fits, 2 with the message that
policy_runner would print otherwise.
"""
import argparse
import sys

from hand_control.hand_profile import load_hand_profile
from inhand.config import ConfigError
from inhand.hand_model import load_scene_config
from inhand.transforms import axis_angle_to_quat
import numpy as np
from policy_node.runner import load_runner


def describe(runner) -> str:
    spec = runner.spec
    lines = [f'spec {spec.name!r} from {spec.source}', f'model {runner.model_path}',
             f'hand {runner.profile.name}, {len(runner.joint_names)} action joints, '
             f'{spec.rate_hz:g} Hz', '', 'observation:']
    for name, source, start, size in runner.builder.layout():
        lines.append(f'  [{start:3d}:{start + size:3d}] {name:24s} {source}')
    lines.append(f'  total {runner.builder.size}'
                 + (', normalized' if spec.normalization is not None else ''))
    tensors = runner.policy.session
    lines.append('model inputs:  ' + ', '.join(f'{t.name} {list(t.shape)}'
                                               for t in tensors.get_inputs()))
    lines.append('model outputs: ' + ', '.join(f'{t.name} {list(t.shape)}'
                                               for t in tensors.get_outputs()))
    action = spec.action
    lines.append(f'action: {action.mode}, scale {action.scale}, offset {action.offset}, '
                 f'bins {action.bins}, clip_to_limits {action.clip_to_limits}, '
                 f'ema {action.ema} on {action.ema_on}')
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--spec', default='', help='spec YAML (path or name under config/)')
    parser.add_argument('--model', default='', help='ONNX model (path or name under models/)')
    parser.add_argument('--hand', default='shadow', help='hand profile')
    parser.add_argument('--scene', default='sim/scene.yaml',
                        help='scene config (hand mount for forward kinematics)')
    args = parser.parse_args(argv)
    try:
        profile = load_hand_profile(args.hand)
        scene = load_scene_config(args.scene)
        runner = load_runner(profile, args.spec, args.model, scene_config=scene)
    except ConfigError as exc:
        print(f'[FATAL] configuration error: {exc}', file=sys.stderr)
        return 2
    print(describe(runner))
    runner.start(profile.home[runner.joint_indices])
    cube_position = None
    if runner.needs_cube or runner.needs_goal:
        from policy_node.kinematics import HandKinematics, load_hand_model
        kinematics = HandKinematics(profile, load_hand_model(profile, scene))
        kinematics.update(profile.home)
        cube_position = kinematics.palm_pose()[0] + np.array([0.0, 0.0, 0.04])
    targets = runner.step(profile.home, np.zeros(len(profile.joint_names)), cube_position,
                          np.array([1.0, 0.0, 0.0, 0.0]),
                          axis_angle_to_quat([1.0, 0.0, 0.0], np.pi / 2))
    print('\none step from the home pose:')
    for name, value in zip(runner.joint_names, targets):
        print(f'  {name:12s} {value:+.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
