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

"""The soak's accounting of skipped policy cycles: waiting on a lost cube is not a miss."""
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_soak():
    spec = importlib.util.spec_from_file_location('soak', ROOT / 'bench' / 'soak.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows_with_skips(skips_by_sample, interval=10.0):
    """Return samples every interval seconds of sim time, with these new skips in each."""
    rows, total = [], 0
    for k, new in enumerate(skips_by_sample):
        total += new
        rows.append({'wall_s': k * interval, 'sim_s': k * interval, 'policy_skipped': total})
    return rows


def test_only_the_cycles_before_a_lost_cube_episode_end_are_attributed_to_it():
    soak = load_soak()
    # 16 skips in (40, 50] s before a pose_lost end at 49.6 s: all attributed. 5 skips in
    # (80, 90] s with no episode ending near: missed. 40 skips in (110, 120] s before a drop at
    # 115 s: at most 20 Hz x 1.1 s + 1 = 23 of them attributed, the rest missed.
    rows = rows_with_skips([0, 0, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 40, 0])
    episodes = [{'reason': 'pose_lost', 'start_time': 0.0, 'duration_s': 49.6},
                {'reason': 'max_successes', 'start_time': 50.0, 'duration_s': 35.0},
                {'reason': 'drop', 'start_time': 86.0, 'duration_s': 29.0},
                {'reason': 'stopped', 'start_time': 116.0, 'duration_s': None}]
    assert soak.lost_cube_skips(rows, episodes, 0, 20.0) == 16 + 23
    # Counting starts at the warm-up sample: the first burst is then not counted at all.
    assert soak.lost_cube_skips(rows, episodes, 6, 20.0) == 23
    # Without lost-cube episodes nothing is excused.
    assert soak.lost_cube_skips(rows, episodes[1:2], 0, 20.0) == 0
