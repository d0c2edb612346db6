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
`inhand evaluate`: N episodes of a policy through the real graph, judged as Dactyl was.

    inhand evaluate --policy policies/inhand_yaw.yaml --episodes 20 --task yaw
    inhand evaluate --policy policies/inhand_yaw.yaml --episodes 20 pose_source:=vision

Starts the bringup graph on the simulator (sim_bridge, policy_runner, safety_limiter,
goal_manager; cube_pose with pose_source:=vision) at real_time_factor 1 unless told otherwise,
with the goal_manager in the task's goal mode, seeded, stopping after N episodes. Prints and
writes (evaluation.json in --out): consecutive successes (median, mean, histogram), drops and
other end reasons, time per goal, the limiter's interventions (commands clamped by position,
tracking and motion limits, diagnostics samples in hold) and the policy's step timing. Then,
unless --no-trainer-env, the same policy, task, seeds and goal timeout in the trainer's
environment without ROS (training.evaluate_sim), side by side: the difference is what the
graph costs.
"""
import argparse
import json
import os
import pathlib
import signal
import sys
import time

from inhand import dds_env, graph
from inhand.launcher import Launcher
import yaml


def _read_records(path) -> list:
    from policy_node.goals import read_jsonl
    try:
        return read_jsonl(path)
    except FileNotFoundError:
        return []


def limiter_interventions(values: dict, joint_values: dict, modes) -> dict:
    """Sum the limiter's per-joint clamp counters; count diagnostics samples per mode."""
    sums = {'clamp_position': 0, 'clamp_tracking': 0, 'clamp_motion': 0}
    for key, value in joint_values.items():
        kind = key.rsplit('.', 1)[-1]
        if kind in sums:
            sums[kind] += int(float(value))
    modes = dict(modes)
    joint_samples = int(modes.pop('joints_samples', 0))
    wear = int(modes.pop('wear_throttled', 0))
    total = sum(modes.values())
    return {'commands_forwarded': int(values.get('commands_forwarded', 0) or 0),
            'dropped_refused': int(values.get('dropped_refused', 0) or 0),
            **sums, 'diagnostics_samples': total,
            'samples_in_hold': int(modes.get('hold', 0)),
            'samples_in_ramp': int(modes.get('ramp', 0)),
            'joint_samples': joint_samples, 'samples_wear_throttled': wear}


def _parse_settings(settings, parser) -> dict:
    """--set NODE:PARAM=VALUE items -> {node: {param: value}} (values read as YAML)."""
    chosen = {}
    for item in settings:
        node, sep, rest = item.partition(':')
        name, eq, value = rest.partition('=')
        if not (sep and eq and node and name):
            parser.error(f'--set {item!r}: expected NODE:PARAM=VALUE')
        chosen.setdefault(node, {})[name] = yaml.safe_load(value)
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='inhand evaluate', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('arguments', nargs='*', help='bringup arguments name:=value')
    parser.add_argument('--policy', default='',
                        help="policy spec (default: policy:= if given, else the hand's default "
                             '(policies/inhand_yaw.yaml for the Shadow hand))')
    parser.add_argument('--episodes', type=int, default=20)
    parser.add_argument('--task', default='yaw', choices=('yaw', 'reorient'))
    parser.add_argument('--seed', type=int, default=0,
                        help='seeds the goals and the cube start orientations')
    parser.add_argument('--goal-timeout', type=float, default=20.0,
                        help='s a goal may take before the episode ends')
    parser.add_argument('--out', default='', help='folder for evaluation.json and the '
                        'episode records (default results/evaluate-<time>)')
    parser.add_argument('--max-wall', type=float, default=0.0,
                        help='stop after this many wall seconds whatever was reached (0: '
                             'episodes x (goal timeout x 50 + 10) s)')
    parser.add_argument('--no-trainer-env', action='store_true',
                        help='skip the side-by-side run in the trainer env')
    parser.add_argument('--set', action='append', default=[], metavar='NODE:PARAM=VALUE',
                        help='a node parameter for this evaluation, e.g. '
                        'safety_limiter:wear.enabled=false (repeatable; YAML values)')
    options = parser.parse_args(argv)
    if options.episodes < 1:
        parser.error('--episodes must be >= 1')
    out = pathlib.Path(options.out or f'results/evaluate-{time.strftime("%Y%m%d-%H%M%S")}')
    out.mkdir(parents=True, exist_ok=True)
    results_file = (out / 'episodes.jsonl').resolve()
    if results_file.exists():
        results_file.unlink()
    overrides = graph.parse_cli_arguments(options.arguments)
    overrides.setdefault('sim', 'true')
    if overrides['sim'] != 'true':
        parser.error('inhand evaluate runs on the simulator (sim:=true)')
    if options.policy:
        overrides['policy'] = options.policy
    overrides.update(goal_mode=options.task, results_file=str(results_file))
    if overrides.get('pose_source') != 'vision':
        # Nothing looks at the images: do not spend the 2 cores on rendering them.
        overrides.setdefault('cameras', 'false')
    args = graph.resolve_arguments(overrides)
    policy = args['policy']            # --policy, else policy:=, else the hand's default
    dds_env.isolate(keep_existing=False, profile=None)
    os.environ.update(graph.node_environment(args, os.environ))
    chosen = _parse_settings(options.set, parser)
    specs = []
    for spec in graph.bringup(args):
        extra = dict(chosen.get(spec.name, {}))
        if spec.name == 'goal_manager':
            extra.update(max_episodes=options.episodes, seed=options.seed,
                         goal_timeout=options.goal_timeout)
        elif spec.name == 'sim_bridge':
            extra.update(seed=options.seed)
        specs.append(graph.with_parameters(spec, **extra))
    from inhand.demo import Monitor
    # Only the diagnostics: every watched topic (clock, joint states and poses at 100-200 Hz)
    # would cost this process a quarter of a core, taken from the graph it measures.
    monitor = Monitor(watched=())
    launcher = Launcher(specs, env=dict(os.environ))
    started = time.monotonic()
    launcher.start()
    signal.signal(signal.SIGINT, launcher.request_stop)
    signal.signal(signal.SIGTERM, launcher.request_stop)
    limit = options.max_wall or options.episodes * (options.goal_timeout * 50 + 10)
    print(f'[evaluate] {options.episodes} episodes of {policy} ({options.task}) through '
          f'the graph; records in {results_file}', flush=True)
    records, reported = [], 0
    while time.monotonic() - started < limit:
        if launcher.check():
            break
        time.sleep(1.0)
        records = _read_records(results_file)
        if len(records) > reported:
            for record in records[reported:]:
                print(f'[evaluate] episode {record["episode"]}: {record["successes"]} '
                      f'successes, ended by {record["reason"]}', flush=True)
            reported = len(records)
        if len(records) >= options.episodes:
            break
    elapsed = time.monotonic() - started
    with monitor.lock:
        limiter = limiter_interventions(monitor.latest_values.get('safety_limiter: state', {}),
                                        monitor.latest_values.get('safety_limiter: joints', {}),
                                        monitor.limiter_modes)
        runner = dict(monitor.latest_values.get('policy_runner', {}))
    monitor.close()
    code = launcher.shutdown()
    records = _read_records(results_file)[:options.episodes]
    from training.evaluate_sim import print_summary, summarize
    result = {'policy': policy, 'task': options.task, 'episodes': len(records),
              'episodes_asked': options.episodes, 'seed': options.seed,
              'goal_timeout_s': options.goal_timeout, 'graph_arguments': args,
              'wall_s': round(elapsed, 1), **(summarize(records) if records else {}),
              'limiter': limiter,
              'policy_step_ms_median': runner.get('step_ms_median'),
              'policy_step_ms_max': runner.get('step_ms_max'),
              'policy_input_age_ms_median': runner.get('input_age_ms_median'),
              'records': records}
    print('\n=== inhand evaluate ===')
    if records:
        print_summary(result, 'graph')
    else:
        print('graph: no episode finished')
    print(f'  limiter: {limiter["commands_forwarded"]} commands forwarded; clamped by position '
          f'{limiter["clamp_position"]}, tracking {limiter["clamp_tracking"]}, motion '
          f'{limiter["clamp_motion"]} (joint-commands); hold in {limiter["samples_in_hold"]} '
          f'of {limiter["diagnostics_samples"]} diagnostics samples; wear budget throttling '
          f'joints in {limiter["samples_wear_throttled"]} of {limiter["joint_samples"]}')
    print(f'  policy step: {runner.get("step_ms_median", "?")} ms median, '
          f'{runner.get("step_ms_max", "?")} ms max; input age '
          f'{runner.get("input_age_ms_median", "?")} ms median')
    if not options.no_trainer_env:
        from training.evaluate_sim import evaluate
        sim = evaluate(policy, options.task, options.episodes, options.seed,
                       goal_timeout_s=options.goal_timeout,
                       limiter_settings=chosen.get('safety_limiter'),
                       limiter_params=args['limiter_params'], hand=args['hand'],
                       scene=args['scene'])
        print_summary(sim, 'trainer env (no ROS)')
        result['trainer_env'] = {k: v for k, v in sim.items() if k != 'records'}
        result['trainer_env_records'] = sim['records']
    (out / 'evaluation.json').write_text(json.dumps(result, indent=1) + '\n')
    print(f'written: {out / "evaluation.json"}')
    from inhand.report import write_report
    report = write_report([out], out / 'report.html', title=f'evaluation of {policy}')
    print(f'report: {report}')
    if code:
        print(f'the graph did not stop cleanly (launcher exit {code})')
    return 0 if records and not code else 1


if __name__ == '__main__':
    sys.exit(main())
