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
A SafetyLimiter built from the safety_limiter node's parameter file, without ROS.

The trainer runs the graph's limiter in every simulated environment, and tools that replay
commands offline want the same limits; both read config/safety_limiter.yaml (or a lab's copy)
through this module so they limit exactly as the node would with that file.
"""
from hand_control.limiter import LimiterConfig, SafetyLimiter, UncertaintyConfig
from hand_control.limits import merge_joint_limits, parse_joint_limits_params
from hand_control.wear import WearConfig, WearMonitor
from inhand.config import ConfigError, load_yaml

# Parameters of the node that do not shape the limits (topics, rates, files, output format).
NODE_ONLY = {'hand', 'joint_limits_file', 'ignore_unknown_joints',
             'allow_wider_position_limits', 'allow_faster_than_profile', 'watchdog_rate',
             'diagnostics_rate', 'cube_pose_topic', 'state_dir', 'odometer_save_period',
             'output_type', 'output_topic', 'output_joint_order', 'joint_limits',
             'clock_timeout'}


def load_limiter_parameters(name_or_path='safety_limiter.yaml') -> tuple[dict, str]:
    """Return the safety_limiter's ros__parameters of a parameter file, and its path."""
    data, path = load_yaml(name_or_path)
    try:
        params = data['safety_limiter']['ros__parameters']
    except (KeyError, TypeError):
        raise ConfigError(f'{path}: expected safety_limiter: ros__parameters:') from None
    if not isinstance(params, dict):
        raise ConfigError(f'{path}: safety_limiter.ros__parameters must be a mapping')
    return params, str(path)


def _dataclass_args(cls, values: dict, where: str) -> dict:
    unknown = sorted(set(values) - set(cls.__dataclass_fields__))
    if unknown:
        raise ConfigError(f'{where}: unknown parameter(s) {", ".join(unknown)}')
    return dict(values)


def limiter_config(params: dict, where: str) -> LimiterConfig:
    """Build the LimiterConfig the node would build from these parameters."""
    top = {k: v for k, v in params.items() if k not in NODE_ONLY
           and k not in ('uncertainty', 'wear')}
    return LimiterConfig(
        uncertainty=UncertaintyConfig(**_dataclass_args(
            UncertaintyConfig, params.get('uncertainty', {}), f'{where}: uncertainty')),
        wear=WearConfig(**_dataclass_args(WearConfig, params.get('wear', {}),
                                          f'{where}: wear')),
        **_dataclass_args(LimiterConfig, top, where))


def limiter_factory(profile, name_or_path='safety_limiter.yaml', overrides=None):
    """
    Read the parameter file once; return a callable that builds a fresh SafetyLimiter.

    Each limiter starts as the node does at launch: no measurement, no stream, an empty wear
    window (the persistent odometer is the node's business, not the limits'). overrides
    replaces parameters of the file, nested as in it (e.g. {'wear': {'enabled': False}}).
    """
    params, where = load_limiter_parameters(name_or_path)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict):
            params = dict(params, **{key: dict(params.get(key, {}), **value)})
        else:
            params = dict(params, **{key: value})
    config = limiter_config(params, where)
    limits, _notes = parse_joint_limits_params(
        merge_joint_limits(params.get('joint_limits', {})), profile,
        ignore_unknown_joints=bool(params.get('ignore_unknown_joints', False)),
        allow_wider_position_limits=bool(params.get('allow_wider_position_limits', False)),
        allow_faster_than_profile=bool(params.get('allow_faster_than_profile', False)))
    names = profile.actuated_joint_names
    home = profile.home[profile.actuated_indices]

    def build() -> SafetyLimiter:
        return SafetyLimiter(limits, config, profile.joint_names, names, home=home,
                             wear=WearMonitor(names, config.wear))
    return build


def build_limiter(profile, name_or_path='safety_limiter.yaml') -> SafetyLimiter:
    """Return a fresh SafetyLimiter for profile, configured by the parameter file."""
    return limiter_factory(profile, name_or_path)()
