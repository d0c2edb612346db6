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
Per-joint limits for the safety limiter: the hand profile, overridden like ros2_control.

The hand profile gives every joint its position range and default velocity/acceleration limits.
A lab's existing ros2_control YAML overrides them per joint with the same parameter names,
`joint_limits.<joint>.<key>`, and the same rule: a value is used only when its `has_*` flag is
set (a flag without a value, or a value without its flag, sets nothing).

Differences from ros2_control, all in the direction of safety:
- `has_*: false` never removes a limit; the joint keeps the profile's value. The limiter never
  runs a joint without position, velocity and acceleration limits.
- Deceleration limits, when set, tighten the acceleration limit (the limiter uses one limit for
  speeding up and slowing down). Jerk, effort, `k_position` and `k_velocity` are accepted and
  not used (documented in docs/safety_limiter.md); `angle_wraparound: true` is refused.
- Position limits wider than the hand profile's (the physical range of the model) are refused
  unless explicitly allowed: a typo must not let a motor drive into its hard stop. Likewise
  velocity and acceleration limits above the profile's (allow_faster_than_profile).
- Soft limits (`has_soft_limits`, `soft_lower_limit`, `soft_upper_limit`) tighten the position
  window further.
- Unknown keys and joints are errors that name the joint and key (a typo must not silently
  leave a limit at its default). Joints of other parts of the robot can be ignored by flag.

No ROS imports: the node passes its parameters in as a plain dict.
"""
from dataclasses import dataclass
import math
from typing import Mapping

from inhand.config import ConfigError, load_yaml

_FLAGS = {
    # flag -> the value keys it enables
    'has_position_limits': ('min_position', 'max_position'),
    'has_velocity_limits': ('max_velocity',),
    'has_acceleration_limits': ('max_acceleration',),
    'has_deceleration_limits': ('max_deceleration',),
    'has_jerk_limits': ('max_jerk',),
    'has_effort_limits': ('max_effort',),
    'has_soft_limits': ('soft_lower_limit', 'soft_upper_limit', 'k_position', 'k_velocity'),
}
_VALUE_KEYS = {key for keys in _FLAGS.values() for key in keys}
# Bounds past which a limit is a typo, not hardware (finite values like 1e308 overflow inside
# the limiter's arithmetic). No hand joint turns further than a full turn, or anywhere near
# these speeds.
MAX_ABS_POSITION = 2 * math.pi          # rad
MAX_VELOCITY = 100.0                    # rad/s
MAX_ACCELERATION = 1e5                  # rad/s^2
_MAGNITUDE_CAPS = {
    'min_position': (MAX_ABS_POSITION, 'rad in magnitude'),
    'max_position': (MAX_ABS_POSITION, 'rad in magnitude'),
    'soft_lower_limit': (MAX_ABS_POSITION, 'rad in magnitude'),
    'soft_upper_limit': (MAX_ABS_POSITION, 'rad in magnitude'),
    'max_velocity': (MAX_VELOCITY, 'rad/s'),
    'max_acceleration': (MAX_ACCELERATION, 'rad/s^2'),
    'max_deceleration': (MAX_ACCELERATION, 'rad/s^2'),
}
_BOOL_KEYS = set(_FLAGS) | {'angle_wraparound'}
KNOWN_KEYS = frozenset(_VALUE_KEYS | _BOOL_KEYS)


class JointLimitsError(ConfigError):
    """A joint_limits entry is unknown, of the wrong type or inconsistent."""


@dataclass(frozen=True)
class JointLimits:
    """The limits of one joint, in radians and seconds."""

    name: str
    min_position: float        # hard range (fault checks use it)
    max_position: float
    soft_lower: float          # the commanded window before the margin: within the hard range
    soft_upper: float
    max_velocity: float
    max_acceleration: float
    overridden: tuple = ()     # keys taken from joint_limits parameters (for diagnostics)


def _flatten(params: Mapping, where: str) -> dict:
    """Return {joint: {key: value}} from the flat or nested forms of joint_limits parameters."""
    if 'joint_limits' in params and isinstance(params['joint_limits'], Mapping):
        if len(params) != 1:
            extra = sorted(k for k in params if k != 'joint_limits')
            raise JointLimitsError(f'{where}: unexpected keys next to joint_limits: {extra}')
        params = params['joint_limits']
    joints = {}
    for raw_key, value in params.items():
        key = str(raw_key)
        if key.startswith('joint_limits.'):
            key = key[len('joint_limits.'):]
        if isinstance(value, Mapping):
            entry = joints.setdefault(key, {})
            for sub, sub_value in value.items():
                entry[str(sub)] = sub_value
            continue
        joint, dot, name = key.rpartition('.')
        if not dot or not joint:
            raise JointLimitsError(
                f'{where}: {raw_key!r} is not of the form joint_limits.<joint>.<key>')
        joints.setdefault(joint, {})[name] = value
    return joints


def _check_entry(joint: str, entry: dict, where: str):
    for key, value in entry.items():
        label = f'{where}: joint_limits.{joint}.{key}'
        if key not in KNOWN_KEYS:
            raise JointLimitsError(
                f'{label}: unknown key (known: {", ".join(sorted(KNOWN_KEYS))})')
        if key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise JointLimitsError(f'{label}: expected true or false, got {value!r}')
        elif isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise JointLimitsError(f'{label}: expected a finite number, got {value!r}')
    if entry.get('angle_wraparound', False):
        raise JointLimitsError(
            f'{where}: joint_limits.{joint}.angle_wraparound: a hand joint has a bounded '
            'range; wraparound is not supported')


def _enabled(entry: dict, key: str):
    """Return the value of key when its has_* flag is set to true, else None."""
    for flag, keys in _FLAGS.items():
        if key in keys:
            return float(entry[key]) if entry.get(flag) is True and key in entry else None
    raise KeyError(key)


def parse_joint_limits_params(params: Mapping, profile, *, ignore_unknown_joints=False,
                              allow_wider_position_limits=False,
                              allow_faster_than_profile=False,
                              where='joint_limits') -> tuple[dict, list]:
    """
    Apply joint_limits parameters to the profile's limits.

    params holds `<joint>.<key>` (or `joint_limits.<joint>.<key>`) -> value, or the nested
    `{joint: {key: value}}` / `{'joint_limits': {...}}` form of a YAML file. Return
    ({joint name: JointLimits} for every joint of the profile, [notes]) where notes name the
    ignored joints. Raise JointLimitsError naming the joint and key on any problem.
    """
    entries = _flatten(params, where)
    notes = []
    known = set(profile.joint_names)
    for joint in sorted(entries):
        if joint not in known:
            if not ignore_unknown_joints:
                raise JointLimitsError(
                    f'{where}: joint_limits.{joint}: no such joint in hand profile '
                    f'{profile.name!r} (set ignore_unknown_joints to skip other joints)')
            notes.append(f'joint_limits.{joint}: not a joint of {profile.name!r}, ignored')
        _check_entry(joint, entries[joint], where)

    result = {}
    for i, joint in enumerate(profile.joint_names):
        entry = entries.get(joint, {})
        label = f'{where}: joint_limits.{joint}'
        lo, hi = float(profile.lower[i]), float(profile.upper[i])
        vel, acc = float(profile.max_velocity[i]), float(profile.max_acceleration[i])
        used = []
        for key in ('min_position', 'max_position', 'max_velocity', 'max_acceleration',
                    'max_deceleration', 'soft_lower_limit', 'soft_upper_limit'):
            value = _enabled(entry, key)
            if value is not None:
                used.append(key)
                cap, unit = _MAGNITUDE_CAPS[key]
                if abs(value) > cap:
                    raise JointLimitsError(
                        f'{label}.{key}: {value!r} is not a plausible hand joint limit: must '
                        f'be at most {cap:g} {unit}')
        new_lo = _enabled(entry, 'min_position')
        new_hi = _enabled(entry, 'max_position')
        if not allow_wider_position_limits:
            if new_lo is not None and new_lo < lo:
                raise JointLimitsError(
                    f"{label}.min_position: {new_lo} is below the hand profile's lower limit "
                    f'{lo} (set allow_wider_position_limits if the hardware really allows it)')
            if new_hi is not None and new_hi > hi:
                raise JointLimitsError(
                    f"{label}.max_position: {new_hi} is above the hand profile's upper limit "
                    f'{hi} (set allow_wider_position_limits if the hardware really allows it)')
        lo = lo if new_lo is None else new_lo
        hi = hi if new_hi is None else new_hi
        if not lo < hi:
            raise JointLimitsError(
                f'{label}: min_position ({lo}) must be below max_position ({hi})')
        for key in ('max_velocity', 'max_acceleration', 'max_deceleration'):
            value = _enabled(entry, key)
            if value is not None and value <= 0:
                raise JointLimitsError(f'{label}.{key}: must be > 0, got {value}')
        if not allow_faster_than_profile:
            for key, profile_value in (('max_velocity', vel), ('max_acceleration', acc)):
                value = _enabled(entry, key)
                if value is not None and value > profile_value:
                    raise JointLimitsError(
                        f"{label}.{key}: {value} is above the hand profile's {profile_value} "
                        '(set allow_faster_than_profile if the hardware really allows it)')
        vel = _enabled(entry, 'max_velocity') or vel
        acc = _enabled(entry, 'max_acceleration') or acc
        dec = _enabled(entry, 'max_deceleration')
        if dec is not None:
            acc = min(acc, dec)
        soft_lo = _enabled(entry, 'soft_lower_limit')
        soft_hi = _enabled(entry, 'soft_upper_limit')
        soft_lo = lo if soft_lo is None else max(lo, soft_lo)
        soft_hi = hi if soft_hi is None else min(hi, soft_hi)
        if not soft_lo < soft_hi:
            raise JointLimitsError(
                f'{label}: soft limits leave no room: [{soft_lo}, {soft_hi}] within '
                f'[{lo}, {hi}]')
        result[joint] = JointLimits(joint, lo, hi, soft_lo, soft_hi, vel, acc, tuple(used))
    return result, notes


def load_joint_limits_file(path) -> dict:
    """
    Read a joint_limits YAML file as the nested {joint: {key: value}} dict.

    Accepted layouts: a top-level `joint_limits:` mapping (MoveIt / plain files) or a ROS 2
    parameter file with `joint_limits:` under one node's `ros__parameters` (any node name,
    `/**` included). Raise ConfigError naming the file when neither or several are found.
    """
    data, resolved = load_yaml(path)
    if 'joint_limits' in data:
        sections = [('joint_limits', data['joint_limits'])]
    else:
        sections = []
        for node, body in data.items():
            if isinstance(body, Mapping) and isinstance(body.get('ros__parameters'), Mapping) \
                    and 'joint_limits' in body['ros__parameters']:
                sections.append((f'{node}.ros__parameters.joint_limits',
                                 body['ros__parameters']['joint_limits']))
    if len(sections) != 1:
        found = ', '.join(s for s, _ in sections) or 'none'
        raise JointLimitsError(
            f'{resolved}: expected exactly one joint_limits section (top level or under one '
            f"node's ros__parameters), found {found}")
    where, section = sections[0]
    if not isinstance(section, Mapping):
        raise JointLimitsError(f'{resolved}: {where}: expected a mapping of joints')
    for joint, entry in section.items():
        if not isinstance(entry, Mapping):
            raise JointLimitsError(f'{resolved}: {where}.{joint}: expected a mapping of keys')
    return {str(j): dict(e) for j, e in section.items()}


def merge_joint_limits(*layers: Mapping) -> dict:
    """Merge joint_limits dicts (flat or nested forms); later layers win key by key."""
    merged = {}
    for layer in layers:
        for joint, entry in _flatten(layer, 'joint_limits').items():
            merged.setdefault(joint, {}).update(entry)
    return merged
