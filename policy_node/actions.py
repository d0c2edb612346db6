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
Action semantics: from the network's output to joint targets, by name.

decode() turns the raw output into one value per action joint (argmax over bins for discrete
policies, then the optional clip); targets() applies the spec's mode: absolute targets
(offset + scale * a), deltas on the previous target (Playground) or on the measured positions
(Dactyl), then clips to the hand's joint limits and applies the EMA smoothing
(target = ema * new + (1 - ema) * previous target), in that order. With ema_on: action the
smoothing applies to the decoded action instead, before the mode (robogym's SmoothActionWrapper).
"""
from hand_control.hand_profile import HandProfile
import numpy as np
from policy_node.spec import broadcast_vector, default_pose, PolicySpec, resolve_joints


class ActionProcessor:
    """Map decoded actions to joint targets for the spec's action joints (spec order)."""

    def __init__(self, spec: PolicySpec, profile: HandProfile):
        action = spec.action
        self.spec = action
        self.joint_names = resolve_joints(spec, profile)
        n = len(self.joint_names)
        self.profile_indices = np.array([profile.index(name) for name in self.joint_names])
        self.lower = profile.lower[self.profile_indices]
        self.upper = profile.upper[self.profile_indices]
        self.default_pose = default_pose(spec, profile, self.joint_names)
        self.bins = action.bins
        self.output_size = n * action.bins if action.bins else n
        if action.bins:
            self.bin_values = np.linspace(-1.0, 1.0, action.bins)
        self.scale = (self.upper - self.lower) / 2.0 if action.scale == 'half_range' \
            else self._per_joint(action.scale, 'scale')
        self.offset = None
        if action.mode == 'absolute':
            self.offset = {
                'default_pose': self.default_pose,
                'zero': np.zeros(n),
                'limits_center': (self.upper + self.lower) / 2.0,
            }.get(action.offset) if isinstance(action.offset, str) \
                else self._per_joint(action.offset, 'offset')
        self.smoothed_action = None

    def _per_joint(self, value, key) -> np.ndarray:
        n = len(self.joint_names)
        return broadcast_vector(
            value, n, f'{self.spec.where}.{key}: {n} action joints but '
            f'{np.size(value)} values', term=f'action.{key}')

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """Return one action value per joint from the network's output."""
        raw = np.asarray(raw, dtype=np.float64).ravel()
        if raw.size != self.output_size:
            raise ValueError(f'the network returned {raw.size} action values, expected '
                             f'{self.output_size}')
        if not np.all(np.isfinite(raw)):
            raise ValueError('the network returned a non-finite action')
        if self.bins:
            # Joint-major logits: row j holds the bins of joint j.
            action = self.bin_values[np.argmax(raw.reshape(-1, self.bins), axis=1)]
        else:
            action = raw
        if self.spec.clip_action is not None:
            action = np.clip(action, *self.spec.clip_action)
        return action

    def reset(self):
        """Forget the smoothed action (episode start)."""
        self.smoothed_action = None

    def targets(self, action: np.ndarray, previous_target: np.ndarray,
                joint_positions: np.ndarray) -> np.ndarray:
        """Return the new targets from a decoded action, the previous targets and all q."""
        smooth = self.spec.ema < 1.0
        if smooth and self.spec.ema_on == 'action':
            if self.smoothed_action is not None:
                action = self.spec.ema * action + (1.0 - self.spec.ema) * self.smoothed_action
            self.smoothed_action = action
        mode = self.spec.mode
        if mode == 'absolute':
            target = self.offset + self.scale * action
        elif mode == 'delta_target':
            target = previous_target + self.scale * action
        else:
            target = joint_positions[self.profile_indices] + self.scale * action
        if self.spec.clip_to_limits:
            target = np.clip(target, self.lower, self.upper)
        if smooth and self.spec.ema_on == 'target':
            target = self.spec.ema * target + (1.0 - self.spec.ema) * previous_target
        return target

    def clip_to_limits(self, target: np.ndarray) -> np.ndarray:
        return np.clip(target, self.lower, self.upper)
