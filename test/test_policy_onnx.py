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
ONNX inference against NumPy reference implementations, recurrent state included.

The tiny MLP and LSTM are built with the onnx helper API in fixtures (no torch); the references
below re-implement them from the same weights, independently of policy_node.onnx_build.
"""
import copy

from hand_control.hand_profile import load_hand_profile
import numpy as np
import onnx
from onnx import helper, TensorProto
from policy_node.onnx_build import (lstm_model, mlp_model, random_lstm_weights,
                                    random_mlp_layers, save)
from policy_node.onnx_policy import OnnxPolicy
from policy_node.runner import PolicyRunner
from policy_node.spec import ModelMismatchError, ModelSpec, parse_spec, RecurrentSpec
import pytest
import yaml

N_OBS, HIDDEN, N_ACT = 7, 6, 3
RECURRENT = (RecurrentSpec('h_in', 'h_out'), RecurrentSpec('c_in', 'c_out'))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_mlp(layers, x):
    for i, (w, b) in enumerate(layers):
        x = x @ w.astype(np.float64) + b
        if i < len(layers) - 1:
            x = np.where(x > 0, x, np.expm1(x))     # ELU, alpha 1
    return x


def reference_lstm_step(weights, x, h, c):
    """One LSTM step in ONNX's layout and gate order (input, output, forget, cell)."""
    (dense_w, dense_b), (w, r, b), (head_w, head_b) = weights
    x = np.maximum(x @ dense_w + dense_b, 0.0)
    hidden = h.size
    gates = w[0] @ x + r[0] @ h + b[0, :4 * hidden] + b[0, 4 * hidden:]
    i, o, f, g = np.split(gates, 4)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    return h @ head_w + head_b, h, c


@pytest.fixture(scope='module')
def mlp(tmp_path_factory):
    layers = random_mlp_layers(np.random.default_rng(1), [N_OBS, 16, 8, N_ACT])
    path = tmp_path_factory.mktemp('mlp') / 'mlp.onnx'
    save(mlp_model(layers, activation='elu'), path)
    return path, layers


@pytest.fixture(scope='module')
def lstm(tmp_path_factory):
    rng = np.random.default_rng(2)
    dense = random_mlp_layers(rng, [N_OBS, 8])[0]
    cell = random_lstm_weights(rng, 8, HIDDEN, gain=2.0)
    head = random_mlp_layers(rng, [HIDDEN, N_ACT])[0]
    path = tmp_path_factory.mktemp('lstm') / 'lstm.onnx'
    save(lstm_model(dense, cell, head), path)
    weights = tuple(tuple(np.asarray(a, np.float64) for a in part)
                    for part in (dense, cell, head))
    return path, weights


def model_spec(recurrent=()):
    return ModelSpec(file=None, observation_input='obs', action_output='action',
                     recurrent=tuple(recurrent))


def test_mlp_matches_the_reference(mlp):
    path, layers = mlp
    policy = OnnxPolicy(path, model_spec(), N_OBS, N_ACT)
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.normal(size=N_OBS).astype(np.float32)
        np.testing.assert_allclose(policy.run(x), reference_mlp(layers, x.astype(np.float64)),
                                   rtol=1e-5, atol=1e-6)


def test_lstm_carries_and_resets_its_state_like_the_reference(lstm):
    path, weights = lstm
    policy = OnnxPolicy(path, model_spec(RECURRENT), N_OBS, N_ACT)
    policy.warm_up(3)
    rng = np.random.default_rng(4)
    xs = rng.normal(size=(30, N_OBS)).astype(np.float32)
    h, c = np.zeros(HIDDEN), np.zeros(HIDDEN)
    outputs = []
    for x in xs:
        expected, h, c = reference_lstm_step(weights, x.astype(np.float64), h, c)
        got = policy.run(x)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(policy.state['h_in'].ravel(), h, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(policy.state['c_in'].ravel(), c, rtol=1e-5, atol=1e-6)
        outputs.append(got)
    # The state matters: the same input gives another output later in the episode...
    assert not np.allclose(outputs[0], policy.run(xs[0]), atol=1e-4)
    # ...and reset() starts the episode over.
    policy.reset()
    np.testing.assert_allclose(policy.run(xs[0]), outputs[0], rtol=1e-6)


def test_runner_step_by_step_with_a_recurrent_policy(lstm):
    path, weights = lstm
    profile = load_hand_profile('shadow')
    joints = ['rh_FFJ3', 'rh_MFJ3', 'rh_THJ4']
    terms = [{'name': 'q', 'source': 'joint_positions', 'joints': 'action', 'size': 3},
             {'name': 'e', 'source': 'joint_position_error', 'size': 3},
             {'name': 'c', 'source': 'constant', 'value': 0.5, 'size': 1}]
    data = {'name': 'lstm_test', 'rate_hz': 10.0, 'joints': joints,
            'model': {'inputs': {'observation': 'obs'}, 'outputs': {'action': 'action'},
                      'recurrent': [{'input': 'h_in', 'output': 'h_out'},
                                    {'input': 'c_in', 'output': 'c_out'}]},
            'observation': terms, 'action': {'mode': 'delta_target', 'scale': 0.1}}
    spec = parse_spec(copy.deepcopy(data), 'lstm.yaml', None, yaml.safe_dump(data))
    runner = PolicyRunner(spec, path, profile)
    idx = [profile.index(n) for n in joints]
    lower, upper = profile.lower[idx], profile.upper[idx]
    rng = np.random.default_rng(5)
    qs = rng.uniform(profile.lower, profile.upper, size=(12, 24))

    def reference_episode():
        h, c, target, targets = np.zeros(HIDDEN), np.zeros(HIDDEN), qs[0][idx], []
        for q in qs:
            obs = np.concatenate([q[idx], q[idx] - target, [0.5]])
            action, h, c = reference_lstm_step(weights, obs, h, c)
            target = np.clip(target + 0.1 * action, lower, upper)
            targets.append(target)
        return np.array(targets)

    expected = reference_episode()
    for episode in range(2):          # the second episode checks start() resets everything
        runner.start(qs[0][idx])
        got = np.array([runner.step(q, np.zeros(24)) for q in qs])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# --- mismatches -------------------------------------------------------------------------

def test_unbound_model_input_is_refused(lstm):
    path, _ = lstm
    with pytest.raises(ModelMismatchError,
                       match=r"input\(s\) 'h_in', 'c_in' are not bound by the spec"):
        OnnxPolicy(path, model_spec(), N_OBS, N_ACT)


def test_recurrent_tensor_missing_from_the_model(lstm):
    path, _ = lstm
    with pytest.raises(ModelMismatchError, match=r"output 'hidden_out' .*no such tensor"):
        OnnxPolicy(path, model_spec([RecurrentSpec('h_in', 'hidden_out'), RECURRENT[1]]),
                   N_OBS, N_ACT)


def test_recurrent_input_and_output_shapes_must_agree(lstm):
    path, _ = lstm
    # h_in [1, 1, 6] fed from c_out is fine shape-wise; from 'action' [1, 3] it is not.
    with pytest.raises(ModelMismatchError, match=r"'h_in' -> 'action'.*differ"):
        OnnxPolicy(path, ModelSpec(None, 'obs', 'h_out',
                                   (RecurrentSpec('h_in', 'action'), RECURRENT[1])),
                   N_OBS, HIDDEN)


def _graph_model(path, shape_in, dtype=TensorProto.FLOAT):
    node = helper.make_node('Identity', ['obs'], ['action'])
    graph = helper.make_graph([node], 'g', [helper.make_tensor_value_info('obs', dtype,
                                                                          shape_in)],
                              [helper.make_tensor_value_info('action', dtype, shape_in)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_dynamic_feature_dimension_batch_and_dtype_are_refused(tmp_path):
    _graph_model(tmp_path / 'dyn.onnx', ['batch', 'features'])
    with pytest.raises(ModelMismatchError, match='symbolic feature dimension'):
        OnnxPolicy(tmp_path / 'dyn.onnx', model_spec(), 4, 4)
    _graph_model(tmp_path / 'batch.onnx', [8, 4])
    with pytest.raises(ModelMismatchError, match='only a batch of 1'):
        OnnxPolicy(tmp_path / 'batch.onnx', model_spec(), 4, 4)
    _graph_model(tmp_path / 'double.onnx', [1, 4], TensorProto.DOUBLE)
    with pytest.raises(ModelMismatchError, match=r'tensor\(double\), expected tensor\(float\)'):
        OnnxPolicy(tmp_path / 'double.onnx', model_spec(), 4, 4)
    _graph_model(tmp_path / 'ok.onnx', ['batch', 4])
    policy = OnnxPolicy(tmp_path / 'ok.onnx', model_spec(), 4, 4)
    np.testing.assert_allclose(policy.run(np.arange(4.0)), np.arange(4.0))


def test_unreadable_model_file(tmp_path):
    path = tmp_path / 'broken.onnx'
    path.write_bytes(b'not a model')
    with pytest.raises(ModelMismatchError, match='onnxruntime cannot load the model'):
        OnnxPolicy(path, model_spec(), 4, 4)


def test_an_lfs_pointer_or_a_truncated_model_is_described(tmp_path):
    pointer = tmp_path / 'lfs.onnx'
    pointer.write_text('version https://git-lfs.github.com/spec/v1\n'
                       'oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24'
                       'd17e2393\n'
                       'size 525544\n')
    with pytest.raises(ModelMismatchError, match=r'Git LFS pointer.*git lfs pull'):
        OnnxPolicy(pointer, model_spec(), 4, 4)
    _graph_model(tmp_path / 'ok.onnx', ['batch', 4])
    whole = (tmp_path / 'ok.onnx').read_bytes()
    truncated = tmp_path / 'truncated.onnx'
    truncated.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(ModelMismatchError, match=rf'{len(whole) // 2} bytes: a truncated or '
                                                 'corrupted download'):
        OnnxPolicy(truncated, model_spec(), 4, 4)
    empty = tmp_path / 'empty.onnx'
    empty.write_bytes(b'')
    with pytest.raises(ModelMismatchError, match='The file is empty'):
        OnnxPolicy(empty, model_spec(), 4, 4)
