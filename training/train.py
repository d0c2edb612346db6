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
Train a controller with PPO (rsl_rl) on the batched hand environment; resumable.

    python -m training.train --config training/yaw.yaml --run runs/yaw --iterations 2000
    python -m training.train --run runs/yaw --iterations 500          # resume where it stopped

A run folder holds everything: checkpoints/ (model_<iteration>.pt and latest.pt, which a
second invocation resumes from), progress.csv and curves.png (return, successes, episode
length, env steps/s), record.json (every invocation that contributed: command, seed, commit,
machine, wall time, env steps) and, with --tensorboard, TensorBoard event files. SIGINT or
SIGTERM stops after the current iteration with a checkpoint written. Export the result with
python -m training.export.
"""
import argparse
import csv
import dataclasses
import datetime
import json
import os
import pathlib
import platform
import signal
import subprocess
import sys
import time

import numpy as np

PROGRESS_FIELDS = ('iteration', 'env_steps', 'wall_s', 'steps_per_s', 'reward_per_step',
                   'episodes', 'successes_median', 'successes_mean', 'drop_fraction',
                   'episode_steps', 'rotation_progress_rad', 'fingertip_distance_m',
                   'cube_offset_m', 'wear_duty_max', 'wear_throttled_joints', 'action_std',
                   'value_loss', 'surrogate_loss', 'learning_rate')


def _upgrade_progress(path, out=None) -> None:
    """Rewrite an older run's progress.csv (to out) with today's columns, new ones empty."""
    out = out or path
    if not path.exists():
        return
    with path.open(newline='') as stream:
        rows = list(csv.DictReader(stream))
        header = rows and list(rows[0].keys())
    if not rows or (tuple(header) == PROGRESS_FIELDS and out == path):
        return
    with out.open('w', newline='') as stream:
        table = csv.DictWriter(stream, fieldnames=PROGRESS_FIELDS)
        table.writeheader()
        for row in rows:
            table.writerow({k: row.get(k, '') for k in PROGRESS_FIELDS})


def _text(value) -> str:
    return '-' if value == '' else str(value)


def rsl_config(config, args) -> dict:
    """Return the rsl_rl runner/algorithm dictionary for a TrainConfig's ppo section."""
    ppo = config.ppo
    return {
        'num_steps_per_env': ppo.steps_per_env,
        'obs_groups': {'actor': ['policy'], 'critic': ['critic']},
        'actor': {'class_name': 'MLPModel', 'hidden_dims': [int(h) for h in ppo.actor_hidden],
                  'activation': 'elu', 'obs_normalization': True,
                  'distribution_cfg': {'class_name': 'GaussianDistribution',
                                       'init_std': ppo.init_noise_std, 'std_type': 'scalar'}},
        'critic': {'class_name': 'MLPModel', 'hidden_dims': [int(h) for h in ppo.critic_hidden],
                   'activation': 'elu', 'obs_normalization': True},
        'algorithm': {'class_name': 'PPO', 'num_learning_epochs': ppo.epochs,
                      'num_mini_batches': ppo.minibatches, 'clip_param': ppo.clip,
                      'gamma': ppo.gamma, 'lam': ppo.lam, 'value_loss_coef': 1.0,
                      'entropy_coef': ppo.entropy, 'learning_rate': ppo.learning_rate,
                      'max_grad_norm': 1.0, 'schedule': ppo.schedule,
                      'desired_kl': ppo.desired_kl},
        'multi_gpu': None,
    }


def git_commit() -> str:
    root = pathlib.Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                               cwd=root, capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return commit + ('+dirty' if dirty else '') if commit else 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def machine() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'
    return f'{os.cpu_count()} CPUs ({cpu}), {gpu}, {platform.platform()}'


def same_interface(spec_a: str, spec_b: str) -> bool:
    """
    Tell whether two policy specs feed and read a network the same way.

    True when hand, rate, joints, default pose, observation terms, normalization and action
    semantics are equal: a network trained for one (e.g. yaw) can start training for the other
    (reorient). Names, descriptions, model files, extras and where each line was written may
    differ.
    """
    from policy_node.spec import load_spec

    def interface(name):
        spec = load_spec(name)
        terms = tuple(dataclasses.replace(term, where='') for term in spec.observation)
        return (spec.hand, spec.rate_hz, spec.joints, spec.default_pose, terms,
                spec.normalization is None, dataclasses.replace(spec.action, where=''))
    return interface(spec_a) == interface(spec_b)


def _origin(source: pathlib.Path, saved: dict, run: pathlib.Path) -> dict:
    """Describe the checkpoint a run starts from; carry its run's progress into run."""
    origin = {'checkpoint': str(source), 'iteration': int(saved['iter']),
              'env_steps': int(saved.get('env_steps', 0)),
              'wall_s': round(float(saved.get('wall_s', 0.0)), 1),
              'config_file': saved.get('config_file', '')}
    source_run = source.parent.parent if source.parent.name == 'checkpoints' else source.parent
    source_record = source_run / 'record.json'
    if source_record.exists():
        origin['record'] = json.loads(source_record.read_text())
    source_progress = source_run / 'progress.csv'
    if source_progress.exists() and not (run / 'progress.csv').exists():
        run.mkdir(parents=True, exist_ok=True)
        _upgrade_progress(source_progress, run / 'progress.csv')
    return origin


def _widen_critic_inputs(saved: dict, size: int):
    """
    Give a checkpoint's critic `size` inputs where it had fewer; return [old, new] or None.

    For a config that adds privileged inputs (e.g. the wear state): the new inputs start with
    zero weights and a unit normalizer, so the critic computes what it did; the optimizer's
    moments are padded alike. None: nothing changed.
    """
    import torch
    critic = saved['critic_state_dict']
    weight = critic['mlp.0.weight']
    old = weight.shape[1]
    if old == size:
        return None
    if old > size:
        raise ValueError(f'the critic of the checkpoint has {old} inputs, this environment '
                         f'gives only {size}')
    extra = size - old
    critic['mlp.0.weight'] = torch.cat([weight, weight.new_zeros(weight.shape[0], extra)], 1)
    for key, fill in (('_mean', 0.0), ('_var', 1.0), ('_std', 1.0)):
        value = critic[f'obs_normalizer.{key}']
        critic[f'obs_normalizer.{key}'] = torch.cat(
            [value, value.new_full((*value.shape[:-1], extra), fill)], -1)
    for state in saved['optimizer_state_dict']['state'].values():
        for key, value in state.items():
            if torch.is_tensor(value) and tuple(value.shape) == tuple(weight.shape):
                state[key] = torch.cat([value, value.new_zeros(value.shape[0], extra)], 1)
    return [old, size]


class Stop:
    """SIGINT/SIGTERM: finish the iteration, write a checkpoint, exit."""

    def __init__(self):
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum, _frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(f'\n[train] {signal.Signals(signum).name}: stopping after this iteration',
              flush=True)


def make_batch(config, args):
    """Build the environments: here, in worker processes, or on a Ray cluster (--ray)."""
    if args.ray:
        from training.ray_envs import RayEnvs
        return RayEnvs(config, num_envs=args.envs, seed=args.seed, address=args.ray,
                       actors=args.ray_actors, threads=args.threads)
    if args.workers > 1:
        from training.workers import ProcessEnvs
        return ProcessEnvs(config, num_envs=args.envs, seed=args.seed, workers=args.workers,
                           threads=args.threads)
    from training.env import HandCubeEnvs
    return HandCubeEnvs(config, num_envs=args.envs, seed=args.seed, threads=args.threads)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m training.train', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=None,
                        help='training config (config/training/*.yaml or a path); a resumed '
                             'run keeps its own')
    parser.add_argument('--run', required=True, help='run folder (created, or resumed)')
    parser.add_argument('--iterations', type=int, required=True,
                        help='PPO iterations to add in this invocation')
    parser.add_argument('--init-from', default='',
                        help='a new run starts from this checkpoint (fine-tuning, e.g. with '
                             'another config): weights, normalizers and optimizer; its '
                             'iterations, env steps and wall time count into the totals, and '
                             "its run's record and progress are carried over")
    parser.add_argument('--envs', type=int, default=None, help='override config envs')
    parser.add_argument('--hand', default=None,
                        help="hand profile (name or path) instead of the config's; its scene "
                             'comes with it. The spec must be written for that hand. A resumed '
                             'run keeps its own')
    parser.add_argument('--seed', type=int, default=None, help='seed (default 0; a resumed '
                        'run continues with seed + iteration)')
    parser.add_argument('--workers', type=int, default=1,
                        help='environment worker processes (1: in this process)')
    parser.add_argument('--threads', type=int, default=2,
                        help='physics threads per process')
    parser.add_argument('--torch-threads', type=int, default=1)
    parser.add_argument('--device', default='auto', help='cpu, cuda or auto')
    parser.add_argument('--max-wall', type=float, default=0.0,
                        help='stop (with a checkpoint) after this many wall seconds; 0: none')
    parser.add_argument('--save-every', type=int, default=25, help='iterations per checkpoint')
    parser.add_argument('--keep', type=int, default=3, help='numbered checkpoints kept')
    parser.add_argument('--tensorboard', action='store_true', help='write TensorBoard events')
    parser.add_argument('--ray', default='', help='Ray address ("local" starts one here)')
    parser.add_argument('--ray-actors', type=int, default=2)
    parser.add_argument('--quiet', action='store_true', help='no progress line')
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error('--iterations must be >= 1')

    import torch
    from rsl_rl.algorithms import PPO
    from inhand.config import ConfigError
    from training.config import for_hand, load_train_config
    from training.curves import write_curves
    from training.rsl_env import RslVecEnv

    torch.set_num_threads(args.torch_threads)
    run = pathlib.Path(args.run)
    checkpoints = run / 'checkpoints'
    record_path = run / 'record.json'
    record = json.loads(record_path.read_text()) if record_path.exists() else None
    resuming = record is not None and (checkpoints / 'latest.pt').exists()
    if resuming:
        config_name = record['config_file']
        if args.config and pathlib.Path(args.config).name != pathlib.Path(config_name).name:
            print(f'[train] {run} was trained with {config_name}; --config {args.config} '
                  'ignored', file=sys.stderr)
        if args.envs is None:
            args.envs = record['envs']
        args.hand = record.get('hand', args.hand)
    else:
        config_name = args.config or 'training/yaw.yaml'
    config = load_train_config(config_name)
    if args.hand:
        try:
            config = for_hand(config, args.hand)
        except ConfigError as exc:
            parser.error(str(exc))
    saved = torch.load(checkpoints / 'latest.pt', weights_only=False) if resuming else None
    origin = None
    if args.init_from and resuming:
        print(f'[train] {run} resumes its own checkpoint; --init-from ignored', file=sys.stderr)
    elif args.init_from:
        source = pathlib.Path(args.init_from)
        if not source.is_file():
            parser.error(f'--init-from {source}: no such checkpoint')
        saved = torch.load(source, weights_only=False)
        if saved.get('spec') not in (None, config.spec) \
                and not same_interface(saved['spec'], config.spec):
            parser.error(f'--init-from {source}: trained for spec {saved.get("spec")}, whose '
                         f'joints, observation or action differ from those of {config.spec}')
        origin = _origin(source, saved, run)
    start_iteration = saved['iter'] + 1 if saved else 0
    base_seed = record['seed'] if resuming else (args.seed or 0)
    args.seed = base_seed + start_iteration
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if args.device == 'auto' \
        else args.device
    torch.manual_seed(args.seed)

    run.mkdir(parents=True, exist_ok=True)
    checkpoints.mkdir(exist_ok=True)
    batch = make_batch(config, args)
    env = RslVecEnv(batch)
    cfg = rsl_config(config, args)
    alg = PPO.construct_algorithm(env.get_observations(), env, cfg, device)
    if origin is not None:
        widened = _widen_critic_inputs(saved, batch.privileged_size)
        if widened:
            origin['critic_inputs_widened'] = widened
    if saved:
        alg.load(saved, None, True)
    if record is None:
        record = {'config_file': config.source, 'task': config.task, 'spec': config.spec,
                  'hand': config.hand, 'scene': config.scene,
                  'seed': base_seed, 'envs': batch.num_envs, 'invocations': []}
        if origin is not None:
            record['initialized_from'] = origin
    invocation = {'command': ' '.join([sys.executable.split('/')[-1], '-m', 'training.train']
                                      + (argv if argv is not None else sys.argv[1:])),
                  'commit': git_commit(), 'machine': machine(), 'device': device,
                  'started': datetime.datetime.now().isoformat(timespec='seconds'),
                  'start_iteration': start_iteration, 'seed': args.seed}
    record['invocations'].append(invocation)
    total_steps = saved.get('env_steps', 0) if saved else 0
    total_wall = saved.get('wall_s', 0.0) if saved else 0.0
    writer = None
    if args.tensorboard:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(log_dir=str(run / 'tensorboard'))
    progress_path = run / 'progress.csv'
    _upgrade_progress(progress_path)
    new_file = not progress_path.exists()
    progress = progress_path.open('a', newline='')
    table = csv.DictWriter(progress, fieldnames=PROGRESS_FIELDS)
    if new_file:
        table.writeheader()
    stop = Stop()
    steps_per_iteration = cfg['num_steps_per_env'] * batch.num_envs
    obs = env.get_observations().to(device)
    alg.train_mode()
    iteration = start_iteration - 1
    began = time.monotonic()

    def save(it):
        state = alg.save()
        state.update(iter=it, env_steps=total_steps, wall_s=total_wall,
                     config_file=config.source, task=config.task, spec=config.spec,
                     obs_size=batch.obs_size, num_actions=batch.num_actions,
                     action_joints=list(batch.action_names))
        torch.save(state, checkpoints / f'model_{it}.pt')
        torch.save(state, checkpoints / 'latest.pt')
        numbered = sorted(checkpoints.glob('model_*.pt'),
                          key=lambda p: int(p.stem.split('_')[1]))
        for old in numbered[:-args.keep]:
            old.unlink()
        invocation.update(end_iteration=it, env_steps_total=total_steps,
                          wall_s_total=round(total_wall, 1),
                          ended=datetime.datetime.now().isoformat(timespec='seconds'))
        record_path.write_text(json.dumps(record, indent=2) + '\n')
        write_curves(progress_path, run / 'curves.png', title=f'{config.task}: {run.name}')

    try:
        for iteration in range(start_iteration, start_iteration + args.iterations):
            t0 = time.monotonic()
            rewards = 0.0
            with torch.inference_mode():
                for _ in range(cfg['num_steps_per_env']):
                    actions = alg.act(obs)
                    obs, reward, dones, extras = env.step(actions.to('cpu'))
                    obs = obs.to(device)
                    rewards += float(reward.mean())
                    alg.process_env_step(obs, reward.to(device), dones.to(device), extras)
                alg.compute_returns(obs)
            collect = time.monotonic() - t0
            losses = alg.update()
            elapsed = time.monotonic() - t0
            total_steps += steps_per_iteration
            total_wall += elapsed
            finished = batch.pop_finished()
            stats = batch.pop_stats()
            successes = np.array([r['successes'] for r in finished]) if finished else None
            row = {
                'iteration': iteration, 'env_steps': total_steps,
                'wall_s': round(total_wall, 1),
                'steps_per_s': round(steps_per_iteration / collect, 1),
                'reward_per_step': round(rewards / cfg['num_steps_per_env'], 4),
                'episodes': len(finished),
                'successes_median': float(np.median(successes)) if finished else '',
                'successes_mean': round(float(successes.mean()), 3) if finished else '',
                'drop_fraction': round(sum(r['reason'] == 'drop' for r in finished)
                                       / len(finished), 3) if finished else '',
                'episode_steps': round(float(np.mean([r['steps'] for r in finished])), 1)
                if finished else '',
                **{key: round(value, 5) for key, value in stats.items()},
                'action_std': round(float(alg.get_policy().output_std.detach().mean()), 4),
                'value_loss': round(float(losses.get('value', np.nan)), 5),
                'surrogate_loss': round(float(losses.get('surrogate', np.nan)), 5),
                'learning_rate': alg.learning_rate,
            }
            table.writerow(row)
            progress.flush()
            if writer is not None:
                for key, value in row.items():
                    if key != 'iteration' and value != '':
                        writer.add_scalar(f'train/{key}', float(value), iteration)
            if not args.quiet:
                print(f'[train] it {iteration} | {total_steps / 1e6:.3f} M steps | '
                      f'{row["steps_per_s"]:.0f} steps/s | reward/step '
                      f'{row["reward_per_step"]:+.3f} | episodes {len(finished)} | '
                      f'successes mean {_text(row["successes_mean"])} | drops '
                      f'{_text(row["drop_fraction"])} | turn/step '
                      f'{row.get("rotation_progress_rad", 0.0):+.4f} rad | reach '
                      f'{row.get("fingertip_distance_m", 0.0):.3f} m | std '
                      f'{row["action_std"]:.3f} | {time.monotonic() - began:.0f} s',
                      flush=True)
            if (iteration + 1) % args.save_every == 0:
                save(iteration)
            if stop.requested or (args.max_wall and time.monotonic() - began > args.max_wall):
                break
    finally:
        if iteration >= start_iteration:
            save(iteration)
        progress.close()
        if writer is not None:
            writer.close()
        batch.close()
    print(f'[train] stopped at iteration {iteration}: {total_steps} env steps, '
          f'{total_wall / 3600:.2f} h of training in {run}', flush=True)
    from inhand.report import write_report
    report = write_report([run], run / 'report.html', title=f'training run {run.name}')
    print(f'[train] report: {report}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
