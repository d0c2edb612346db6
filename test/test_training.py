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

"""Training: config, environment, smoke run with resume, export and runner parity."""
import json
import math
import pathlib
import subprocess
import sys

from inhand.config import ConfigError
from inhand.paths import config_path
import numpy as np
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def small_config(tmp_path, name='yaw', **ppo) -> pathlib.Path:
    """Write a shipped config with a tiny batch and network (same physics, limiter, spec)."""
    data = yaml.safe_load(config_path(f'training/{name}.yaml').read_text())
    data['envs'] = 3
    data['episode_seconds'] = 1.0
    data['ppo'].update(steps_per_env=6, actor_hidden=[32, 32], critic_hidden=[32, 32],
                       minibatches=2, epochs=2, **ppo)
    path = tmp_path / f'{name}_small.yaml'
    path.write_text(yaml.safe_dump(data))
    return path


def test_config_refuses_an_unknown_key_and_names_the_nearest(tmp_path):
    from training.config import load_train_config
    data = yaml.safe_load(config_path('training/yaw.yaml').read_text())
    data['reward']['rotation_progres'] = 1.0
    path = tmp_path / 'typo.yaml'
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r'rotation_progres.*did you mean rotation_progress'):
        load_train_config(path)


def test_config_refuses_a_bad_task_and_delay(tmp_path):
    from training.config import load_train_config
    data = yaml.safe_load(config_path('training/yaw.yaml').read_text())
    path = tmp_path / 'bad.yaml'
    path.write_text(yaml.safe_dump(dict(data, task='spin')))
    with pytest.raises(ConfigError, match='task'):
        load_train_config(path)
    data['randomization']['action_delay_steps'] = [1, 0]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match='action_delay_steps'):
        load_train_config(path)


def test_both_shipped_configs_load():
    from training.config import load_train_config
    assert load_train_config('training/yaw.yaml').task == 'yaw'
    assert load_train_config('training/reorient.yaml').task == 'reorient'
    wear = load_train_config('training/yaw_wear.yaml')
    assert wear.limiter_overrides == {} and wear.reward.wear_duty < 0


def test_a_network_may_start_a_run_of_a_spec_with_the_same_interface(tmp_path):
    from training.train import same_interface
    # reorient starts from the yaw network: same joints, observation and action.
    assert same_interface('policies/inhand_yaw.yaml', 'policies/inhand_reorient.yaml')
    assert not same_interface('policies/inhand_yaw.yaml', 'policies/inhand_demo.yaml')
    # One changed action setting is enough to refuse.
    text = config_path('policies/inhand_reorient.yaml').read_text()
    changed = tmp_path / 'changed.yaml'
    changed.write_text(text.replace('scale: 0.1 ', 'scale: 0.2 '))
    assert 'scale: 0.2 ' in changed.read_text()
    assert not same_interface('policies/inhand_yaw.yaml', str(changed))


def test_limiter_from_the_parameter_file_matches_the_node_defaults():
    from hand_control.hand_profile import load_hand_profile
    from hand_control.limiter_params import build_limiter
    profile = load_hand_profile('shadow')
    limiter = build_limiter(profile)
    params = yaml.safe_load(config_path('safety_limiter.yaml').read_text())
    params = params['safety_limiter']['ros__parameters']
    assert limiter.config.max_tracking_error == params['max_tracking_error']
    assert limiter.config.wear.max_reversal_rate == params['wear']['max_reversal_rate']
    wrist = list(profile.actuated_joint_names).index('rh_WRJ1')
    assert limiter.max_velocity[wrist] == 1.0     # the profile's wrist override


def test_environment_steps_and_rewards_turning_toward_the_goal():
    from training.config import load_train_config
    from training.env import batch_rotation_angle, HandCubeEnvs
    envs = HandCubeEnvs(load_train_config('training/yaw.yaml'), num_envs=2, seed=3,
                        threads=2)
    try:
        assert envs.obs.shape == (2, envs.obs_size) and np.all(np.isfinite(envs.obs))
        assert envs.privileged.shape == (2, envs.obs_size + 14)
        # yaw goals are a quarter turn about the vertical from the start orientation
        _, quat = envs.sims[0].cube_pose()
        assert batch_rotation_angle(quat[None], envs.goal[:1])[0] == pytest.approx(
            math.pi / 2, abs=0.05)
        # teleporting the cube onto its goal scores the rotation progress and a success
        position, _ = envs.sims[0].cube_pose()
        before = envs.distance[0]
        envs.sims[0].set_cube_pose(position, envs.goal[0])
        _, _, reward, done, _ = envs.step(np.zeros((2, envs.num_actions)))
        assert envs.successes[0] == 1 and not done[0]
        w = envs.config.reward
        assert reward[0] > w.success + w.rotation_progress * (before - 0.4)
        assert reward[1] < reward[0]
        with pytest.raises(ValueError, match='non-finite'):
            envs.step(np.full((2, envs.num_actions), np.nan))
    finally:
        envs.close()


def test_the_trainer_follows_the_limiter_output_when_the_spec_says_commanded():
    import dataclasses
    from hand_control.limiter import Output
    from policy_node.spec import load_spec
    from training.config import load_train_config
    from training.env import HandCubeEnvs
    shipped = load_spec('policies/inhand_yaw.yaml')
    results = {}
    for previous_target in ('commanded', 'policy'):
        spec = dataclasses.replace(shipped, action=dataclasses.replace(
            shipped.action, previous_target=previous_target))
        envs = HandCubeEnvs(load_train_config('training/yaw_wear.yaml'), num_envs=1, seed=5,
                            randomize=False, spec=spec)
        try:
            outputs, raws = [], []
            for _ in range(6):
                limiter = envs.limiters[0]
                original = limiter.on_command

                def record(*args, original=original):
                    raws.append(np.array(args[3]))
                    out = original(*args)
                    if isinstance(out, Output):
                        outputs.append(out.positions[envs._action_in_output].copy())
                    return out
                limiter.on_command = record
                # Full-scale actions: the limiter's speed limit clamps them.
                envs.step(np.ones((1, envs.num_actions)))
                limiter.on_command = original
            results[previous_target] = (outputs[-1], raws[-1], envs.steppers[0].last_target)
        finally:
            envs.close()
    sent, raw, previous = results['commanded']
    assert np.abs(sent - raw).max() > 0.01            # the limiter did clamp
    np.testing.assert_allclose(previous, sent)        # and the stepper builds on its output
    sent, raw, previous = results['policy']
    assert np.abs(sent - raw).max() > 0.01
    np.testing.assert_allclose(previous, raw)         # its own target, as trained


def test_limiter_off_sends_the_policy_targets_and_counts_what_it_would_have_changed():
    from training.config import load_train_config
    from training.env import HandCubeEnvs
    seen = {}
    for applied in (True, False):
        envs = HandCubeEnvs(load_train_config('training/yaw_wear.yaml'), num_envs=1, seed=5,
                            randomize=False, apply_limiter=applied)
        try:
            for _ in range(14):
                # Full-scale actions: beyond the speed limit, so the limiter clamps them (and
                # counts it once its 0.5 s ramp-in is over).
                envs.step(np.ones((1, envs.num_actions)))
            stepper, sim = envs.steppers[0], envs.sims[0]
            sent = sim.targets()[[sim.actuated_joint_names.index(n)
                                  for n in stepper.joint_names]]
            seen[applied] = (np.abs(sent - stepper.last_target).max(), envs.limiter_stats())
        finally:
            envs.close()
    gap, stats = seen[True]
    assert gap > 0.01 and stats['applied'] and stats['commands'] == 14
    assert stats['clamped_motion'] > 0
    gap, stats = seen[False]
    assert gap < 1e-9 and not stats['applied']          # the hand got the policy's targets
    assert stats['commands'] == 14 and stats['clamped_motion'] > 0  # what it would have cut


def test_a_dropped_cube_ends_the_episode_with_the_drop_penalty():
    from training.config import load_train_config
    from training.env import HandCubeEnvs
    envs = HandCubeEnvs(load_train_config('training/yaw.yaml'), num_envs=1, seed=0,
                        threads=1)
    try:
        envs.sims[0].set_cube_pose([0.0, 0.0, 0.05], [1.0, 0.0, 0.0, 0.0])
        _, _, reward, done, timeout = envs.step(np.zeros((1, envs.num_actions)))
        assert done[0] and not timeout[0]
        assert reward[0] <= envs.config.reward.drop
        assert envs.pop_finished() == [{'successes': 0, 'reason': 'drop', 'steps': 1,
                                        'time_to_goal_s': []}]
        position, _ = envs.sims[0].cube_pose()
        assert position[2] > 0.2          # reset: back in the palm
    finally:
        envs.close()


def _filled_wear_envs(wear_duty):
    """One environment with the deployed limiter and a wear window over budget on joint 0."""
    import dataclasses
    from training.config import load_train_config
    from training.env import HandCubeEnvs
    config = load_train_config('training/yaw_wear.yaml')
    config = dataclasses.replace(config, reward=dataclasses.replace(config.reward,
                                                                    wear_duty=wear_duty))
    envs = HandCubeEnvs(config, num_envs=1, seed=4, threads=1, randomize=False)
    wear = envs.limiters[0].wear
    n = len(wear.joint_names)
    travel = np.zeros(n)
    travel[0] = 1.5 * wear.config.window * wear.config.max_mean_speed      # duty 1.5
    wear.record(-0.01, travel, travel, 0.0, np.zeros(n, dtype=bool))   # just before t = 0
    wear.advance(0.0)
    return envs


def test_wear_duty_is_penalised_and_the_window_outlives_the_episode():
    plain, taxed = _filled_wear_envs(0.0), _filled_wear_envs(-2.0)
    try:
        duty = taxed.limiters[0].wear.duty()
        assert duty[0] == pytest.approx(1.5) and taxed.limiters[0].wear.throttled[0]
        zero = np.zeros((1, plain.num_actions))
        r_plain, r_taxed = plain.step(zero)[2][0], taxed.step(zero)[2][0]
        # The critic sees each limited joint's duty and throttle (the policy does not).
        joints = len(taxed.limiters[0].wear.joint_names)
        assert taxed.privileged_size == taxed.obs_size + 14 + 2 * joints
        wear_inputs = taxed.privileged[0, taxed.obs_size + 14:]
        assert wear_inputs[0] == pytest.approx(1.5) and wear_inputs[joints] == 1.0
        free = taxed.config.reward.wear_duty_free
        assert r_taxed - r_plain == pytest.approx(-2.0 * (1.5 - free), rel=1e-4)
        assert taxed.pop_stats()['wear_throttled_joints'] == 1.0
        # A drop ends the episode; the next one's limiter continues the wear window.
        taxed.sims[0].set_cube_pose([0.0, 0.0, 0.05], [1.0, 0.0, 0.0, 0.0])
        assert taxed.step(zero)[3][0]
        wear = taxed.limiters[0].wear
        assert wear.throttled[0] and wear.duty()[0] > 1.0
    finally:
        plain.close()
        taxed.close()


def test_worker_processes_give_the_same_interface():
    from training.config import load_train_config
    from training.workers import ProcessEnvs, split
    assert split(5, 2) == [3, 2]
    with pytest.raises(ValueError):
        split(1, 2)
    envs = ProcessEnvs(load_train_config('training/yaw.yaml'), num_envs=3, workers=2)
    try:
        obs, privileged, reward, done, timeout = envs.step(np.zeros((3, envs.num_actions)))
        assert obs.shape == (3, envs.obs_size) and privileged.shape[0] == 3
        assert reward.shape == done.shape == timeout.shape == (3,)
    finally:
        envs.close()


@pytest.mark.slow
def test_ray_actors_collect_exactly_what_local_workers_collect():
    from training.config import load_train_config
    from training.ray_envs import RayEnvs
    from training.workers import ProcessEnvs
    config = load_train_config('training/yaw.yaml')
    local = ProcessEnvs(config, num_envs=4, seed=2, workers=2)
    try:
        remote = RayEnvs(config, num_envs=4, seed=2, address='local', actors=2)
        try:
            # A private instance binds to loopback only (no Ray traffic leaves 127.0.0.1).
            sockets = subprocess.run(['ss', '-tnlp'], capture_output=True, text=True).stdout
            ray_lines = [line for line in sockets.splitlines()
                         if 'raylet' in line or 'gcs_server' in line]
            assert ray_lines and all('127.0.0.1' in line for line in ray_lines), sockets
            np.testing.assert_array_equal(local.obs, remote.obs)
            rng = np.random.default_rng(0)
            for _ in range(3):
                actions = rng.normal(0, 1, (4, local.num_actions)).astype(np.float32)
                a, b = local.step(actions), remote.step(actions)
                for x, y in zip(a, b):
                    np.testing.assert_array_equal(x, y)
        finally:
            remote.close()
    finally:
        local.close()


def _train(*args, timeout=600):
    return subprocess.run([sys.executable, '-m', 'training.train', '--quiet', '--threads', '1',
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_training_smoke_run_writes_checkpoint_curves_and_resumes(tmp_path):
    run = tmp_path / 'run'
    # Collected by two Ray actors on a private loopback Ray instance, then resumed below by
    # two local worker processes: both collection paths train the same run.
    first = _train('--config', str(small_config(tmp_path)), '--run', str(run),
                   '--iterations', '2', '--save-every', '1', '--ray', 'local',
                   '--ray-actors', '2')
    assert first.returncode == 0, first.stderr[-3000:]
    rows = (run / 'progress.csv').read_text().splitlines()
    assert len(rows) == 3
    header = rows[0].split(',')
    for row in rows[1:]:
        values = dict(zip(header, row.split(',')))
        assert math.isfinite(float(values['value_loss']))
        assert math.isfinite(float(values['surrogate_loss']))
    assert (run / 'checkpoints' / 'latest.pt').exists()
    assert (run / 'curves.png').stat().st_size > 10000
    report = (run / 'report.html').read_text()              # with the curves embedded
    assert 'Training run' in report and 'alt="learning curves" src="data:image/png' in report
    second = _train('--run', str(run), '--iterations', '1', '--workers', '2')
    assert second.returncode == 0, second.stderr[-3000:]
    record = json.loads((run / 'record.json').read_text())
    assert [(i['start_iteration'], i['end_iteration']) for i in record['invocations']] \
        == [(0, 1), (2, 2)]
    assert record['invocations'][1]['env_steps_total'] == 3 * 3 * 6
    assert len((run / 'progress.csv').read_text().splitlines()) == 4


def test_the_trainer_trains_the_leap_hand_with_playgrounds_spec(tmp_path):
    # --hand with a Shadow spec is refused by name; the LEAP config trains, and its run keeps
    # the hand for a resume.
    wrong = _train('--config', str(small_config(tmp_path)), '--run', str(tmp_path / 'bad'),
                   '--iterations', '1', '--hand', 'leap')
    assert wrong.returncode == 2 and "written for hand 'shadow_right'" in wrong.stderr
    run = tmp_path / 'leap'
    first = _train('--config', str(small_config(tmp_path, 'leap_reorient')), '--run', str(run),
                   '--iterations', '1', '--hand', 'leap')
    assert first.returncode == 0, first.stderr[-3000:]
    record = json.loads((run / 'record.json').read_text())
    assert (record['hand'], record['scene']) == ('leap', 'hands/leap.scene.yaml')
    assert record['spec'] == 'policies/playground_leap_reorient.yaml'
    row = dict(zip(*[line.split(',') for line in
                     (run / 'progress.csv').read_text().splitlines()[:2]]))
    assert math.isfinite(float(row['value_loss']))


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """Train a tiny policy for one iteration and export it to ONNX."""
    tmp_path = tmp_path_factory.mktemp('export')
    run = tmp_path / 'run'
    result = _train('--config', str(small_config(tmp_path)), '--run', str(run),
                    '--iterations', '1')
    assert result.returncode == 0, result.stderr[-3000:]
    from training.export import export
    model = tmp_path / 'policy.onnx'
    difference = export(run / 'checkpoints' / 'latest.pt', model)
    return run / 'checkpoints' / 'latest.pt', model, difference


def test_widened_critic_computes_what_it_did():
    import torch
    from training.train import _widen_critic_inputs
    rng = torch.Generator().manual_seed(0)
    weight = torch.randn(4, 3, generator=rng)
    saved = {'critic_state_dict': {'mlp.0.weight': weight.clone(),
                                   'obs_normalizer._mean': torch.randn(1, 3, generator=rng),
                                   'obs_normalizer._var': torch.ones(1, 3) * 4.0,
                                   'obs_normalizer._std': torch.ones(1, 3) * 2.0},
             'optimizer_state_dict': {'state': {0: {'exp_avg': torch.ones(4, 3),
                                                    'step': torch.tensor(5.0)},
                                                1: {'exp_avg': torch.ones(4)}}}}
    critic = saved['critic_state_dict']

    def first_layer(x):
        mean, std = critic['obs_normalizer._mean'], critic['obs_normalizer._std']
        return ((x - mean) / std) @ critic['mlp.0.weight'].T

    x = torch.randn(1, 3, generator=rng)
    before = first_layer(x)
    assert _widen_critic_inputs(saved, 5) == [3, 5]
    after = first_layer(torch.cat([x, torch.tensor([[7.0, -3.0]])], 1))
    torch.testing.assert_close(after, before)
    assert saved['optimizer_state_dict']['state'][0]['exp_avg'].shape == (4, 5)
    assert saved['optimizer_state_dict']['state'][1]['exp_avg'].shape == (4,)
    assert _widen_critic_inputs(saved, 5) is None
    with pytest.raises(ValueError, match='only 4'):
        _widen_critic_inputs(saved, 4)


@pytest.mark.slow
def test_a_run_can_start_from_another_runs_checkpoint(exported, tmp_path):
    checkpoint, _, _ = exported
    run = tmp_path / 'tuned'
    missing = _train('--config', str(small_config(tmp_path)), '--run', str(run),
                     '--init-from', str(tmp_path / 'nothing.pt'), '--iterations', '1')
    assert missing.returncode != 0 and 'nothing.pt: no such checkpoint' in missing.stderr
    # Fine-tuned with the wear budget on: the critic gains the wear inputs (20 joints x 2).
    result = _train('--config', str(small_config(tmp_path, 'yaw_wear')), '--run', str(run),
                    '--init-from', str(checkpoint), '--iterations', '1')
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((run / 'record.json').read_text())
    origin = record['initialized_from']
    assert origin['critic_inputs_widened'] == [116, 156]
    assert origin['iteration'] == 0 and origin['env_steps'] == 3 * 6
    assert len(origin['record']['invocations']) == 1        # the source run's own record
    assert record['invocations'][0]['start_iteration'] == 1
    assert record['invocations'][0]['env_steps_total'] == 2 * 3 * 6
    rows = (run / 'progress.csv').read_text().splitlines()
    assert [row.split(',')[0] for row in rows[1:]] == ['0', '1']     # history carried over


@pytest.mark.slow
def test_onnx_export_equals_the_torch_policy(exported):
    from training.export import deterministic_actions, load_actor
    checkpoint, model, difference = exported
    assert difference < 1e-5
    import onnxruntime
    actor, state = load_actor(checkpoint)
    session = onnxruntime.InferenceSession(str(model), providers=['CPUExecutionProvider'])
    obs = np.random.default_rng(1).normal(size=(1, state['obs_size'])).astype(np.float32) * 3
    np.testing.assert_allclose(session.run(None, {'obs': obs})[0],
                               deterministic_actions(actor, obs), atol=1e-5)


@pytest.mark.slow
def test_runner_observes_and_acts_as_the_trainer_on_the_same_states(exported):
    """Replay the trainer env's states through policy_runner's own runner: same obs, targets."""
    from hand_control.hand_profile import load_hand_profile
    from policy_node.runner import load_runner
    from training.config import load_train_config
    from training.env import HandCubeEnvs
    _, model, _ = exported
    runner = load_runner(load_hand_profile('shadow'), '', str(model))
    envs = HandCubeEnvs(load_train_config('training/yaw.yaml'), num_envs=1, seed=5,
                        threads=1, randomize=False)
    try:
        stepper = envs.steppers[0]
        runner.start(stepper.last_target)
        for _ in range(15):
            sim = envs.sims[0]
            q, qd, _ = sim.joint_state()
            position, quat = sim.cube_pose()
            target = runner.step(q, qd, position, quat, envs.goal[0])
            np.testing.assert_allclose(runner.last_observation, envs.obs[0], atol=1e-6)
            action = runner.policy.run(envs.obs[0])
            envs.step(action[None])
            np.testing.assert_allclose(stepper.last_target, target, atol=1e-9)
    finally:
        envs.close()


@pytest.mark.slow
def test_trainer_env_evaluation_plays_one_episode_per_environment(exported):
    from training.evaluate_sim import evaluate
    _, model, _ = exported
    result = evaluate('', 'yaw', episodes=2, seed=0, model=str(model), goal_timeout_s=1.0)
    assert result['episodes'] == 2 and len(result['records']) == 2
    assert all(r['reason'] in ('goal_timeout', 'drop', 'max_successes')
               for r in result['records'])
    assert sum(result['successes_histogram'].values()) == 2
    assert result['limiter'] == 'as deployed'      # not the training config's wear override
    off = evaluate('', 'yaw', episodes=1, model=str(model), goal_timeout_s=0.5,
                   limiter_settings={'wear.enabled': False})
    assert off['limiter'] == {'wear': {'enabled': False}}
    with pytest.raises(ConfigError, match='enabeld'):      # the settings reach the limiter
        evaluate('', 'yaw', episodes=1, model=str(model), goal_timeout_s=0.5,
                 limiter_settings={'wear.enabeld': False})


def test_training_extras_stay_out_of_the_runtime():
    code = ('import sys\n'
            'import hand_control.safety_limiter_node, policy_node.policy_runner_node\n'
            'import policy_node.goal_manager_node, sim_bridge.node, vision_pose.cube_pose_node\n'
            'import inhand.cli, inhand.evaluate, training.env, training.evaluate_sim\n'
            'print(sorted(m for m in ("torch", "ray", "rsl_rl", "tensordict") '
            'if m in sys.modules))\n')
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
