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
Evaluate a deployed policy (spec + ONNX) in the trainer's environment, without ROS.

    python -m training.evaluate_sim --policy policies/inhand_yaw.yaml --task yaw --episodes 20

The same episodes as `inhand evaluate` judges through the graph (goal mode of the task,
success within 0.4 rad, 50 consecutive successes at most, a drop or a goal not reached in
goal_timeout ends the episode), with the same ONNX model run by policy_node's OnnxPolicy and
the same limiter as deployed (config/safety_limiter.yaml, wear budget on, whatever the training
config overrode; --training-limiter takes the training config's limiter instead), but with no
middleware between the parts: the difference between the two is what the graph costs. Each of
the N environments plays exactly one episode (taking the first N episodes to end would favour
short ones). Needs no torch.
"""
import argparse
import json
import sys

import numpy as np

DEFAULT_GOAL_TIMEOUT = 20.0


def load_policy(spec_name, model_name='', hand='shadow'):
    """(spec, model path, OnnxPolicy) as policy_runner resolves them for this hand."""
    from hand_control.hand_profile import load_hand_profile
    from policy_node.onnx_policy import OnnxPolicy
    from policy_node.runner import PolicyStepper
    from policy_node.spec import resolve_spec_and_model
    spec, model_path = resolve_spec_and_model(spec_name, model_name)
    stepper = PolicyStepper(spec, load_hand_profile(hand))
    policy = OnnxPolicy(model_path, spec.model, stepper.builder.size,
                        stepper.actions.output_size, 1)
    return spec, model_path, policy


def evaluate(policy_spec, task='yaw', episodes=20, seed=0, model='', randomize=False,
             goal_timeout_s=DEFAULT_GOAL_TIMEOUT, threads=2, training_limiter=False,
             limiter_settings=None, limiter_params=None, apply_limiter=True,
             hand=None, scene=None) -> dict:
    """
    Play `episodes` episodes (one per environment); return the summary and the records.

    limiter_settings: safety_limiter parameters to change, dotted as on the command line
    ({'wear.enabled': False}), on top of the deployed (or with training_limiter the
    training config's) limiter. limiter_params: the limiter's parameter file as deployed
    (the graph's limiter_params), in place of the training config's. apply_limiter False:
    the hand gets the policy's targets, the limiter only counts what it would have changed.
    hand: another hand profile than the training config's (its scene and limiter file come
    with it, as with `hand:=` on the graph); scene: the graph's scene, in place of either.
    """
    import dataclasses
    from training.config import load_train_config
    from training.env import HandCubeEnvs
    config = load_train_config(f'training/{task}.yaml')
    if hand:
        from training.config import for_hand
        # An empty spec (the model's embedded one) is checked against the hand by load_policy.
        config = for_hand(config, hand, spec_name=policy_spec, check_spec=bool(policy_spec))
    if scene:
        config = dataclasses.replace(config, scene=scene)
    overrides = dict(config.limiter_overrides) if training_limiter else {}
    for name, value in (limiter_settings or {}).items():
        section, _, key = name.rpartition('.')
        if section:
            overrides[section] = dict(overrides.get(section, {}), **{key: value})
        else:
            overrides[key] = value
    config = dataclasses.replace(config, limiter_overrides=overrides)
    if limiter_params:
        config = dataclasses.replace(config, limiter=limiter_params)
    spec, model_path, policy = load_policy(policy_spec, model, config.hand)
    envs = HandCubeEnvs(config, num_envs=episodes, seed=seed, threads=threads,
                        randomize=randomize, goal_timeout_s=goal_timeout_s, spec=spec,
                        apply_limiter=apply_limiter)
    records = [None] * episodes
    counts = [None] * episodes
    try:
        while any(r is None for r in records):
            actions = np.stack([policy.run(o) for o in envs.obs])
            before = [len(envs.finished)]
            _, _, _, done, _ = envs.step(actions)
            finished = envs.finished[before[0]:]
            for i, record in zip(np.flatnonzero(done), finished):
                if records[i] is None:
                    records[i] = record
                    # What the limiter did in this episode only (the env plays on until all
                    # have ended; its next episodes are not counted).
                    counts[i] = envs.limiter_stats([i])
        limiter = {'applied': apply_limiter,
                   **{key: sum(c[key] for c in counts) for key in counts[0] if key != 'applied'}}
    finally:
        envs.close()
    return {'policy': str(spec.source), 'model': str(model_path), 'task': task,
            'episodes': episodes, 'seed': seed, 'randomize': randomize,
            'goal_timeout_s': goal_timeout_s,
            'limiter': dict(config.limiter_overrides) or 'as deployed',
            'limiter_stats': limiter,
            **summarize(records), 'records': records}


def summarize(records) -> dict:
    """Consecutive successes (median, mean, histogram), end reasons, time per goal."""
    successes = np.array([r['successes'] for r in records], dtype=float)
    reasons = {}
    for r in records:
        reasons[r['reason']] = reasons.get(r['reason'], 0) + 1
    times = [t for r in records for t in r.get('time_to_goal_s', [])]
    edges = [0, 1, 2, 5, 10, 20, 30, 40, 50, 51]
    histogram = np.histogram(successes, bins=edges)[0].tolist()
    return {'successes_median': float(np.median(successes)) if len(successes) else None,
            'successes_mean': float(successes.mean()) if len(successes) else None,
            'successes_histogram': {f'{lo}-{hi - 1}': n for lo, hi, n in
                                    zip(edges[:-1], edges[1:], histogram)},
            'end_reasons': reasons,
            'time_per_goal_s_median': float(np.median(times)) if times else None}


def print_summary(result, label) -> None:
    print(f'{label}: {result["episodes"]} episodes, task {result["task"]}: consecutive '
          f'successes median {result["successes_median"]:g}, mean '
          f'{result["successes_mean"]:.2f}; ends {result["end_reasons"]}; time per goal '
          f'median {result["time_per_goal_s_median"] or float("nan"):.2f} s')
    print('  histogram ' + ', '.join(f'{k}: {v}' for k, v in
                                     result['successes_histogram'].items()))
    stats = result.get('limiter_stats')
    if stats:
        per = 1000.0 / max(1, stats['commands'])
        print(f'  limiter {"applied" if stats["applied"] else "off (counts: would have)"}: '
              f'{stats["commands"]} commands; joint targets changed per 1000 commands: '
              f'position {stats["clamped_position"] * per:.1f}, tracking '
              f'{stats["clamped_tracking"] * per:.1f}, motion {stats["clamped_motion"] * per:.1f}'
              '; wear-throttled joints per command '
              f'{stats["wear_throttled_joint_steps"] * per / 1000:.2f}')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m training.evaluate_sim', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--policy', required=True, help='policy spec (or "" with --model)')
    parser.add_argument('--model', default='', help="ONNX model (default: the spec's)")
    parser.add_argument('--task', default='yaw', choices=('yaw', 'reorient'))
    parser.add_argument('--episodes', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--goal-timeout', type=float, default=DEFAULT_GOAL_TIMEOUT)
    parser.add_argument('--randomize', action='store_true',
                        help='with the training randomization, noise and delays')
    parser.add_argument('--training-limiter', action='store_true',
                        help="the training config's limiter overrides (e.g. wear budget off) "
                             'instead of the limiter as deployed')
    parser.add_argument('--hand', default=None,
                        help="hand profile (default: the task's training config's)")
    parser.add_argument('--limiter-off', action='store_true',
                        help="the hand gets the policy's targets; the limiter only counts what "
                             'it would have changed')
    parser.add_argument('--out', default='', help='write the result as JSON here')
    args = parser.parse_args(argv)
    from inhand.config import ConfigError
    try:
        result = evaluate(args.policy, args.task, args.episodes, args.seed, args.model,
                          args.randomize, args.goal_timeout,
                          training_limiter=args.training_limiter,
                          apply_limiter=not args.limiter_off, hand=args.hand)
    except ConfigError as exc:           # spec, hand or config errors, named
        parser.error(str(exc))
    print_summary(result, 'trainer env (no ROS)')
    if args.out:
        with open(args.out, 'w') as stream:
            json.dump(result, stream, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
