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
Export a trained checkpoint to what policy_runner loads: ONNX model + its spec.

    python -m training.export --checkpoint runs/yaw/checkpoints/latest.pt \
        --out models/inhand_yaw.onnx

The network is the actor's deterministic output (the Gaussian's mean) behind its observation
normalizer, one input 'obs' [1, N] and one output 'actions' [1, A], as the spec's model
section names them. The spec (the YAML the policy was trained with) is embedded in the model's
metadata, so the model alone is enough for policy_runner (-p model:=...); the shipped spec in
config/policies/ names the same file. The export is checked before it is written: onnxruntime
must give the torch actor's output on random observations (max abs difference printed).
"""
import argparse
import pathlib
import sys

import numpy as np


def load_actor(checkpoint_path):
    """Rebuild the trained actor (rsl_rl MLPModel) from a checkpoint; return (actor, state)."""
    import torch
    from rsl_rl.models import MLPModel
    from tensordict import TensorDict
    from training.config import load_train_config
    from training.train import rsl_config
    state = torch.load(checkpoint_path, weights_only=False, map_location='cpu')
    config = load_train_config(state['config_file'])
    cfg = rsl_config(config, None)
    actor_cfg = {k: v for k, v in cfg['actor'].items() if k != 'class_name'}
    obs = TensorDict({'policy': torch.zeros(1, state['obs_size'])}, batch_size=[1])
    actor = MLPModel(obs, {'actor': ['policy']}, 'actor', state['num_actions'], **actor_cfg)
    actor.load_state_dict(state['actor_state_dict'])
    actor.eval()
    return actor, state


def deterministic_actions(actor, observations: np.ndarray) -> np.ndarray:
    """Return the torch actor's mean actions for a [B, N] observation array."""
    import torch
    from tensordict import TensorDict
    with torch.inference_mode():
        obs = TensorDict({'policy': torch.as_tensor(observations, dtype=torch.float32)},
                         batch_size=[len(observations)])
        return actor(obs).numpy()


def export(checkpoint_path, out_path, spec_path=None) -> float:
    """Write the ONNX model (spec embedded); return the max |onnx - torch| difference."""
    import onnx
    import onnxruntime
    import torch
    from inhand.config import config_path
    from policy_node.spec import SPEC_METADATA_KEY
    actor, state = load_actor(checkpoint_path)
    spec_file = config_path(spec_path or state['spec'])
    wrapper = actor.as_onnx(verbose=False)
    wrapper.eval()
    out_path = pathlib.Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(wrapper, wrapper.get_dummy_inputs(), str(out_path), export_params=True,
                      opset_version=18, input_names=['obs'], output_names=['actions'],
                      dynamo=True, verbose=False)
    model = onnx.load(str(out_path))
    entry = model.metadata_props.add()
    entry.key = SPEC_METADATA_KEY
    entry.value = spec_file.read_text()
    for key, value in (('inhand_training_iteration', state['iter']),
                       ('inhand_training_env_steps', state.get('env_steps', 0)),
                       ('inhand_training_config', state['config_file'])):
        item = model.metadata_props.add()
        item.key, item.value = key, str(value)
    onnx.checker.check_model(model)
    # One self-contained file: the exporter may have put the weights beside it (.data).
    onnx.save(model, str(out_path), save_as_external_data=False)
    leftover = out_path.with_name(out_path.name + '.data')
    if leftover.exists():
        leftover.unlink()
    session = onnxruntime.InferenceSession(str(out_path), providers=['CPUExecutionProvider'])
    rng = np.random.default_rng(0)
    observations = rng.normal(size=(16, state['obs_size'])).astype(np.float32)
    expected = deterministic_actions(actor, observations)
    got = np.concatenate([session.run(None, {'obs': row[None]})[0] for row in observations])
    difference = float(np.max(np.abs(got - expected)))
    if difference > 1e-4:
        out_path.unlink()
        raise RuntimeError(f'ONNX export differs from torch by {difference:g}; not written')
    return difference


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m training.export', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--checkpoint', required=True)
    parser.add_argument('--out', required=True, help='ONNX file to write')
    parser.add_argument('--spec', default=None,
                        help='spec to embed (default: the one the run was trained with)')
    args = parser.parse_args(argv)
    difference = export(args.checkpoint, args.out, args.spec)
    print(f'wrote {args.out}: onnxruntime vs torch max |difference| {difference:.2e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
