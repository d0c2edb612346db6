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
Forward kinematics of the hand from measured joint positions, through its MuJoCo model.

Fingertip positions and the palm pose are what trained policies observe but no sensor on the
hand measures; they follow from the joint angles and the hand's mount in the world. The model is
the sim's own hand (inhand.hand_model.build_model without cameras or cube) so the runner and
the simulator agree on every link length and on where the hand is mounted.
"""
from inhand.config import ConfigError
from inhand.hand_model import build_model, load_scene_config
import mujoco
import numpy as np


def load_hand_model(profile, scene_config=None) -> mujoco.MjModel:
    """Compile the hand alone (no cube, no cameras), mounted where the scene config puts it."""
    scene = scene_config if scene_config is not None else load_scene_config()
    return build_model(profile, scene, rig=None, cube=None)


class HandKinematics:
    """Fingertip positions and palm pose (world frame) for given joint positions."""

    def __init__(self, profile, model: mujoco.MjModel | None = None):
        self.profile = profile
        self.model = model if model is not None else load_hand_model(profile)
        self.data = mujoco.MjData(self.model)
        self.qpos_index = np.array([self._joint_qpos(mj) for mj in profile.mujoco_joints])
        self.tip_names = tuple(tip.name for tip in profile.fingertips)
        self.tip_sites = np.array([self._site(tip.site) for tip in profile.fingertips],
                                  dtype=int)
        palm = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, profile.palm_body)
        if palm < 0:
            raise ConfigError(f'{profile.source}: palm body {profile.palm_body!r} is not in '
                              f'the hand model')
        self.palm_body = palm
        # A profile may name a site as its palm (e.g. the LEAP hand's grasp_site, where
        # Playground measures the cube from): positions and rotations are then that site's.
        self.palm_site = self._site(profile.palm_site, 'palm site') if profile.palm_site \
            else None
        mujoco.mj_kinematics(self.model, self.data)

    def _joint_qpos(self, name: str) -> int:
        joint = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if joint < 0:
            raise ConfigError(f'{self.profile.source}: MuJoCo joint {name!r} is not in the '
                              f'hand model')
        return int(self.model.jnt_qposadr[joint])

    def _site(self, name: str, what: str = 'fingertip site') -> int:
        site = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, name)
        if site < 0:
            raise ConfigError(f'{self.profile.source}: {what} {name!r} is not in the '
                              f'hand model')
        return site

    def update(self, joint_positions) -> None:
        """Set all profile joints (profile order) and recompute the link poses."""
        q = np.asarray(joint_positions, dtype=float)
        if q.shape != self.qpos_index.shape:
            raise ValueError(f'expected {self.qpos_index.size} joint positions, got {q.shape}')
        self.data.qpos[self.qpos_index] = q
        mujoco.mj_kinematics(self.model, self.data)

    def fingertip_positions(self, indices=None) -> np.ndarray:
        """Return (n, 3) world positions of the fingertips (all, or those indices)."""
        sites = self.tip_sites if indices is None else self.tip_sites[indices]
        return self.data.site_xpos[sites].copy()

    def palm_pose(self) -> tuple:
        """Return (position[3], rotation matrix[3x3]) of the palm (body or site) in world."""
        if self.palm_site is not None:
            return (self.data.site_xpos[self.palm_site].copy(),
                    self.data.site_xmat[self.palm_site].reshape(3, 3).copy())
        return (self.data.xpos[self.palm_body].copy(),
                self.data.xmat[self.palm_body].reshape(3, 3).copy())
