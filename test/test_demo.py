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

"""The demo's vision summary: /cube/pose matched to /cube/pose_gt by stamp."""
import collections

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
