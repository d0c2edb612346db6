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
An ONNX policy behind onnxruntime, checked against its spec before the first step.

One intra-op thread and sequential execution: a policy step is a few small matrix products,
where extra threads cost more in wake-ups than they save and would compete with the sim and the
other nodes on a small machine. Recurrent state tensors are fed back from the named outputs to
the named inputs at every step and zeroed by reset() at the start of an episode.
"""
import pathlib

import numpy as np
import onnxruntime as ort
from policy_node.spec import ModelMismatchError, ModelSpec, SizeMismatchError


def _describe(tensors) -> str:
    return ', '.join(f'{t.name} {t.type} {list(t.shape)}' for t in tensors) or 'none'


def _static_dim(dim) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def describe_unloadable(path: pathlib.Path) -> str:
    """Say what a file that onnxruntime refused looks like, and what to do about it."""
    try:
        size = path.stat().st_size
        with path.open('rb') as stream:
            head = stream.read(200)
    except OSError as exc:
        return f' (the file cannot be read: {exc})'
    if head.startswith(b'version https://git-lfs'):
        return (f'. The file ({size} bytes) is a Git LFS pointer, not the model: fetch it '
                f'with `git lfs pull` (or download the model itself)')
    if size == 0:
        return '. The file is empty: the download or copy did not complete'
    if size < 1024:
        text = head.decode('utf-8', 'replace')
        if text.isprintable() or all(c.isprintable() or c.isspace() for c in text):
            return (f'. The file is {size} bytes of text, not an ONNX model: '
                    f'{text.strip()[:80]!r}')
    return (f'. The file is {size} bytes: a truncated or corrupted download looks like '
            f'this; copy the model again and compare its size or checksum')


class OnnxPolicy:
    """Run one policy step: observation (+ carried state) -> raw action."""

    def __init__(self, model_path, model: ModelSpec, observation_size: int, action_size: int,
                 threads: int = 1):
        self.path = pathlib.Path(model_path)
        self.spec = model
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=['CPUExecutionProvider'])
        except Exception as exc:  # noqa: B902 - onnxruntime raises its own untyped errors
            raise ModelMismatchError(f'{self.path}: onnxruntime cannot load the model: '
                                     f'{exc}{describe_unloadable(self.path)}') from exc
        inputs = {t.name: t for t in self.session.get_inputs()}
        outputs = {t.name: t for t in self.session.get_outputs()}
        where = f'{self.path}'
        listing = (f'(model inputs: {_describe(inputs.values())}; '
                   f'outputs: {_describe(outputs.values())})')

        def lookup(table, name, kind, key):
            if name not in table:
                raise ModelMismatchError(f'{where}: the spec names {kind} {name!r} '
                                         f'(model.{key}) but the model has no such tensor '
                                         f'{listing}')
            tensor = table[name]
            if tensor.type != 'tensor(float)':
                raise ModelMismatchError(f'{where}: {kind} {name!r} is {tensor.type}, '
                                         f'expected tensor(float)')
            return tensor

        obs = lookup(inputs, model.observation_input, 'input', 'inputs.observation')
        self.observation_shape = self._feature_shape(
            obs, observation_size, 'observation', 'input', where,
            'the observation terms sum to')
        act = lookup(outputs, model.action_output, 'output', 'outputs.action')
        self._feature_shape(act, action_size, 'action', 'output', where,
                            "the spec's action needs")
        self.action_size = action_size

        self.state_shapes = {}
        for pair in model.recurrent:
            tensor_in = lookup(inputs, pair.input_name, 'input', 'recurrent[].input')
            tensor_out = lookup(outputs, pair.output_name, 'output', 'recurrent[].output')
            shape = [_static_dim(d) or 1 for d in tensor_in.shape]
            out_shape = [_static_dim(d) for d in tensor_out.shape]
            if len(out_shape) != len(shape) or any(
                    o is not None and o != s for o, s in zip(out_shape, shape)):
                raise ModelMismatchError(
                    f'{where}: recurrent state {pair.input_name!r} -> {pair.output_name!r}: '
                    f'input shape {list(tensor_in.shape)} and output shape '
                    f'{list(tensor_out.shape)} differ')
            self.state_shapes[pair.input_name] = tuple(shape)
        bound = {model.observation_input} | set(self.state_shapes)
        unbound = [name for name in inputs if name not in bound]
        if unbound:
            raise ModelMismatchError(
                f'{where}: model input(s) {", ".join(map(repr, unbound))} are not bound by the '
                f'spec: name recurrent state under model.recurrent {listing}')
        self.output_names = [model.action_output] + [p.output_name for p in model.recurrent]
        self.state_inputs = [p.input_name for p in model.recurrent]
        self.state = {}
        self.reset()

    @staticmethod
    def _feature_shape(tensor, size, term, kind, where, what) -> tuple:
        """Check [.., size] with leading dims 1 or symbolic; return the shape to feed."""
        shape = list(tensor.shape)
        if not shape:
            raise ModelMismatchError(f'{where}: {kind} {tensor.name!r} is a scalar')
        last = _static_dim(shape[-1])
        if last is None:
            raise ModelMismatchError(
                f'{where}: {kind} {tensor.name!r} has a symbolic feature dimension {shape}; '
                f'export it with a fixed size so its size can be checked')
        if last != size:
            raise SizeMismatchError(
                f'{where}: {what} {size} values but model {kind} {tensor.name!r} has '
                f'{last} (shape {shape}) (expected size {last}, actual size {size})',
                term=term, expected=last, actual=size)
        for dim in shape[:-1]:
            if _static_dim(dim) not in (None, 1):
                raise ModelMismatchError(
                    f'{where}: {kind} {tensor.name!r} has shape {shape}; only a batch of 1 '
                    f'(leading dims 1 or symbolic) is supported')
        return tuple(1 for _ in shape[:-1]) + (size,)

    def reset(self):
        """Zero the recurrent state (episode start)."""
        self.state = {name: np.zeros(shape, dtype=np.float32)
                      for name, shape in self.state_shapes.items()}

    def run(self, observation: np.ndarray) -> np.ndarray:
        """Return the raw action for one observation and carry the recurrent state."""
        feeds = {self.spec.observation_input:
                 np.asarray(observation, dtype=np.float32).reshape(self.observation_shape)}
        feeds.update(self.state)
        outputs = self.session.run(self.output_names, feeds)
        for name, value in zip(self.state_inputs, outputs[1:]):
            if value.shape != self.state_shapes[name]:
                raise ModelMismatchError(
                    f'{self.path}: recurrent output for {name!r} has shape {value.shape}, '
                    f'expected {self.state_shapes[name]}')
            self.state[name] = value
        action = outputs[0]
        if action.size != self.action_size:
            raise SizeMismatchError(
                f'{self.path}: output {self.spec.action_output!r} returned {action.size} values '
                f'(expected size {self.action_size}, actual size {action.size})',
                term='action', expected=self.action_size, actual=action.size)
        return action.reshape(-1)

    def warm_up(self, steps: int = 20):
        """Run a few zero observations (the first runs allocate), then reset the state."""
        zeros = np.zeros(self.observation_shape[-1], dtype=np.float32)
        for _ in range(steps):
            self.run(zeros)
        self.reset()
