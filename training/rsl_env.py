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
rsl_rl's VecEnv over HandCubeEnvs: NumPy in the environment, torch tensors at this boundary.

The observation groups are 'policy' (what the deployed policy sees: the spec's observation,
noise and delays included) and 'critic' (the same plus privileged simulator state: the
asymmetric critic of Playground and DeXtreme). Time-limit ends are reported as time_outs so PPO
bootstraps them instead of treating them as failures.
"""
import numpy as np
from rsl_rl.env import VecEnv
from tensordict import TensorDict
import torch


class RslVecEnv(VecEnv):
    """Adapter: any batch with HandCubeEnvs' step()/obs interface (in-process or on Ray)."""

    def __init__(self, batch, device='cpu'):
        self.batch = batch
        self.num_envs = batch.num_envs
        self.num_actions = batch.num_actions
        self.max_episode_length = batch.max_steps
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long)
        self.device = device
        self.cfg = {'source': batch.config.source}
        self._obs = self._pack(batch.obs, batch.privileged)

    def _pack(self, obs, privileged) -> TensorDict:
        return TensorDict({'policy': torch.from_numpy(np.array(obs, dtype=np.float32)),
                           'critic': torch.from_numpy(np.array(privileged, dtype=np.float32))},
                          batch_size=[self.num_envs], device=self.device)

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor):
        obs, privileged, reward, done, timeout = self.batch.step(
            actions.detach().cpu().numpy())
        self._obs = self._pack(obs, privileged)
        self.episode_length_buf += 1
        done_t = torch.from_numpy(done.astype(np.int64))
        self.episode_length_buf[done_t.bool()] = 0
        extras = {'time_outs': torch.from_numpy(timeout.astype(np.float32))}
        return self._obs, torch.from_numpy(reward), done_t, extras
