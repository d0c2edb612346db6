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

"""The demo's summaries (vision, consecutive successes) and inhand evaluate on the graph."""
import collections
import json
import os
import subprocess
import sys

from inhand import demo
from inhand.transforms import axis_angle_to_quat
import numpy as np
import pytest


def monitor_with(truth, estimates, values=None):
    """Return a demo Monitor without ROS: only the recorded poses and diagnostics values."""
    monitor = object.__new__(demo.Monitor)
    monitor.truth = collections.OrderedDict(truth)
    monitor.estimates = collections.deque(estimates)
    monitor.estimator_values = values or {}
    return monitor


def test_estimates_are_compared_with_the_nearest_ground_truth_in_time():
    identity = np.array([1.0, 0.0, 0.0, 0.0])
    # Ground truth at 100 Hz: the cube moves 1 mm per sample along x.
    truth = [(k / 100.0, (np.array([k * 1e-3, 0.0, 0.0]), identity)) for k in range(100)]
    estimates = [
        (0.2, np.array([0.020, 0.0, 0.002]), identity),                        # 2 mm off
        (0.4033, np.array([0.040, 0.0, 0.0]), axis_angle_to_quat([0, 0, 1], 0.1)),  # 0.1 rad
        (2.0, np.array([0.0, 0.0, 0.0]), identity),        # no ground truth within 5 ms
    ]
    position, rotation = monitor_with(truth, estimates).vision_errors()
    assert position == pytest.approx([0.002, 0.0])
    assert rotation == pytest.approx([0.0, 0.1])
    assert monitor_with([], estimates).vision_errors()[0].size == 0


def test_the_summary_names_errors_and_the_node_latency(capsys):
    identity = np.array([1.0, 0.0, 0.0, 0.0])
    monitor = monitor_with([(1.0, (np.zeros(3), identity))],
                           [(1.0, np.array([0.0, 0.003, 0.0]), identity)],
                           {'published': '12', 'lost': '1', 'latency_ms_median': '4.2',
                            'latency_ms_p90': '6.0', 'latency_ms_max': '9.9',
                            'callback_cpu_ms_median': '3.1'})
    demo._summarize_vision(monitor)
    text = capsys.readouterr().out
    assert '1 of 1 poses matched' in text and 'position 3.00 mm median' in text
    assert '4.2 ms median, 6.0 ms p90, 9.9 ms max' in text and '12 poses published' in text
    assert 'CPU in its callback 3.1 ms median' in text


def test_the_summary_counts_successes_of_this_run_only(tmp_path, capsys):
    results = tmp_path / 'episodes.jsonl'
    results.write_text(json.dumps({'successes': 7, 'reason': 'drop'}) + '\n')
    args = {'results_file': str(results), 'goal_mode': 'yaw', 'policy': 'p.yaml'}
    before = demo._results_lines(args)
    with results.open('a') as stream:
        stream.write(json.dumps({'successes': 3, 'reason': 'goal_timeout'}) + '\n')
    monitor = monitor_with([], [])
    monitor.latest_values = {'goal_manager': {'successes': '5', 'episode': '2'}}
    demo._summarize_episodes(monitor, args, before)
    text = capsys.readouterr().out
    assert 'consecutive successes (yaw goals, policy p.yaml): 3 (goal_timeout), 5 so far ' \
        '(episode 2 running); best 5' in text
    assert '7' not in text.split('best')[0]     # an earlier run's episode is not counted


@pytest.mark.ros
@pytest.mark.slow
def test_evaluate_runs_one_short_episode_through_the_graph(tmp_path, fresh_domain):
    out = tmp_path / 'evaluation'
    env = dict(os.environ, MUJOCO_GL=os.environ.get('MUJOCO_GL', 'egl'))
    result = subprocess.run(
        [sys.executable, '-m', 'inhand', 'evaluate', '--policy', 'policies/inhand_yaw.yaml',
         '--episodes', '1', '--goal-timeout', '4', '--out', str(out), 'cameras:=false'],
        env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / 'evaluation.json').read_text())
    assert report['episodes'] == 1 and report['task'] == 'yaw'
    assert report['records'][0]['goal_mode'] == 'yaw'
    assert report['limiter']['commands_forwarded'] > 10
    assert float(report['policy_step_ms_median']) > 0
    assert report['trainer_env']['episodes'] == 1
    assert 'consecutive successes median' in result.stdout
    assert 'trainer env (no ROS)' in result.stdout
    report = (out / 'report.html').read_text()
    assert 'consecutive successes through the graph' in report and 'data:image/png' in report


def test_the_demo_ends_by_printing_the_path_of_its_report(tmp_path, fresh_domain):
    out = tmp_path / 'demo'
    env = dict(os.environ, MUJOCO_GL=os.environ.get('MUJOCO_GL', 'egl'))
    result = subprocess.run([sys.executable, '-m', 'inhand', 'demo', '--duration', '12',
                             '--out', str(out)],
                            env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[-1] == f'report: {(out / "report.html").resolve()}', lines[-5:]
    page = (out / 'report.html').read_text()
    for heading in ('Configuration', 'Episodes', 'Joints against their limits',
                    'Latency per hop', 'Cameras'):
        assert f'<h2>{heading}' in page, heading


def test_limiter_interventions_count_holds_clamps_and_wear_throttling():
    import collections
    from inhand.evaluate import limiter_interventions
    modes = collections.Counter({'active': 3, 'hold': 1, 'joints_samples': 4,
                                 'wear_throttled': 2})
    result = limiter_interventions({'commands_forwarded': '5'},
                                   {'rh_FFJ3.clamp_position': '2', 'rh_MFJ3.clamp_position': '3',
                                    'rh_FFJ3.clamp_motion': '7', 'rh_FFJ3.duty': '0.9'}, modes)
    assert result['commands_forwarded'] == 5
    assert result['clamp_position'] == 5 and result['clamp_motion'] == 7
    assert result['diagnostics_samples'] == 4 and result['samples_in_hold'] == 1
    assert result['samples_wear_throttled'] == 2 and result['joint_samples'] == 4
