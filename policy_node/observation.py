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
Observation terms and the builder that stacks them into the policy's input vector.

Each term source is a small class: it reads its options from the spec, declares its frame size
for this hand (a fingertip term on a five-finger hand is 15 values), and computes one frame
from an ObservationInputs snapshot. The builder checks every declared size against the size the
hand gives, applies the per-term transform, keeps the history buffers, concatenates the terms in
the spec's order and applies the normalization. It never pads or truncates: a size that does
not match raises SizeMismatchError naming the term and both sizes.
"""
from dataclasses import dataclass

from inhand.transforms import (quat_angle, quat_conjugate, quat_multiply, quat_normalize,
                               quat_to_matrix, xyzw_from_wxyz)
import numpy as np
from policy_node.spec import (broadcast_vector, default_pose, is_number, number_or_list,
                              PolicySpec, ProfileMismatchError, resolve_joints,
                              SizeMismatchError, SpecError, TermSpec)


@dataclass
class ObservationInputs:
    """The newest measurements and the runner's own state, as one snapshot (SI, wxyz)."""

    joint_positions: np.ndarray            # every profile joint, profile order
    joint_velocities: np.ndarray           # same order
    last_target: np.ndarray                # previous targets of the action joints
    last_action: np.ndarray                # previous decoded network action
    step: int = 0                          # policy steps since the run started
    cube_position: np.ndarray | None = None     # world frame
    cube_quat: np.ndarray | None = None         # wxyz, world frame
    goal_quat: np.ndarray | None = None         # wxyz, world frame


class Context:
    """What term classes may consult: the hand, the action joints, the rate, the kinematics."""

    def __init__(self, spec: PolicySpec, profile, action_joints, action_size, kinematics,
                 scene_config=None):
        self.spec = spec
        self.profile = profile
        self.action_joints = tuple(action_joints)
        self.action_size = action_size
        self._kinematics = kinematics
        self.scene_config = scene_config

    @property
    def kinematics(self):
        if self._kinematics is None:
            # Loaded on first use: specs without kinematic terms never compile the model.
            from policy_node.kinematics import HandKinematics, load_hand_model
            self._kinematics = HandKinematics(
                self.profile, load_hand_model(self.profile, self.scene_config))
        return self._kinematics


class Frame:
    """Per-step cache of derived quantities shared by several terms (FK runs at most once)."""

    def __init__(self, inputs: ObservationInputs, context: Context):
        self.inputs = inputs
        self.context = context
        self._fk_done = False
        self._palm = None

    def _fk(self):
        if not self._fk_done:
            self.context.kinematics.update(self.inputs.joint_positions)
            self._fk_done = True
        return self.context.kinematics

    def fingertips(self, indices) -> np.ndarray:
        return self._fk().fingertip_positions(indices)

    def palm(self) -> tuple:
        if self._palm is None:
            self._palm = self._fk().palm_pose()
        return self._palm

    def cube_quat(self, where) -> np.ndarray:
        if self.inputs.cube_quat is None:
            raise ValueError(f'{where}: no cube orientation available')
        return self.inputs.cube_quat

    def goal_quat(self, where) -> np.ndarray:
        if self.inputs.goal_quat is None:
            raise ValueError(f'{where}: no goal orientation available')
        return self.inputs.goal_quat


# --- term sources -----------------------------------------------------------------------

class Term:
    """Base class: parse options, declare frame_size, compute one frame."""

    source = ''
    options = frozenset()
    needs_cube = False
    needs_goal = False
    needs_kinematics = False
    joint_names = None          # set by joint terms: allows subtract default_pose/unscale_limits

    def __init__(self, spec: TermSpec, context: Context):
        self.spec = spec
        self.where = spec.where
        # YAML keys need not be strings (1:, null:): sort and print them as text.
        unknown = sorted(map(str, set(spec.options) - set(self.options)))
        if unknown:
            raise SpecError(f'{self.where}: unknown option(s) {", ".join(unknown)} for source '
                            f'{self.source!r} (allowed: '
                            f'{", ".join(sorted(self.options)) or "none"})')
        self.frame_size = self.setup(spec.options, context)

    def setup(self, options: dict, context: Context) -> int:
        raise NotImplementedError

    def compute(self, frame: Frame) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        """Return why the term has its size, for size mismatch messages."""
        return f'{self.frame_size} values per frame'

    def option(self, options, key, choices, default):
        value = options.get(key, default)
        if value not in choices:
            raise SpecError(f'{self.where}.{key}: expected one of {", ".join(map(str, choices))}'
                            f', got {value!r}')
        return value


def _joint_selection(where, value, context: Context) -> tuple:
    profile = context.profile
    if value == 'action':
        return context.action_joints
    if value == 'actuated':
        return tuple(profile.actuated_joint_names)
    if value == 'all':
        return tuple(profile.joint_names)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        for name in value:
            if name not in profile.joint_names:
                raise ProfileMismatchError(
                    f'{where}.joints: joint {name!r} is not in hand profile {profile.name!r}')
        if len(set(value)) != len(value):
            raise SpecError(f'{where}.joints: a joint is listed twice')
        return tuple(value)
    raise SpecError(f'{where}.joints: expected action, actuated, all or a list of joint '
                    f'names, got {value!r}')


class JointPositions(Term):
    source = 'joint_positions'
    options = frozenset({'joints'})
    field = 'joint_positions'

    def setup(self, options, context):
        self.joint_names = _joint_selection(self.where, options.get('joints', 'action'),
                                            context)
        self.indices = np.array([context.profile.index(n) for n in self.joint_names])
        return len(self.joint_names)

    def compute(self, frame):
        return getattr(frame.inputs, self.field)[self.indices]

    def describe(self):
        return f'{len(self.joint_names)} joints'


class JointVelocities(JointPositions):
    source = 'joint_velocities'
    field = 'joint_velocities'


class JointPositionError(Term):
    """Measured position minus the previous target (Playground: q - motor_targets)."""

    source = 'joint_position_error'
    options = frozenset({'sign'})

    def setup(self, options, context):
        self.sign = 1.0 if self.option(options, 'sign', ('measured_minus_target',
                                                         'target_minus_measured'),
                                       'measured_minus_target') == 'measured_minus_target' \
            else -1.0
        # Only the action joints have targets: the error is over them, in the action order.
        self.joint_names = context.action_joints
        self.indices = np.array([context.profile.index(n) for n in self.joint_names])
        return len(self.joint_names)

    def compute(self, frame):
        return self.sign * (frame.inputs.joint_positions[self.indices] - frame.inputs.last_target)

    def describe(self):
        return f'{len(self.joint_names)} action joints'


class FingertipPositions(Term):
    source = 'fingertip_positions'
    options = frozenset({'fingertips', 'frame'})
    needs_kinematics = True

    def setup(self, options, context):
        names = [tip.name for tip in context.profile.fingertips]
        chosen = options.get('fingertips', names)
        if not isinstance(chosen, list) or not chosen:
            raise SpecError(f'{self.where}.fingertips: expected a list of fingertip names')
        for name in chosen:
            if name not in names:
                raise ProfileMismatchError(
                    f'{self.where}.fingertips: fingertip {name!r} is not in hand profile '
                    f'{context.profile.name!r} (it has {", ".join(names)})')
        self.indices = np.array([names.index(n) for n in chosen])
        self.frame = self.option(options, 'frame', ('world', 'palm'), 'world')
        return 3 * len(chosen)

    def compute(self, frame):
        tips = frame.fingertips(self.indices)
        if self.frame == 'palm':
            palm_pos, palm_rot = frame.palm()
            tips = (tips - palm_pos) @ palm_rot
        return tips.ravel()

    def describe(self):
        return f'{len(self.indices)} fingertips x 3'


class CubePosition(Term):
    """Cube position: world, or relative to the palm (either sign), in world or palm axes."""

    source = 'cube_position'
    options = frozenset({'relative_to', 'sign', 'frame'})
    needs_cube = True

    def setup(self, options, context):
        self.relative_to = self.option(options, 'relative_to', ('world', 'palm'), 'world')
        if self.relative_to == 'world' and ('sign' in options or 'frame' in options):
            raise SpecError(f'{self.where}: sign and frame apply only with relative_to: palm')
        self.sign = self.option(options, 'sign', ('cube_minus_palm', 'palm_minus_cube'),
                                'cube_minus_palm')
        self.frame = self.option(options, 'frame', ('world', 'palm'), 'world')
        self.needs_kinematics = self.relative_to == 'palm'
        return 3

    def compute(self, frame):
        cube = frame.inputs.cube_position
        if cube is None:
            raise ValueError(f'{self.where}: no cube position available')
        if self.relative_to == 'world':
            return cube
        palm_pos, palm_rot = frame.palm()
        offset = cube - palm_pos if self.sign == 'cube_minus_palm' else palm_pos - cube
        return offset @ palm_rot if self.frame == 'palm' else offset


_PRODUCTS = ('cube_goal_inv', 'goal_cube_inv', 'cube_inv_goal', 'goal_inv_cube')


class Orientation(Term):
    """A rotation as a quaternion (wxyz or xyzw), rotation-matrix entries, or an angle."""

    options = frozenset({'format', 'entries', 'positive_w'})
    formats = ('wxyz', 'xyzw', 'matrix')

    def setup(self, options, context):
        self.format = self.option(options, 'format', self.formats, None)
        self.positive_w = options.get('positive_w', False)
        if not isinstance(self.positive_w, bool):
            raise SpecError(f'{self.where}.positive_w: expected true or false')
        if self.positive_w and self.format not in ('wxyz', 'xyzw'):
            raise SpecError(f'{self.where}.positive_w: only for quaternion formats')
        if 'entries' in options and self.format != 'matrix':
            raise SpecError(f'{self.where}.entries: only for format matrix')
        self.entries = (0, 9)
        if self.format == 'matrix':
            entries = options.get('entries', [0, 9])
            if not (isinstance(entries, list) and len(entries) == 2
                    and all(isinstance(e, int) and not isinstance(e, bool) for e in entries)
                    and 0 <= entries[0] < entries[1] <= 9):
                raise SpecError(f'{self.where}.entries: expected [start, stop] into the 9 '
                                f'row-major matrix entries, got {entries!r}')
            self.entries = tuple(entries)
            return self.entries[1] - self.entries[0]
        return 1 if self.format == 'angle' else 4

    def rotation(self, frame) -> np.ndarray:
        raise NotImplementedError

    def compute(self, frame):
        q = quat_normalize(self.rotation(frame))
        if self.format == 'matrix':
            return quat_to_matrix(q).ravel()[self.entries[0]:self.entries[1]]
        if self.format == 'angle':
            return np.array([quat_angle(q)])
        if self.positive_w and q[0] < 0:
            q = -q
        return xyzw_from_wxyz(q) if self.format == 'xyzw' else q

    def describe(self):
        if self.format == 'matrix':
            return f'matrix entries {self.entries[0]}..{self.entries[1] - 1}'
        return f'format {self.format}'


class CubeOrientation(Orientation):
    source = 'cube_orientation'
    needs_cube = True

    def rotation(self, frame):
        return frame.cube_quat(self.where)


class GoalOrientation(Orientation):
    source = 'goal_orientation'
    needs_goal = True

    def rotation(self, frame):
        return frame.goal_quat(self.where)


class OrientationError(Orientation):
    """The rotation between the cube and the goal, composed as the spec says."""

    source = 'orientation_error'
    options = Orientation.options | {'product'}
    formats = ('wxyz', 'xyzw', 'matrix', 'angle')
    needs_cube = True
    needs_goal = True

    def setup(self, options, context):
        # No default: cube*goal^-1 (Playground, IsaacGymEnvs) and goal*cube^-1 (robogym) are
        # both common and a policy trained on one fails silently on the other.
        self.product = self.option(options, 'product', _PRODUCTS, None)
        return super().setup(options, context)

    def rotation(self, frame):
        cube, goal = frame.cube_quat(self.where), frame.goal_quat(self.where)
        if self.product == 'cube_goal_inv':
            return quat_multiply(cube, quat_conjugate(goal))
        if self.product == 'goal_cube_inv':
            return quat_multiply(goal, quat_conjugate(cube))
        if self.product == 'cube_inv_goal':
            return quat_multiply(quat_conjugate(cube), goal)
        return quat_multiply(quat_conjugate(goal), cube)


class LastAction(Term):
    """The previous network action, decoded (bins -> [-1, 1]) and clipped, before scaling."""

    source = 'last_action'

    def setup(self, options, context):
        return context.action_size

    def compute(self, frame):
        return frame.inputs.last_action

    def describe(self):
        return f'{self.frame_size} action values'


class LastTarget(Term):
    """The previous joint targets of the action joints (radians)."""

    source = 'last_target'

    def setup(self, options, context):
        self.joint_names = context.action_joints
        return len(self.joint_names)

    def compute(self, frame):
        return frame.inputs.last_target

    def describe(self):
        return f'{len(self.joint_names)} action joints'


class Phase(Term):
    """[sin, cos] of 2 pi t / period_s, t counted in policy steps since the run started."""

    source = 'phase'
    options = frozenset({'period_s'})

    def setup(self, options, context):
        period = options.get('period_s')
        if not is_number(period) or period <= 0:
            raise SpecError(f'{self.where}.period_s: expected a positive number of seconds, '
                            f'got {period!r}')
        self.omega = 2.0 * np.pi * context.spec.period / float(period)
        return 2

    def compute(self, frame):
        angle = self.omega * frame.inputs.step
        return np.array([np.sin(angle), np.cos(angle)])


class Constant(Term):
    """Fixed values (e.g. a command input the trainer fed a constant)."""

    source = 'constant'
    options = frozenset({'value'})

    def setup(self, options, context):
        value = number_or_list(options.get('value'), f'{self.where}.value')
        self.value = np.atleast_1d(np.asarray(value, dtype=np.float64))
        return self.value.size

    def compute(self, frame):
        return self.value


TERM_SOURCES = {cls.source: cls for cls in (
    JointPositions, JointVelocities, JointPositionError, FingertipPositions, CubePosition,
    CubeOrientation, GoalOrientation, OrientationError, LastAction, LastTarget, Phase, Constant)}


# --- transforms and history -------------------------------------------------------------

class Transform:
    """subtract (or unscale_limits), then scale, then clip; applied to each frame."""

    def __init__(self, term: Term, context: Context):
        raw = term.spec.transform
        where = f'{term.where}.transform'
        size = term.frame_size
        self.offset = None
        self.scale = None
        self.clip = raw.get('clip')
        if raw.get('unscale_limits'):
            if term.source != 'joint_positions':
                raise SpecError(f'{where}.unscale_limits: only for joint_positions')
            idx = [context.profile.index(n) for n in term.joint_names]
            lower, upper = context.profile.lower[idx], context.profile.upper[idx]
            # 2 (q - lower) / (upper - lower) - 1  ==  (q - center) / half_range
            self.offset = (upper + lower) / 2.0
            self.scale = 2.0 / (upper - lower)
        if 'subtract' in raw:
            if raw['subtract'] == 'default_pose':
                if term.joint_names is None or term.source == 'joint_position_error':
                    raise SpecError(f'{where}.subtract: default_pose only for joint position '
                                    f'terms')
                self.offset = default_pose(context.spec, context.profile, term.joint_names)
            else:
                self.offset = self._vector(raw['subtract'], size, f'{where}.subtract',
                                           term.spec.name)
        if 'scale' in raw:
            scale = self._vector(raw['scale'], size, f'{where}.scale', term.spec.name)
            self.scale = scale if self.scale is None else self.scale * scale

    @staticmethod
    def _vector(value, size, where, term):
        return broadcast_vector(
            value, size, f'{where}: term {term!r} has {size} values per frame but the list '
            f'has {np.size(value)}', term=term)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if self.offset is not None:
            values = values - self.offset
        if self.scale is not None:
            values = values * self.scale
        if self.clip is not None:
            values = np.clip(values, self.clip[0], self.clip[1])
        return values


class History:
    """The last n frames of one term, flattened newest-first or oldest-first."""

    def __init__(self, length: int, frame_size: int, order: str, init: str):
        self.buffer = np.zeros((length, frame_size))
        self.order = order
        self.init = init
        self.empty = True

    def reset(self):
        self.empty = True

    def push(self, values: np.ndarray) -> np.ndarray:
        if self.empty:
            self.buffer[:] = values if self.init == 'first' else 0.0
            self.empty = False
        # Row 0 is always the newest frame.
        self.buffer[1:] = self.buffer[:-1].copy()
        self.buffer[0] = values
        stacked = self.buffer if self.order == 'newest_first' else self.buffer[::-1]
        return stacked.ravel()


# --- the builder ------------------------------------------------------------------------

class ObservationBuilder:
    """Turns ObservationInputs into the policy's float32 observation vector."""

    def __init__(self, spec: PolicySpec, profile, kinematics=None, scene_config=None):
        """Bind spec to profile; FK through kinematics, else the hand mounted per scene_config."""
        self.spec = spec
        self.profile = profile
        self.action_joints = resolve_joints(spec, profile)
        # The decoded action has one value per joint, whatever the network outputs (bins).
        self.action_size = len(self.action_joints)
        context = Context(spec, profile, self.action_joints, self.action_size, kinematics,
                          scene_config)
        self.context = context
        self.terms, self.transforms, self.histories, self.slices = [], [], [], {}
        offset = 0
        for term_spec in spec.observation:
            cls = TERM_SOURCES.get(term_spec.source)
            if cls is None:
                raise SpecError(f'{term_spec.where}.source: unknown source '
                                f'{term_spec.source!r} (known: {", ".join(TERM_SOURCES)})')
            term = cls(term_spec, context)
            actual = term.frame_size * term_spec.history
            if actual != term_spec.size:
                raise SizeMismatchError(
                    f'{term_spec.where}: observation term {term_spec.name!r} '
                    f'({term_spec.source}) has size {actual} on hand {profile.name!r} '
                    f'({term.describe()} x history {term_spec.history}) but the spec declares '
                    f'{term_spec.size} (expected size {term_spec.size}, actual size {actual})',
                    term=term_spec.name, expected=term_spec.size, actual=actual)
            self.terms.append(term)
            self.transforms.append(Transform(term, context))
            self.histories.append(
                History(term_spec.history, term.frame_size, term_spec.history_order,
                        term_spec.history_init) if term_spec.history > 1 else None)
            self.slices[term_spec.name] = slice(offset, offset + actual)
            offset += actual
        self.size = offset
        self.needs_cube = any(t.needs_cube for t in self.terms)
        self.needs_goal = any(t.needs_goal for t in self.terms)
        self.needs_kinematics = any(t.needs_kinematics for t in self.terms)
        if self.needs_kinematics:
            _ = context.kinematics   # load the model now, not at the first control step
        self.normalization = spec.normalization

    def layout(self) -> list:
        """Return [(name, source, start, size)] in vector order."""
        return [(t.spec.name, t.source, self.slices[t.spec.name].start, t.spec.size)
                for t in self.terms]

    def reset(self):
        """Forget the history (episode start)."""
        for history in self.histories:
            if history is not None:
                history.reset()

    def build(self, inputs: ObservationInputs) -> np.ndarray:
        """Return the observation (float32, a fresh array) for this snapshot."""
        frame = Frame(inputs, self.context)
        out = np.empty(self.size, dtype=np.float64)
        for term, transform, history in zip(self.terms, self.transforms, self.histories):
            values = transform(np.asarray(term.compute(frame), dtype=np.float64))
            if values.shape != (term.frame_size,):
                raise ValueError(f'{term.where}: computed {values.shape} values, expected '
                                 f'{term.frame_size}')
            if history is not None:
                values = history.push(values)
            out[self.slices[term.spec.name]] = values
        if not np.all(np.isfinite(out)):
            bad = [t.spec.name for t in self.terms
                   if not np.all(np.isfinite(out[self.slices[t.spec.name]]))]
            raise ValueError(f'non-finite observation in term(s) {", ".join(bad)}')
        norm = self.normalization
        if norm is not None:
            out = (out - norm.mean) / norm.denominator
            if norm.clip is not None:
                out = np.clip(out, -norm.clip, norm.clip)
        return out.astype(np.float32)
