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
Environments spread over worker processes (or Ray actors): one HandCubeEnvs slice in each.

Stepping a batch costs physics, which MuJoCo runs without the GIL, and per-environment Python
(observation builder, limiter), which holds it; one process therefore tops out at about one
core of Python however many physics threads it has. Workers give each core its own
interpreter. ProcessEnvs and training.ray_envs.RayEnvs present the same interface as
HandCubeEnvs (num_envs, obs, privileged, step, pop_finished, close), so the trainer does not
know where its environments live.
"""
import multiprocessing
import traceback

import numpy as np


def split(num_envs: int, parts: int) -> list:
    """Sizes of parts as even as possible, each >= 1."""
    if not 1 <= parts <= num_envs:
        raise ValueError(f'cannot split {num_envs} environments over {parts} workers')
    base, extra = divmod(num_envs, parts)
    return [base + (k < extra) for k in range(parts)]


class EnvSlice:
    """What a worker holds: one HandCubeEnvs; plain arrays in and out (picklable)."""

    def __init__(self, config, num_envs, seed, threads=1, randomize=True):
        from training.env import HandCubeEnvs
        self.envs = HandCubeEnvs(config, num_envs=num_envs, seed=seed, threads=threads,
                                 randomize=randomize)

    def describe(self) -> dict:
        e = self.envs
        return {'num_actions': e.num_actions, 'obs_size': e.obs_size,
                'privileged_size': e.privileged_size, 'max_steps': e.max_steps,
                'action_names': e.action_names, 'obs': e.obs.copy(),
                'privileged': e.privileged.copy()}

    def step(self, actions):
        obs, privileged, reward, done, timeout = self.envs.step(actions)
        return (obs.copy(), privileged.copy(), reward, done, timeout,
                self.envs.pop_finished(), self.envs.pop_stats())

    def close(self):
        self.envs.close()


def _serve(connection, args):
    try:
        env = EnvSlice(*args)
        connection.send(('ok', env.describe()))
    except Exception:  # noqa: B902 - reported to the parent, which raises it
        connection.send(('error', traceback.format_exc()))
        return
    while True:
        command, payload = connection.recv()
        if command == 'close':
            env.close()
            connection.send(('ok', None))
            return
        try:
            connection.send(('ok', env.step(payload)))
        except Exception:  # noqa: B902
            connection.send(('error', traceback.format_exc()))


class CombinedEnvs:
    """Concatenate the slices' results; subclasses say how to call the slices."""

    def _setup(self, config, sizes, descriptions):
        self.config = config
        self.sizes = sizes
        self.num_envs = sum(sizes)
        first = descriptions[0]
        self.num_actions = first['num_actions']
        self.obs_size = first['obs_size']
        self.privileged_size = first['privileged_size']
        self.max_steps = first['max_steps']
        self.action_names = first['action_names']
        self.obs = np.concatenate([d['obs'] for d in descriptions])
        self.privileged = np.concatenate([d['privileged'] for d in descriptions])
        self.bounds = np.cumsum([0] + sizes)
        self.finished = []
        self._sums, self._samples = {}, 0

    def _gather(self, results):
        obs, privileged, reward, done, timeout, finished, stats = zip(*results)
        self.obs = np.concatenate(obs)
        self.privileged = np.concatenate(privileged)
        for part in finished:
            self.finished.extend(part)
        for size, part in zip(self.sizes, stats):
            for key, value in part.items():
                self._sums[key] = self._sums.get(key, 0.0) + value * size
        self._samples += self.num_envs
        return (self.obs, self.privileged, np.concatenate(reward), np.concatenate(done),
                np.concatenate(timeout))

    def pop_finished(self) -> list:
        finished, self.finished = self.finished, []
        return finished

    def pop_stats(self) -> dict:
        stats = {k: v / max(self._samples, 1) for k, v in self._sums.items()}
        self._sums, self._samples = {}, 0
        return stats


class ProcessEnvs(CombinedEnvs):
    """HandCubeEnvs split over local worker processes (multiprocessing, spawn)."""

    def __init__(self, config, num_envs=None, seed=0, workers=2, threads=1, randomize=True):
        num_envs = int(num_envs or config.envs)
        sizes = split(num_envs, workers)
        context = multiprocessing.get_context('spawn')
        self._connections, self._processes = [], []
        for k, size in enumerate(sizes):
            parent, child = context.Pipe()
            process = context.Process(
                target=_serve, args=(child, (config, size, seed * 1000 + k, threads,
                                             randomize)), daemon=True)
            process.start()
            self._connections.append(parent)
            self._processes.append(process)
        self._setup(config, sizes, [self._receive(c) for c in self._connections])

    def _receive(self, connection):
        try:
            status, payload = connection.recv()
        except EOFError:
            self.close()
            raise RuntimeError('an environment worker process died (see its output above)') \
                from None
        if status != 'ok':
            self.close()
            raise RuntimeError(f'environment worker failed:\n{payload}')
        return payload

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.float32)
        for connection, lo, hi in zip(self._connections, self.bounds[:-1], self.bounds[1:]):
            connection.send(('step', actions[lo:hi]))
        return self._gather([self._receive(c) for c in self._connections])

    def close(self):
        for connection in self._connections:
            try:
                connection.send(('close', None))
                connection.recv()
            except (OSError, EOFError):
                pass
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        self._connections, self._processes = [], []
