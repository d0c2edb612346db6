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
Policy specs: the contract between an exported ONNX policy and the hand it runs on.

A spec (YAML beside the model, under config/policies/, or embedded in the ONNX metadata under
the key SPEC_METADATA_KEY) declares the control rate, the observation as an ordered list of
named terms with their sizes, the normalization, the action semantics, the joint order by name,
the recurrent state tensors and the input/output tensor names. This module parses and checks the
spec on its own; observation.py checks the term sizes against the hand profile and
onnx_policy.py checks the tensors against the model. Every problem raises a SpecError subclass
whose message names the file, the entry and, for sizes, the expected and the actual size.
"""
from dataclasses import dataclass, field
import math
import pathlib

from inhand.config import ConfigError, Fields, load_yaml, unknown_key_problem
from inhand.paths import share_dir
import numpy as np
import yaml

SPEC_METADATA_KEY = 'inhand.policy_spec'

ACTION_MODES = ('absolute', 'delta_target', 'delta_measured')
HISTORY_ORDERS = ('newest_first', 'oldest_first')
HISTORY_INITS = ('zeros', 'first')


class SpecError(ConfigError):
    """A policy spec is malformed or does not fit the hand or the model."""


class SizeMismatchError(SpecError):
    """A declared size differs from the size the hand profile or the model gives."""

    def __init__(self, message: str, term: str, expected: int, actual: int):
        super().__init__(message)
        self.term = term
        self.expected = expected
        self.actual = actual


def broadcast_vector(value, size: int, mismatch: str, term: str) -> np.ndarray:
    """
    Return value as a float64 vector of `size`: a scalar is repeated, a list must match.

    A list of another length raises SizeMismatchError with `mismatch` (the caller's words for
    what was declared) followed by the expected and actual sizes: never padded or truncated.
    """
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full(size, float(array))
    if array.size != size:
        raise SizeMismatchError(
            f'{mismatch} (expected size {size}, actual size {array.size})',
            term=term, expected=size, actual=array.size)
    return array


class ProfileMismatchError(SpecError):
    """The spec names joints, fingertips or a hand that the hand profile does not have."""


class ModelMismatchError(SpecError):
    """The ONNX model's inputs and outputs do not match the spec."""


@dataclass(frozen=True)
class TermSpec:
    """One observation term as written in the spec (source options checked by its term class)."""

    name: str
    source: str
    size: int                  # declared total size, history included
    history: int
    history_order: str
    history_init: str
    transform: dict
    options: dict              # the source-specific keys, as written
    where: str                 # 'file: observation[i] (name)', for error messages


@dataclass(frozen=True)
class ActionSpec:
    mode: str                  # one of ACTION_MODES
    scale: object              # float, tuple (per joint) or 'half_range' ((upper - lower) / 2)
    offset: object             # None, 'default_pose', 'zero', 'limits_center' or a tuple
    clip_action: tuple | None  # (lo, hi) applied to the decoded network output
    clip_to_limits: bool
    ema: float                 # weight of the new value; 1.0 disables smoothing
    ema_on: str                # 'target' (Playground) or 'action' (robogym SmoothActionWrapper)
    bins: int | None           # discrete actions: bins per joint, decoded to [-1, 1]
    previous_target: str       # what the hand was sent ('commanded') or the policy's own target
    where: str


@dataclass(frozen=True)
class NormalizationSpec:
    mean: np.ndarray
    denominator: np.ndarray    # std + epsilon, or sqrt(var + epsilon)
    clip: float | None
    where: str


@dataclass(frozen=True)
class RecurrentSpec:
    input_name: str            # model input fed with the state
    output_name: str           # model output holding the next state


@dataclass(frozen=True)
class ModelSpec:
    file: str | None
    observation_input: str
    action_output: str
    recurrent: tuple


@dataclass(frozen=True)
class PolicySpec:
    """A parsed policy spec; observation.py and onnx_policy.py bind it to a hand and a model."""

    name: str
    description: str
    source: str                # where it was read from, for messages
    directory: pathlib.Path | None   # folder relative paths are resolved in
    text: str                  # the YAML text, e.g. to embed into an ONNX model
    hand: str | None           # the hand profile name it was written for, when given
    rate_hz: float
    joints: object             # tuple of joint names, or 'actuated'
    default_pose: dict
    observation: tuple
    normalization: NormalizationSpec | None
    action: ActionSpec
    model: ModelSpec
    extra: dict = field(default_factory=dict)

    @property
    def period(self) -> float:
        return 1.0 / self.rate_hz

    @property
    def declared_observation_size(self) -> int:
        return sum(term.size for term in self.observation)

    def model_path(self) -> pathlib.Path | None:
        """Resolve model.file: absolute, else beside the spec, else in the package's models/."""
        if self.model.file is None:
            return None
        candidates = [pathlib.Path(self.model.file).expanduser()]
        if not candidates[0].is_absolute():
            if self.directory is not None:
                candidates = [self.directory / self.model.file]
            try:
                candidates.append(share_dir() / 'models' / self.model.file)
            except FileNotFoundError:
                pass
        for path in candidates:
            if path.is_file():
                return path.resolve()
        raise SpecError(f'{self.source}: model.file {self.model.file!r} not found (looked at '
                        + ', '.join(str(p) for p in candidates) + ')')


def load_spec(name_or_path) -> PolicySpec:
    """Load a spec YAML (a path, or a name under config/, e.g. policies/x.yaml)."""
    try:
        data, path = load_yaml(name_or_path)
    except SpecError:
        raise
    except ConfigError as exc:
        raise SpecError(f'policy spec: {exc}') from exc
    return parse_spec(data, str(path), path.parent, path.read_text())


def parse_spec_text(text: str, source: str, directory=None) -> PolicySpec:
    """Parse a spec from YAML text (e.g. read from ONNX metadata)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f'{source}: not valid YAML: {exc}') from exc
    if not isinstance(data, dict):
        raise SpecError(f'{source}: expected a mapping at the top level')
    return parse_spec(data, source, None if directory is None else pathlib.Path(directory), text)


def read_embedded_spec(model_path) -> PolicySpec | None:
    """Return the spec embedded in an ONNX model's metadata, or None when there is none."""
    import onnx
    path = pathlib.Path(model_path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: B902 - onnx raises several unrelated types
        raise SpecError(f'{path}: cannot read ONNX model: {exc}') from exc
    for prop in model.metadata_props:
        if prop.key == SPEC_METADATA_KEY:
            return parse_spec_text(prop.value, f'{path} (metadata {SPEC_METADATA_KEY})',
                                   path.parent)
    return None


def resolve_spec_and_model(spec_name: str, model_name: str) -> tuple:
    """
    Find the spec and the model from the two node parameters; return (PolicySpec, Path).

    spec given: it is loaded, and the model is model_name when given, else the spec's model.file.
    Only a model given: the spec is <model>.yaml beside it, else the one embedded in its
    metadata. A missing file or a model without any spec raises SpecError.
    """
    model_path = None
    if model_name:
        model_path = pathlib.Path(model_name).expanduser()
        if not model_path.is_file():
            try:
                candidate = share_dir() / 'models' / model_name
            except FileNotFoundError:
                candidate = model_path
            if not candidate.is_file():
                raise SpecError(f'policy model not found: {model_name!r}')
            model_path = candidate
        model_path = model_path.resolve()
    if spec_name:
        spec = load_spec(spec_name)
    elif model_path is not None:
        beside = model_path.with_suffix('.yaml')
        spec = load_spec(beside) if beside.is_file() else read_embedded_spec(model_path)
        if spec is None:
            raise SpecError(f'{model_path}: no spec given, no {beside.name} beside the model '
                            f'and no {SPEC_METADATA_KEY!r} entry in its metadata')
    else:
        raise SpecError('neither a policy spec nor a model was given')
    if model_path is None:
        model_path = spec.model_path()
        if model_path is None:
            raise SpecError(f'{spec.source}: no model given and the spec has no model.file')
    return spec, model_path


# --- parsing ----------------------------------------------------------------------------

_TOP_KEYS = {'name', 'description', 'hand', 'rate_hz', 'joints', 'default_pose', 'model',
             'observation', 'normalization', 'action', 'extra'}
_TERM_COMMON = {'name', 'source', 'size', 'history', 'history_order', 'history_init',
                'transform'}
_TRANSFORM_KEYS = {'subtract', 'unscale_limits', 'scale', 'clip'}
_ACTION_KEYS = {'mode', 'scale', 'offset', 'clip_action', 'clip_to_limits', 'ema', 'ema_on',
                'bins', 'previous_target'}
# Where the previous target (delta_target's base, the EMA's memory, the joint_position_error
# and last_target observations) comes from: the targets the hand was actually sent (the
# limiter's output, what a simulator without a limiter applies), or the policy's own last
# target (what a trainer that ignores the limiter's clamping saw).
PREVIOUS_TARGETS = ('commanded', 'policy')
_MODEL_KEYS = {'file', 'inputs', 'outputs', 'recurrent'}


def _unknown_keys(data: dict, allowed: set, where: str):
    problem = unknown_key_problem(data, allowed, where)
    if problem:
        raise SpecError(problem)


def is_number(value) -> bool:
    """Return whether value is a finite int or float (not a bool) that converts to float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:       # a YAML integer beyond the float range
        return False


def number_or_list(value, where: str):
    """Return a float, or a tuple of floats, or raise SpecError."""
    if is_number(value):
        return float(value)
    if isinstance(value, list) and value and all(is_number(v) for v in value):
        return tuple(float(v) for v in value)
    raise SpecError(f'{where}: expected a finite number or a list of finite numbers, '
                    f'got {value!r}')


def clip_range(value, where: str) -> tuple:
    """Parse a clip entry: c (meaning [-c, c]) or [lo, hi] with lo < hi."""
    if is_number(value) and value > 0:
        return (-float(value), float(value))
    if isinstance(value, list) and len(value) == 2 and all(is_number(v) for v in value) \
            and value[0] < value[1]:
        return (float(value[0]), float(value[1]))
    raise SpecError(f'{where}: expected a positive number c or [lo, hi] with lo < hi, '
                    f'got {value!r}')


def _bool(data: dict, key: str, default: bool, where: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise SpecError(f'{where}.{key}: expected true or false, got {value!r}')
    return value


def _choice(value, choices, where: str) -> str:
    if value not in choices:
        raise SpecError(f'{where}: expected one of {", ".join(choices)}, got {value!r}')
    return value


def _fields(data, where) -> Fields:
    try:
        return Fields(data, where)
    except ConfigError as exc:
        raise SpecError(str(exc)) from exc


def _wrap(call, key, *args, **kwargs):
    """Call a Fields accessor call(key, ...); every failure becomes a SpecError naming key."""
    try:
        return call(key, *args, **kwargs)
    except SpecError:
        raise
    except ConfigError as exc:
        raise SpecError(str(exc)) from exc
    except (OverflowError, TypeError, ValueError) as exc:
        # e.g. an integer beyond the float range, which the generic accessors do not expect.
        fields = call.__self__
        raise SpecError(f'{fields.where}.{key}: invalid value {fields.data.get(key)!r} '
                        f'({exc})') from exc


def parse_spec(data: dict, source: str, directory, text: str) -> PolicySpec:
    """Validate a spec mapping (structure and values; sizes come later, with the hand)."""
    _unknown_keys(data, _TOP_KEYS, source)
    top = _fields(data, source)
    name = _wrap(top.text, 'name')
    description = data.get('description', '')
    hand = _wrap(top.text, 'hand') if 'hand' in data else None
    rate_hz = _wrap(top.number, 'rate_hz', positive=True)

    joints = data.get('joints')
    if joints == 'actuated':
        joints = 'actuated'
    elif isinstance(joints, list) and joints and all(isinstance(j, str) and j for j in joints):
        duplicates = sorted({j for j in joints if joints.count(j) > 1})
        if duplicates:
            raise SpecError(f'{source}.joints: joint(s) listed twice: {", ".join(duplicates)}')
        joints = tuple(joints)
    else:
        raise SpecError(f'{source}.joints: expected "actuated" or a list of joint names in '
                        f"the network's order, got {joints!r}")

    default_pose = data.get('default_pose', {})
    if not isinstance(default_pose, dict) or not all(
            isinstance(k, str) and is_number(v) for k, v in default_pose.items()):
        raise SpecError(f'{source}.default_pose: expected a mapping joint name -> radians, '
                        f'got {default_pose!r}')
    default_pose = {k: float(v) for k, v in default_pose.items()}

    model = _parse_model(data.get('model'), f'{source}.model')
    terms = _parse_observation(data.get('observation'), f'{source}.observation')
    normalization = None
    if data.get('normalization') is not None:
        normalization = _parse_normalization(
            data['normalization'], f'{source}.normalization',
            None if directory is None else pathlib.Path(directory),
            sum(t.size for t in terms))
    action = _parse_action(data.get('action'), f'{source}.action')
    extra = data.get('extra', {})
    if not isinstance(extra, dict):
        raise SpecError(f'{source}.extra: expected a mapping, got {extra!r}')
    return PolicySpec(
        name=name, description=str(description), source=source,
        directory=None if directory is None else pathlib.Path(directory), text=text,
        hand=hand, rate_hz=rate_hz, joints=joints, default_pose=default_pose,
        observation=terms, normalization=normalization, action=action, model=model,
        extra=extra)


def _parse_model(raw, where) -> ModelSpec:
    if raw is None:
        raise SpecError(f"{where}: missing: name the model's input and output tensors "
                        f'(inputs.observation, outputs.action)')
    section = _fields(raw, where)
    _unknown_keys(raw, _MODEL_KEYS, where)
    inputs = _wrap(section.section, 'inputs')
    outputs = _wrap(section.section, 'outputs')
    _unknown_keys(inputs.data, {'observation'}, inputs.where)
    _unknown_keys(outputs.data, {'action'}, outputs.where)
    if not isinstance(raw.get('recurrent', []) or [], list):
        raise SpecError(f'{where}.recurrent: expected a list of {{input, output}}')
    recurrent = []
    seen = set()
    for i, item in enumerate(raw.get('recurrent', []) or []):
        entry = _fields(item, f'{where}.recurrent[{i}]')
        _unknown_keys(item, {'input', 'output'}, entry.where)
        pair = RecurrentSpec(_wrap(entry.text, 'input'), _wrap(entry.text, 'output'))
        for tensor in (pair.input_name, pair.output_name):
            if tensor in seen:
                raise SpecError(f'{entry.where}: tensor {tensor!r} is used twice')
            seen.add(tensor)
        recurrent.append(pair)
    file = _wrap(section.text, 'file') if raw.get('file') else None
    observation_input = _wrap(inputs.text, 'observation')
    action_output = _wrap(outputs.text, 'action')
    if observation_input in seen or action_output in seen:
        raise SpecError(f'{where}: a recurrent tensor has the name of the observation input '
                        f'or the action output')
    return ModelSpec(file=file, observation_input=observation_input,
                     action_output=action_output, recurrent=tuple(recurrent))


def _parse_observation(raw, where) -> tuple:
    if not isinstance(raw, list) or not raw:
        raise SpecError(f'{where}: expected a non-empty list of terms, got {raw!r}')
    terms, names = [], set()
    for i, item in enumerate(raw):
        entry = _fields(item, f'{where}[{i}]')
        name = _wrap(entry.text, 'name')
        term_where = f'{where}[{i}] ({name})'
        entry.where = term_where
        if name in names:
            raise SpecError(f'{term_where}: duplicate term name')
        names.add(name)
        source = _wrap(entry.text, 'source')
        size = _wrap(entry.integer, 'size', positive=True)
        history = _wrap(entry.integer, 'history', 1, positive=True)
        if history > 1:
            # Trainers disagree here (Isaac Lab stacks oldest first and fills with the first
            # frame; Playground rolls newest first from zeros): no default, say it explicitly.
            for key, choices in (('history_order', HISTORY_ORDERS),
                                 ('history_init', HISTORY_INITS)):
                if key not in item:
                    raise SpecError(f'{term_where}: history {history} needs {key} '
                                    f'(one of {", ".join(choices)})')
        order = _choice(item.get('history_order', 'newest_first'), HISTORY_ORDERS,
                        f'{term_where}.history_order')
        init = _choice(item.get('history_init', 'zeros'), HISTORY_INITS,
                       f'{term_where}.history_init')
        transform = _parse_transform(item.get('transform', {}), f'{term_where}.transform')
        options = {k: v for k, v in item.items() if k not in _TERM_COMMON}
        terms.append(TermSpec(name=name, source=source, size=size, history=history,
                              history_order=order, history_init=init, transform=transform,
                              options=options, where=term_where))
    return tuple(terms)


def _parse_transform(raw, where) -> dict:
    if not isinstance(raw, dict):
        raise SpecError(f'{where}: expected a mapping, got {raw!r}')
    _unknown_keys(raw, _TRANSFORM_KEYS, where)
    out = {}
    if 'subtract' in raw:
        value = raw['subtract']
        out['subtract'] = 'default_pose' if value == 'default_pose' \
            else number_or_list(value, f'{where}.subtract')
    if 'unscale_limits' in raw:
        out['unscale_limits'] = _bool(raw, 'unscale_limits', False, where)
        if out['unscale_limits'] and 'subtract' in out:
            raise SpecError(f'{where}: unscale_limits and subtract exclude each other')
    if 'scale' in raw:
        out['scale'] = number_or_list(raw['scale'], f'{where}.scale')
    if 'clip' in raw:
        out['clip'] = clip_range(raw['clip'], f'{where}.clip')
    return out


def _parse_normalization(raw, where, directory, size) -> NormalizationSpec:
    if not isinstance(raw, dict):
        raise SpecError(f'{where}: expected a mapping, got {raw!r}')
    _unknown_keys(raw, {'mean', 'std', 'var', 'epsilon', 'clip', 'file'}, where)
    epsilon = raw.get('epsilon', 1e-8)
    # Type first, conversion second: 'abc' must be a SpecError, not a ValueError from float().
    if not is_number(epsilon) or epsilon < 0:
        raise SpecError(f'{where}.epsilon: expected a number >= 0, got {epsilon!r}')
    epsilon = float(epsilon)
    values = dict(raw)
    if 'file' in raw:
        path = pathlib.Path(str(raw['file'])).expanduser()
        if not path.is_absolute() and directory is not None:
            path = directory / path
        try:
            archive = np.load(path)
        except (OSError, ValueError, EOFError) as exc:
            raise SpecError(f'{where}.file: cannot read {path}: {exc}') from exc
        # A .npy file loads as a bare array: the statistics need named arrays (an .npz).
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise SpecError(f'{where}.file: {path} is not an .npz archive with arrays mean '
                            f'and std (or var)')
        try:
            with archive:
                values.update({k: archive[k].astype(float).ravel().tolist()
                               for k in ('mean', 'std', 'var') if k in archive})
        except (OSError, ValueError, TypeError) as exc:
            raise SpecError(f'{where}.file: cannot read {path}: {exc}') from exc
    if 'mean' not in values or ('std' in values) == ('var' in values):
        raise SpecError(f'{where}: needs mean and exactly one of std or var')
    arrays = {}
    for key in ('mean', 'std', 'var'):
        if key not in values:
            continue
        vector = values[key]
        if not isinstance(vector, list) or not all(is_number(v) for v in vector):
            raise SpecError(f'{where}.{key}: expected a list of finite numbers')
        if len(vector) != size:
            raise SizeMismatchError(
                f'{where}.{key}: the observation terms sum to {size} values but {key} has '
                f'{len(vector)} (expected size {size}, actual size {len(vector)})',
                term=f'normalization.{key}', expected=size, actual=len(vector))
        arrays[key] = np.asarray(vector, dtype=np.float64)
    if 'std' in arrays:
        if np.any(arrays['std'] < 0):
            raise SpecError(f'{where}.std: negative entries')
        denominator = arrays['std'] + epsilon
    else:
        if np.any(arrays['var'] < 0):
            raise SpecError(f'{where}.var: negative entries')
        denominator = np.sqrt(arrays['var'] + epsilon)
    if np.any(denominator <= 0):
        raise SpecError(f'{where}: zero std/var with epsilon 0 would divide by zero')
    clip = None
    if raw.get('clip') is not None:
        if not is_number(raw['clip']) or raw['clip'] <= 0:
            raise SpecError(f'{where}.clip: expected a positive number, got {raw["clip"]!r}')
        clip = float(raw['clip'])
    return NormalizationSpec(mean=arrays['mean'], denominator=denominator, clip=clip,
                             where=where)


def _parse_action(raw, where) -> ActionSpec:
    if not isinstance(raw, dict):
        raise SpecError(f'{where}: missing or not a mapping; it declares mode and scale')
    _unknown_keys(raw, _ACTION_KEYS, where)
    for key in ('mode', 'scale'):
        # The classic deployment bugs are a wrong mode or a forgotten scale: both required.
        if key not in raw:
            raise SpecError(f'{where}: missing required key {key!r}')
    mode = _choice(raw['mode'], ACTION_MODES, f'{where}.mode')
    scale = 'half_range' if raw['scale'] == 'half_range' \
        else number_or_list(raw['scale'], f'{where}.scale')
    offset = raw.get('offset')
    if mode == 'absolute':
        if offset is None:
            raise SpecError(f'{where}.offset: absolute actions need an offset '
                            f'(default_pose, zero, limits_center or a list)')
        if offset not in ('default_pose', 'zero', 'limits_center'):
            offset = number_or_list(offset, f'{where}.offset')
    elif offset is not None:
        raise SpecError(f'{where}.offset: only absolute actions take an offset '
                        f'({mode} adds the scaled action to the '
                        f'{"previous target" if mode == "delta_target" else "measured position"})')
    clip_action = clip_range(raw['clip_action'], f'{where}.clip_action') \
        if raw.get('clip_action') is not None else None
    ema = raw.get('ema', 1.0)
    if not is_number(ema) or not 0.0 < ema <= 1.0:
        raise SpecError(f'{where}.ema: expected a number in (0, 1] (weight of the new '
                        f'value; 1 disables smoothing), got {ema!r}')
    ema_on = _choice(raw.get('ema_on', 'target'), ('target', 'action'), f'{where}.ema_on')
    bins = raw.get('bins')
    if bins is not None and (isinstance(bins, bool) or not isinstance(bins, int) or bins < 2):
        raise SpecError(f'{where}.bins: expected an integer >= 2, got {bins!r}')
    previous_target = _choice(raw.get('previous_target', 'commanded'), PREVIOUS_TARGETS,
                              f'{where}.previous_target')
    return ActionSpec(mode=mode, scale=scale, offset=offset, clip_action=clip_action,
                      clip_to_limits=_bool(raw, 'clip_to_limits', True, where),
                      ema=float(ema), ema_on=ema_on, bins=bins,
                      previous_target=previous_target, where=where)


def resolve_joints(spec: PolicySpec, profile) -> tuple:
    """Return the spec's action joints by name, checked against the hand profile."""
    if spec.hand is not None and spec.hand != profile.name:
        raise ProfileMismatchError(
            f'{spec.source}: the spec is written for hand {spec.hand!r} but the hand profile '
            f'is {profile.name!r}')
    actuated = profile.actuated_joint_names
    if spec.joints == 'actuated':
        joints = tuple(actuated)
    else:
        for name in spec.joints:
            if name not in profile.joint_names:
                raise ProfileMismatchError(
                    f'{spec.source}.joints: joint {name!r} is not in hand profile '
                    f'{profile.name!r} (its joints: {", ".join(profile.joint_names)})')
            if name not in actuated:
                raise ProfileMismatchError(
                    f'{spec.source}.joints: joint {name!r} is coupled, not actuated, in hand '
                    f'profile {profile.name!r}; a policy can only command actuated joints')
        joints = tuple(spec.joints)
    _check_default_pose_joints(spec, profile, joints)
    return joints


def _default_pose_observed(spec: PolicySpec, profile, action_joints) -> set:
    """Return the joints whose default pose an observation term subtracts."""
    observed = set()
    for term in spec.observation:
        if term.transform.get('subtract') != 'default_pose':
            continue
        selection = term.options.get('joints', 'action') \
            if term.source in ('joint_positions', 'joint_velocities') else 'action'
        if selection == 'all':
            observed.update(profile.joint_names)
        elif selection == 'actuated':
            observed.update(profile.actuated_joint_names)
        elif selection == 'action':
            observed.update(action_joints)
        elif isinstance(selection, list):
            observed.update(n for n in selection if isinstance(n, str))
    return observed


def _check_default_pose_joints(spec: PolicySpec, profile, action_joints) -> None:
    """
    Refuse default_pose entries that nothing uses: unknown joints, and joints out of the action.

    A default for a coupled joint (or an actuated joint the policy does not command) would be
    ignored silently, unless an observation term subtracts it from that joint's position.
    """
    unknown = [n for n in spec.default_pose if n not in profile.joint_names]
    if unknown:
        raise ProfileMismatchError(
            f'{spec.source}.default_pose: joint(s) {", ".join(map(repr, unknown))} not in hand '
            f'profile {profile.name!r} (its joints: {", ".join(profile.joint_names)})')
    observed = _default_pose_observed(spec, profile, action_joints)
    unused = [n for n in spec.default_pose if n not in action_joints and n not in observed]
    if unused:
        coupled = [n for n in unused if n not in profile.actuated_joint_names]
        why = (f'coupled joint(s) {", ".join(map(repr, coupled))} cannot be commanded'
               if coupled else 'the policy does not command them')
        raise ProfileMismatchError(
            f'{spec.source}.default_pose: joint(s) {", ".join(map(repr, unused))} are not '
            f'action joints ({why}) and no observation term subtracts their default pose')


def default_pose(spec: PolicySpec, profile, joints) -> np.ndarray:
    """Return the default pose of the given joints: the spec's values over the profile home."""
    pose = []
    for name in joints:
        i = profile.index(name)
        value = spec.default_pose.get(name, float(profile.home[i]))
        if not profile.lower[i] <= value <= profile.upper[i]:
            raise ProfileMismatchError(
                f'{spec.source}.default_pose.{name}: {value} is outside the joint limits '
                f'[{profile.lower[i]}, {profile.upper[i]}]')
        pose.append(value)
    return np.asarray(pose, dtype=np.float64)
