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
Hand profiles: the one description of a hand that the sim, limiter and policy runner share.

A profile (config/hands/<hand>.yaml) lists every joint by its ROS name with the matching MuJoCo
joint, the actuator driving it (or the actuated joint it is coupled to), position limits, the
home pose and default velocity/acceleration limits; plus fingertip sites and the palm frame.
Loading validates all of it and raises ProfileError naming the file and the entry.
"""
from dataclasses import dataclass
import pathlib

from inhand.config import ConfigError, Fields, load_yaml
from inhand.paths import python_package_dir
import numpy as np


# What to do with mesh files the hand's MJCF names but that are not on disk: refuse to build
# the model, or drop the visual-only geoms that use them (inhand.hand_model.resolve_meshes).
MISSING_MESHES = ('refuse', 'drop_visual')


class ProfileError(ConfigError):
    """A hand profile is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Fingertip:
    name: str
    site: str    # MuJoCo site at the fingertip
    frame: str   # TF frame name


@dataclass(frozen=True)
class HandProfile:
    """Validated hand description. Arrays are indexed like joint_names (all joints)."""

    name: str
    source: pathlib.Path
    joint_names: tuple            # every joint, ROS names, in /joint_states order
    mujoco_joints: tuple          # MuJoCo joint name per joint
    actuators: tuple              # MuJoCo actuator name per joint, '' for coupled joints
    coupled_to: tuple             # actuated joint that drives it, '' for actuated joints
    lower: np.ndarray
    upper: np.ndarray
    home: np.ndarray
    max_velocity: np.ndarray
    max_acceleration: np.ndarray
    fingertips: tuple
    palm_body: str
    palm_site: str                # '' : the palm is palm_body's frame; else this MuJoCo site's
    palm_frame: str
    world_frame: str
    link_prefix: str              # URDF/TF link name = link_prefix + MuJoCo body name
    mujoco_prefix: str            # ... without this prefix (e.g. "robot0:")
    model_package: str            # '' : model_file is a path (relative to the profile file)
    model_file: str
    missing_meshes: str           # refuse | drop_visual (see inhand.hand_model)
    remove_bodies: tuple
    remove_geoms: tuple
    mount_body: str

    @property
    def actuated_joint_names(self) -> tuple:
        """Joints with their own actuator, in profile order: what a command may name."""
        return tuple(n for n, a in zip(self.joint_names, self.actuators) if a)

    @property
    def actuated_indices(self) -> np.ndarray:
        return np.array([i for i, a in enumerate(self.actuators) if a], dtype=int)

    def index(self, joint_name: str) -> int:
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise KeyError(f'joint {joint_name!r} is not in hand profile {self.name!r}') from None

    def model_path(self) -> pathlib.Path:
        """
        Absolute path of the hand's MJCF.

        With model.package, model.file is inside that installed Python package; without it,
        model.file is a path, absolute or relative to the profile file's folder.
        """
        if self.model_package:
            path = python_package_dir(self.model_package) / self.model_file
            if not path.is_file():
                raise ProfileError(
                    f'{self.source}: model file {self.model_file!r} not found in package '
                    f'{self.model_package!r} (looked at {path})')
            return path
        path = pathlib.Path(self.model_file).expanduser()
        if not path.is_absolute():
            path = (pathlib.Path(self.source).resolve().parent / path).resolve()
        if not path.is_file():
            raise ProfileError(
                f'{self.source}: model.file {self.model_file!r} not found (looked at {path}); '
                'a relative path is relative to the profile file, and model.package names an '
                'installed Python package to look in instead')
        return path


def load_hand_profile(name_or_path: str = 'shadow') -> HandProfile:
    """Load config/hands/<name>.yaml (or a path) and validate it."""
    target = name_or_path if name_or_path.endswith(('.yaml', '.yml')) \
        else f'hands/{name_or_path}.yaml'
    try:
        data, path = load_yaml(target)
        return _parse(data, path)
    except ProfileError:
        raise
    except ConfigError as exc:
        raise ProfileError(f'hand profile: {exc}') from exc


def _parse(data: dict, path: pathlib.Path) -> HandProfile:
    top = Fields(data, str(path)).allow('name', 'description', 'model', 'frames', 'defaults',
                                        'joints', 'fingertips')
    model = top.section('model').allow('package', 'file', 'missing_meshes', 'remove_bodies',
                                       'remove_geoms', 'mount_body')
    missing_meshes = model.text('missing_meshes', 'refuse')
    if missing_meshes not in MISSING_MESHES:
        raise ProfileError(f'{path}: model.missing_meshes: expected one of '
                           f'{", ".join(MISSING_MESHES)}, got {missing_meshes!r}')
    frames = top.section('frames').allow('palm_body', 'palm_site', 'palm_frame', 'world_frame',
                                         'link_prefix', 'mujoco_prefix')
    defaults = top.section('defaults').allow('max_velocity', 'max_acceleration')
    default_vel = defaults.number('max_velocity', positive=True)
    default_acc = defaults.number('max_acceleration', positive=True)

    entries = top.items('joints')
    if not entries:
        raise ProfileError(f'{path}: joints: the list is empty')
    names, mj, act, coupled = [], [], [], []
    lower, upper, home, vel, acc = [], [], [], [], []
    for i, raw in enumerate(entries):
        joint = Fields(raw, f'{path}: joints[{i}]')
        name = joint.text('name')
        joint.where = f'{path}: joint {name}'
        joint.allow('name', 'mujoco', 'actuator', 'coupled_to', 'lower', 'upper', 'home',
                    'max_velocity', 'max_acceleration')
        if name in names:
            raise ProfileError(f'{joint.where}: duplicate joint name')
        has_actuator = 'actuator' in raw
        has_coupling = 'coupled_to' in raw
        if has_actuator == has_coupling:
            raise ProfileError(
                f'{joint.where}: needs exactly one of "actuator" or "coupled_to"')
        lo, hi = joint.number('lower'), joint.number('upper')
        if not lo < hi:
            raise ProfileError(f'{joint.where}: lower ({lo}) must be below upper ({hi})')
        q0 = joint.number('home')
        if not lo <= q0 <= hi:
            raise ProfileError(f'{joint.where}: home {q0} is outside [{lo}, {hi}]')
        names.append(name)
        mj.append(joint.text('mujoco'))
        act.append(joint.text('actuator') if has_actuator else '')
        coupled.append(joint.text('coupled_to') if has_coupling else '')
        lower.append(lo)
        upper.append(hi)
        home.append(q0)
        vel.append(joint.number('max_velocity', default_vel, positive=True))
        acc.append(joint.number('max_acceleration', default_acc, positive=True))

    for name, driver in zip(names, coupled):
        if driver and (driver not in names or coupled[names.index(driver)]):
            raise ProfileError(
                f'{path}: joint {name}: coupled_to {driver!r} is not an actuated joint')
    if len(set(mj)) != len(mj):
        raise ProfileError(f'{path}: two joints map to the same MuJoCo joint')

    tips = []
    for i, raw in enumerate(top.items('fingertips')):
        tip = Fields(raw, f'{path}: fingertips[{i}]').allow('name', 'site', 'frame')
        tips.append(Fingertip(tip.text('name'), tip.text('site'), tip.text('frame')))

    return HandProfile(
        name=top.text('name'), source=path,
        joint_names=tuple(names), mujoco_joints=tuple(mj), actuators=tuple(act),
        coupled_to=tuple(coupled),
        lower=np.array(lower), upper=np.array(upper), home=np.array(home),
        max_velocity=np.array(vel), max_acceleration=np.array(acc),
        fingertips=tuple(tips),
        palm_body=frames.text('palm_body'),
        palm_site=frames.text('palm_site') if 'palm_site' in frames.data else '',
        palm_frame=frames.text('palm_frame'),
        world_frame=frames.text('world_frame', 'world'),
        link_prefix=frames.text('link_prefix') if 'link_prefix' in frames.data else '',
        mujoco_prefix=frames.text('mujoco_prefix') if 'mujoco_prefix' in frames.data else '',
        model_package=model.text('package') if 'package' in model.data else '',
        model_file=model.text('file'), missing_meshes=missing_meshes,
        remove_bodies=tuple(model.items('remove_bodies', [])),
        remove_geoms=tuple(model.items('remove_geoms', [])),
        mount_body=model.text('mount_body'),
    )
