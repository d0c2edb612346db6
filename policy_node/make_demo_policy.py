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
Regenerate models/demo_policy.onnx: a scripted finger-gaiting oscillation, not a trained policy.

The model is one linear layer over the whole observation of config/policies/inhand_demo.yaml
whose weights are zero except on the phase term [sin, cos]: each joint gets
amplitude * sin(phase + offset), the fingers one quarter period apart. It exists to exercise the
runner, the limiter and the hand end to end while no trained controller exists. The spec is
embedded in the model's metadata, so the model also runs without the YAML file.

    .venv/bin/python -m policy_node.make_demo_policy [--spec ...] [--hand ...] [--out ...]

The LEAP demo: --spec policies/leap_demo.yaml --hand leap --out models/leap_demo_policy.onnx
"""
import argparse
import pathlib
import sys

from hand_control.hand_profile import load_hand_profile
from inhand.paths import share_dir
import numpy as np
from policy_node.onnx_build import mlp_model, save
from policy_node.spec import load_spec, resolve_joints

DEFAULT_SPEC = 'policies/inhand_demo.yaml'

# (amplitude in action units, phase offset in turns) by joint-name pattern: flexion joints of
# each finger a quarter period after the previous finger, the thumb opposite the first finger.
_GAIT = {
    'FFJ3': (1.0, 0.0), 'FFJ2': (0.8, 0.0),
    'MFJ3': (1.0, 0.25), 'MFJ2': (0.8, 0.25),
    'RFJ3': (1.0, 0.5), 'RFJ2': (0.8, 0.5),
    'LFJ3': (1.0, 0.75), 'LFJ2': (0.8, 0.75),
    'THJ4': (0.6, 0.5), 'THJ1': (0.4, 0.5),
}


def demo_gait(spec, joints):
    """
    Return name -> (amplitude, phase offset in turns) for a spec's joints.

    A spec may write its own gait as extra.demo_gait (joint name -> [amplitude, turns]), as
    another hand's demo does; without one the Shadow hand's _GAIT patterns apply.
    """
    own = (spec.extra or {}).get('demo_gait')
    if own is None:
        return lambda name: next((v for k, v in _GAIT.items() if name.endswith(k)), (0.0, 0.0))
    if not isinstance(own, dict) or not all(
            isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)
            for v in own.values()):
        raise SystemExit(f'{spec.source}: extra.demo_gait must map joint names to '
                         '[amplitude, turns]')
    unknown = sorted(set(own) - set(joints))
    if unknown:
        raise SystemExit(f'{spec.source}: extra.demo_gait names joints the spec does not '
                         f'command: {", ".join(unknown)}')
    return lambda name: tuple(own.get(name, (0.0, 0.0)))


def build_demo_model(spec, profile):
    """Return the ONNX model for a spec that has exactly one phase term."""
    from policy_node.observation import ObservationBuilder
    joints = resolve_joints(spec, profile)
    builder = ObservationBuilder(spec, profile)
    phase_terms = [name for name, source, _, _ in builder.layout() if source == 'phase']
    if len(phase_terms) != 1:
        raise SystemExit(f'{spec.source}: the demo needs exactly one phase term, found '
                         f'{len(phase_terms)}')
    phase = builder.slices[phase_terms[0]]
    weight = np.zeros((builder.size, len(joints)), dtype=np.float32)
    gait = demo_gait(spec, joints)
    for j, name in enumerate(joints):
        amplitude, turns = gait(name)
        offset = 2.0 * np.pi * turns
        # amplitude * sin(wt + offset) = amplitude * (sin wt cos offset + cos wt sin offset)
        weight[phase.start, j] = amplitude * np.cos(offset)
        weight[phase.start + 1, j] = amplitude * np.sin(offset)
    bias = np.zeros(len(joints), dtype=np.float32)
    return mlp_model([(weight, bias)], final_activation=None,
                     input_name=spec.model.observation_input,
                     output_name=spec.model.action_output, spec_text=spec.text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--spec', default=DEFAULT_SPEC, help='policy spec (YAML)')
    parser.add_argument('--hand', default='shadow', help='hand profile')
    parser.add_argument('--out', default=str(share_dir() / 'models' / 'demo_policy.onnx'))
    args = parser.parse_args(argv)
    spec = load_spec(args.spec)
    model = build_demo_model(spec, load_hand_profile(args.hand))
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save(model, out)
    print(f'wrote {out} ({out.stat().st_size} bytes) for spec {spec.source}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
