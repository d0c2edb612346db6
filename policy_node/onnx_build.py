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
Build small ONNX policies from NumPy weights with the onnx helper API (no torch needed).

Used by the demo policy script, the tests (tiny MLP and LSTM fixtures) and the benchmark
(Playground-size MLP, Dactyl-size LSTM). Weights are row-major NumPy arrays: a dense layer is
(W[in, out], b[out]); the LSTM uses ONNX's layout and gate order (i, o, f, c).
"""
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
from policy_node.spec import SPEC_METADATA_KEY

OPSET = 17
IR_VERSION = 8
_ACTIVATIONS = {'relu': 'Relu', 'elu': 'Elu', 'tanh': 'Tanh'}


def _dense(nodes, inits, x, weight, bias, name):
    inits.append(numpy_helper.from_array(np.asarray(weight, np.float32), f'{name}_W'))
    inits.append(numpy_helper.from_array(np.asarray(bias, np.float32), f'{name}_b'))
    nodes.append(helper.make_node('MatMul', [x, f'{name}_W'], [f'{name}_mm']))
    nodes.append(helper.make_node('Add', [f'{name}_mm', f'{name}_b'], [f'{name}_out']))
    return f'{name}_out'


def _activation(nodes, x, activation, name):
    if activation is None:
        return x
    nodes.append(helper.make_node(_ACTIVATIONS[activation], [x], [f'{name}_act']))
    return f'{name}_act'


def _finish(nodes, inits, inputs, outputs, name, spec_text=None) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)],
                              producer_name='inhand.policy_node.onnx_build')
    model.ir_version = IR_VERSION
    if spec_text is not None:
        helper.set_model_props(model, {SPEC_METADATA_KEY: spec_text})
    onnx.checker.check_model(model)
    return model


def mlp_model(layers, activation='elu', final_activation=None, input_name='obs',
              output_name='action', batch_dim=True, spec_text=None) -> onnx.ModelProto:
    """Return an MLP: hidden layers with activation, last layer with final_activation."""
    nodes, inits = [], []
    x = input_name
    for i, (weight, bias) in enumerate(layers):
        x = _dense(nodes, inits, x, weight, bias, f'fc{i}')
        last = i == len(layers) - 1
        x = _activation(nodes, x, final_activation if last else activation, f'fc{i}')
    nodes.append(helper.make_node('Identity', [x], [output_name]))
    n_in, n_out = np.shape(layers[0][0])[0], np.shape(layers[-1][0])[1]
    shape_in = [1, n_in] if batch_dim else [n_in]
    shape_out = [1, n_out] if batch_dim else [n_out]
    return _finish(nodes, inits,
                   [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, shape_in)],
                   [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, shape_out)],
                   'mlp_policy', spec_text)


def lstm_model(dense, lstm, head, dense_activation='relu', input_name='obs',
               output_name='action', state_names=('h_in', 'c_in', 'h_out', 'c_out'),
               spec_text=None) -> onnx.ModelProto:
    """
    Return dense -> LSTM (one step, state in and out) -> linear head.

    dense and head are (W, b); lstm is (W[1, 4H, D], R[1, 4H, H], B[1, 8H]) in ONNX layout.
    The state tensors have shape [1, 1, H] (directions, batch, hidden).
    """
    h_in, c_in, h_out, c_out = state_names
    nodes, inits = [], []
    x = _dense(nodes, inits, input_name, *dense, 'dense')
    x = _activation(nodes, x, dense_activation, 'dense')
    w, r, b = (np.asarray(a, np.float32) for a in lstm)
    hidden = r.shape[-1]
    inits += [numpy_helper.from_array(w, 'lstm_W'), numpy_helper.from_array(r, 'lstm_R'),
              numpy_helper.from_array(b, 'lstm_B'),
              numpy_helper.from_array(np.array([0], np.int64), 'axis0'),
              numpy_helper.from_array(np.array([1, hidden], np.int64), 'flat_shape')]
    nodes.append(helper.make_node('Unsqueeze', [x, 'axis0'], ['lstm_x']))   # [seq=1, 1, D]
    nodes.append(helper.make_node('LSTM', ['lstm_x', 'lstm_W', 'lstm_R', 'lstm_B', '', h_in,
                                           c_in], ['lstm_y', h_out, c_out],
                                  hidden_size=hidden))
    nodes.append(helper.make_node('Reshape', [h_out, 'flat_shape'], ['lstm_h']))
    x = _dense(nodes, inits, 'lstm_h', *head, 'head')
    nodes.append(helper.make_node('Identity', [x], [output_name]))
    n_in, n_out = np.shape(dense[0])[0], np.shape(head[0])[1]
    state = [1, 1, hidden]
    return _finish(
        nodes, inits,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, n_in]),
         helper.make_tensor_value_info(h_in, TensorProto.FLOAT, state),
         helper.make_tensor_value_info(c_in, TensorProto.FLOAT, state)],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [1, n_out]),
         helper.make_tensor_value_info(h_out, TensorProto.FLOAT, state),
         helper.make_tensor_value_info(c_out, TensorProto.FLOAT, state)],
        'lstm_policy', spec_text)


def random_mlp_layers(rng: np.random.Generator, sizes, gain=1.0) -> list:
    """Return [(W, b)] for layer sizes [in, h1, ..., out], scaled like Glorot-uniform."""
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        limit = gain * np.sqrt(6.0 / (n_in + n_out))
        layers.append((rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32),
                       rng.uniform(-0.1, 0.1, n_out).astype(np.float32)))
    return layers


def random_lstm_weights(rng: np.random.Generator, n_in, hidden, gain=1.0) -> tuple:
    """Return (W[1, 4H, D], R[1, 4H, H], B[1, 8H]) in ONNX layout."""
    limit = gain / np.sqrt(hidden)
    return (rng.uniform(-limit, limit, (1, 4 * hidden, n_in)).astype(np.float32),
            rng.uniform(-limit, limit, (1, 4 * hidden, hidden)).astype(np.float32),
            rng.uniform(-limit, limit, (1, 8 * hidden)).astype(np.float32))


def save(model: onnx.ModelProto, path) -> None:
    onnx.save(model, str(path))
