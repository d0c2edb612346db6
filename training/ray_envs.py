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
Rollout collection on a Ray cluster: Ray actors, each holding a slice of the environments.

    python -m training.train --run runs/yaw --iterations 1000 --ray auto --ray-actors 32
    python -m training.train ... --ray local --ray-actors 2     # a Ray instance started here

The actors are training.workers.EnvSlice, the same class a local worker process holds, so
what runs on the cluster is what runs here. The learner (PPO update) stays in the calling
process, on its GPU when torch sees one. `local` starts a private Ray instance on this machine,
bound to the loopback interface, with usage reporting and the dashboard off; any other value
is passed to ray.init(address=...) (e.g. auto, or ray://head:10001).
"""
import os

import numpy as np
from training.workers import CombinedEnvs, EnvSlice, split


def connect(address: str, cpus: int):
    """Join the cluster at address, or start a private loopback instance for 'local'."""
    os.environ.setdefault('RAY_USAGE_STATS_ENABLED', '0')
    if address == 'local':
        # A single-machine instance: Ray then takes the loopback address as the node's own
        # (its switch for laptops), so no Ray traffic leaves 127.0.0.1; read at import time,
        # and inherited by the raylet and the actors.
        os.environ['RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER'] = '0'
    import ray
    if ray.is_initialized():
        return ray
    if address == 'local':
        ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address='127.0.0.1',
                 log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False)
    return ray


class RayEnvs(CombinedEnvs):
    """HandCubeEnvs split over Ray actors; same interface as HandCubeEnvs."""

    def __init__(self, config, num_envs=None, seed=0, address='local', actors=2, threads=1,
                 randomize=True):
        num_envs = int(num_envs or config.envs)
        sizes = split(num_envs, actors)
        self.ray = connect(address, cpus=actors)
        remote = self.ray.remote(num_cpus=1)(EnvSlice)
        self.actors = [remote.remote(config, size, seed * 1000 + k, threads, randomize)
                       for k, size in enumerate(sizes)]
        self._setup(config, sizes, self.ray.get([a.describe.remote() for a in self.actors]))
        self._started_here = address == 'local'

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.float32)
        futures = [actor.step.remote(actions[lo:hi]) for actor, lo, hi
                   in zip(self.actors, self.bounds[:-1], self.bounds[1:])]
        return self._gather(self.ray.get(futures))

    def close(self):
        if self.actors:
            self.ray.get([actor.close.remote() for actor in self.actors])
            for actor in self.actors:
                self.ray.kill(actor)
            self.actors = []
        if self._started_here:
            self.ray.shutdown()
