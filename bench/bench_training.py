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
Benchmark training throughput: the trainer's environments against mujoco.rollout alone.

    .venv/bin/python bench/bench_training.py [--envs 64] [--steps 30]

Prints one table of env steps per second (one env step = one 20 Hz control period = 25
physics steps of 2 ms), all with the same batch, the same model and the same substeps:
  mujoco.rollout             physics alone: rollout.Rollout(nthread=2) over the batch, the
                             state carried from call to call (no observation, no policy)
  HandCubeEnvs, 1 process    the training environment in this process (physics on 2 threads,
                             observation builder, limiter, rewards, resets in Python)
  ProcessEnvs, 2 workers     the same environments split over 2 worker processes (what
                             `training.train --workers 2` uses)
  + PPO (collect + update)   one PPO iteration of the shipped config per measurement: what a
                             training run achieves end to end
Actions are random (std 1, as at the start of training), so fingers move and touch the cube.
Goal on the 2-core dev machine: the workers' env steps/s >= 70 % of mujoco.rollout's.
"""
import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault('MUJOCO_GL', 'egl')
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import mujoco  # noqa: E402
from mujoco import rollout  # noqa: E402
import numpy as np  # noqa: E402
from training.config import load_train_config  # noqa: E402
from training.env import HandCubeEnvs  # noqa: E402
from training.workers import ProcessEnvs  # noqa: E402

GOAL_FRACTION = 0.7


def bench_rollout(envs, steps) -> float:
    """Env steps/s of mujoco.rollout on the environments' own models and states."""
    models = [sim.model for sim in envs.sims]
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state = np.stack([_state(sim, spec) for sim in envs.sims])
    rng = np.random.default_rng(0)
    ctrl0 = np.stack([sim.data.ctrl.copy() for sim in envs.sims])
    with rollout.Rollout(nthread=2) as runner:
        datas = [mujoco.MjData(models[0]) for _ in range(2)]
        started, count = None, 0
        for k in range(steps + 2):
            if k == 2:
                started = time.perf_counter()
            control = ctrl0 + rng.normal(0, 0.05, ctrl0.shape)
            control = np.repeat(control[:, None, :], envs.substeps, axis=1)
            states, _ = runner.rollout(models, datas, state, control)
            state = states[:, -1, :].copy()
            count += len(models) if k >= 2 else 0
        return count / (time.perf_counter() - started)


def _state(sim, spec):
    out = np.empty(mujoco.mj_stateSize(sim.model, spec))
    mujoco.mj_getState(sim.model, sim.data, out, spec)
    return out


def bench_envs(envs, steps) -> float:
    rng = np.random.default_rng(1)
    for _ in range(2):
        envs.step(rng.normal(0, 1, (envs.num_envs, envs.num_actions)))
    started = time.perf_counter()
    for _ in range(steps):
        envs.step(rng.normal(0, 1, (envs.num_envs, envs.num_actions)))
    return steps * envs.num_envs / (time.perf_counter() - started)


def bench_ppo(config, envs_count, iterations) -> float:
    """End-to-end env steps/s of PPO iterations (collection on 2 workers + update)."""
    import torch
    from rsl_rl.algorithms import PPO
    from training.rsl_env import RslVecEnv
    from training.train import rsl_config
    torch.set_num_threads(1)
    batch = ProcessEnvs(config, num_envs=envs_count, workers=2)
    try:
        env = RslVecEnv(batch)
        cfg = rsl_config(config, None)
        alg = PPO.construct_algorithm(env.get_observations(), env, cfg, 'cpu')
        obs = env.get_observations()
        started = time.perf_counter()
        for _ in range(iterations):
            with torch.inference_mode():
                for _ in range(cfg['num_steps_per_env']):
                    obs, reward, dones, extras = env.step(alg.act(obs))
                    alg.process_env_step(obs, reward, dones, extras)
                alg.compute_returns(obs)
            alg.update()
        return iterations * cfg['num_steps_per_env'] * envs_count / (
            time.perf_counter() - started)
    finally:
        batch.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--envs', type=int, default=64)
    parser.add_argument('--steps', type=int, default=30, help='batch steps per measurement')
    parser.add_argument('--iterations', type=int, default=2, help='PPO iterations')
    args = parser.parse_args(argv)
    config = load_train_config('training/yaw.yaml')
    envs = HandCubeEnvs(config, num_envs=args.envs, seed=0, threads=2)
    try:
        # Warm the batch into contact-rich states first, so rollout steps what training steps.
        bench_envs(envs, 5)
        physics = bench_rollout(envs, args.steps)
        inline = bench_envs(envs, args.steps)
    finally:
        envs.close()
    workers = ProcessEnvs(config, num_envs=args.envs, seed=0, workers=2)
    try:
        split = bench_envs(workers, args.steps)
    finally:
        workers.close()
    ppo = bench_ppo(config, args.envs, args.iterations)
    print(f'training throughput, {args.envs} envs, {envs.substeps} physics steps of '
          f'{envs.sims[0].timestep * 1e3:g} ms per env step, load average '
          f'{os.getloadavg()[0]:.1f}')
    print(f'{"":28} {"env steps/s":>12} {"of rollout":>11}')
    for label, value in (('mujoco.rollout (physics)', physics),
                         ('HandCubeEnvs, 1 process', inline),
                         ('ProcessEnvs, 2 workers', split),
                         ('+ PPO (collect + update)', ppo)):
        print(f'{label:<28} {value:12.0f} {value / physics:10.0%}')
    ok = split >= GOAL_FRACTION * physics
    print(f'[{"ok" if ok else "MISSED"}] workers >= {GOAL_FRACTION:.0%} of mujoco.rollout: '
          f'{split / physics:.0%}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
