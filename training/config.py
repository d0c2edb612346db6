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
Training configuration (config/training/*.yaml): task, spec, environments, noise, reward, PPO.

Validated on load: an unknown key anywhere is an error naming the file, the entry and the
keys that are known, since a typo in a reward scale would otherwise train silently with the
default.
"""
import dataclasses
from dataclasses import dataclass
import math

from inhand.config import check_known_keys, ConfigError, Fields, load_yaml

TASKS = ('yaw', 'reorient')


def check_keys(data: dict, allowed, where: str) -> None:
    """Refuse keys outside allowed, naming the nearest known one."""
    check_known_keys(data, allowed, where)


@dataclass(frozen=True)
class Randomization:
    physics: bool = True
    cube_start: bool = True
    action_delay_steps: tuple = (0, 1)
    joint_position_noise: float = 0.005
    joint_velocity_noise: float = 0.05
    cube_position_noise: float = 0.002
    cube_rotation_noise: float = 0.02
    pose_delay_probability: float = 0.2
    pose_dropout_probability: float = 0.05


@dataclass(frozen=True)
class Reward:
    rotation_progress: float = 20.0
    success: float = 10.0
    drop: float = -50.0
    cube_offset: float = -5.0
    fingertip_distance: float = -2.0
    action: float = -0.002
    action_rate: float = -0.01
    wear_duty: float = 0.0            # per unit of wear duty above wear_duty_free, per joint
    wear_duty_free: float = 0.75      # duty (1.0 = at the limiter's wear budget) that is free


@dataclass(frozen=True)
class Ppo:
    steps_per_env: int = 32
    learning_rate: float = 3e-4
    schedule: str = 'adaptive'
    desired_kl: float = 0.01
    epochs: int = 5
    minibatches: int = 4
    gamma: float = 0.99
    lam: float = 0.95
    clip: float = 0.2
    entropy: float = 0.002
    init_noise_std: float = 0.6
    actor_hidden: tuple = (256, 256, 128)
    critic_hidden: tuple = (256, 256, 128)


@dataclass(frozen=True)
class TrainConfig:
    source: str
    task: str
    spec: str
    hand: str
    scene: str
    limiter: str
    limiter_overrides: dict
    envs: int
    episode_seconds: float
    success_threshold: float
    max_successes: int
    yaw_step: float
    min_angle: float
    max_angle: float                # task reorient: below pi, goals nearer (a curriculum)
    randomization: Randomization
    reward: Reward
    ppo: Ppo


def _numbers(section: Fields, defaults) -> dict:
    values = {}
    for key, default in defaults.__dict__.items():
        if key not in section.data:
            continue
        if isinstance(default, bool):
            value = section.data[key]
            if not isinstance(value, bool):
                raise ConfigError(f'{section.where}.{key}: expected true or false, got '
                                  f'{value!r}')
        elif isinstance(default, tuple):
            value = tuple(section.vector(key, len(section.data[key]))
                          if isinstance(section.data[key], list) else section.items(key))
            if not value:
                raise ConfigError(f'{section.where}.{key}: expected a non-empty list')
        elif isinstance(default, str):
            value = section.text(key)
        elif isinstance(default, int):
            value = section.integer(key, positive=True)
        else:
            value = section.number(key)
        values[key] = value
    return values


def _limiter_overrides(section: Fields, where: str) -> dict:
    """Validate limiter overrides against the limiter's own configuration fields."""
    from hand_control.limiter import LimiterConfig, UncertaintyConfig
    from hand_control.wear import WearConfig
    nested = {'wear': WearConfig, 'uncertainty': UncertaintyConfig}
    check_keys(section.data, set(LimiterConfig.__dataclass_fields__), section.where)
    for key, value in section.data.items():
        if key in nested:
            check_keys(Fields(value, f'{section.where}.{key}').data,
                       set(nested[key].__dataclass_fields__), f'{section.where}.{key}')
    return dict(section.data)


def load_train_config(name_or_path='training/yaw.yaml') -> TrainConfig:
    """Load and validate a training config (config/training/*.yaml or a path)."""
    data, path = load_yaml(name_or_path)
    where = str(path)
    check_keys(data, {'task', 'spec', 'hand', 'scene', 'limiter', 'limiter_overrides', 'envs',
                      'episode_seconds', 'goals', 'randomization', 'reward', 'ppo'}, where)
    top = Fields(data, where)
    task = top.text('task')
    if task not in TASKS:
        raise ConfigError(f'{where}.task: expected one of {", ".join(TASKS)}, got {task!r}')
    goals = top.section('goals', {})
    check_keys(goals.data, {'success_threshold', 'max_successes', 'yaw_step', 'min_angle',
                            'max_angle'}, goals.where)
    sections = {}
    for key, cls in (('randomization', Randomization), ('reward', Reward), ('ppo', Ppo)):
        section = top.section(key, {})
        check_keys(section.data, set(cls.__dataclass_fields__), section.where)
        sections[key] = cls(**_numbers(section, cls()))
    rnd = sections['randomization']
    delays = rnd.action_delay_steps
    if len(delays) != 2 or not all(float(d).is_integer() and 0 <= d <= 5 for d in delays) \
            or delays[0] > delays[1]:
        raise ConfigError(f'{where}.randomization.action_delay_steps: expected [low, high], '
                          f'whole steps in 0..5, got {list(delays)!r}')
    for key in ('pose_delay_probability', 'pose_dropout_probability'):
        if not 0.0 <= getattr(rnd, key) < 1.0:
            raise ConfigError(f'{where}.randomization.{key}: must be in [0, 1)')
    ppo = sections['ppo']
    if ppo.schedule not in ('adaptive', 'fixed'):
        raise ConfigError(f'{where}.ppo.schedule: expected adaptive or fixed')
    if not 0.0 <= goals.number('min_angle', math.pi / 2) \
            < goals.number('max_angle', math.pi) <= math.pi:
        raise ConfigError(f'{where}.goals: need 0 <= min_angle < max_angle <= pi')
    config = TrainConfig(
        source=where, task=task, spec=top.text('spec'), hand=top.text('hand', 'shadow'),
        scene=top.text('scene', 'sim/scene.yaml'),
        limiter=top.text('limiter', 'safety_limiter.yaml'),
        limiter_overrides=_limiter_overrides(top.section('limiter_overrides', {}), where),
        envs=top.integer('envs', positive=True),
        episode_seconds=top.number('episode_seconds', positive=True),
        success_threshold=goals.number('success_threshold', 0.4, positive=True),
        max_successes=goals.integer('max_successes', 50, positive=True),
        yaw_step=goals.number('yaw_step', math.pi / 2),
        min_angle=goals.number('min_angle', math.pi / 2),
        max_angle=goals.number('max_angle', math.pi),
        **sections)
    return config


def for_hand(config: TrainConfig, hand: str, spec_name: str = '',
             check_spec: bool = True) -> TrainConfig:
    """
    Return the config for another hand (profile name or path): --hand of the trainer.

    The scene and the limiter file become the hand's own (as `hand:=` picks them for the graph)
    unless the config names others than the defaults. spec_name: the spec that will run (an
    evaluation's), checked instead of the config's. The spec must be
    written for that hand: a Shadow spec cannot drive a LEAP hand, and the error says which
    config to take instead.
    """
    from hand_control.hand_profile import load_hand_profile
    from inhand.graph import hand_launch_defaults, hand_limiter_params
    from policy_node.spec import load_spec
    if hand == config.hand:
        return config
    try:
        defaults = hand_launch_defaults(hand)
    except ValueError as exc:          # GraphError: the hand's launch file is broken
        raise ConfigError(str(exc)) from None
    scene = config.scene
    if scene == 'sim/scene.yaml':
        scene = defaults.get('scene', scene)
    limiter = config.limiter
    if limiter == 'safety_limiter.yaml':
        limiter = defaults.get('limiter_params') or hand_limiter_params(hand)
    profile = load_hand_profile(hand)
    spec = load_spec(spec_name or config.spec) if check_spec else None
    if spec is not None and spec.hand and spec.hand != profile.name:
        raise ConfigError(f'{config.source}: spec {spec_name or config.spec} is written for hand '
                          f'{spec.hand!r}, not {profile.name!r} (--hand {hand}): take a config '
                          'whose spec is written for that hand, e.g. training/leap_reorient.yaml')
    return dataclasses.replace(config, hand=hand, scene=scene, limiter=limiter)
