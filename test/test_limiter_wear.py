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

"""Wear accounting: reversals, sliding window, throttle, and the odometer on disk."""
import copy
import json

from hand_control.wear import Odometer, ODOMETER_FORMAT, WearConfig, WearMonitor
from inhand.config import ConfigError
import numpy as np
import pytest

NAMES = ('a', 'b')


def monitor(**kwargs):
    config = {'window': 1.0, 'buckets': 10, 'max_mean_speed': 1.0, 'max_reversal_rate': 5.0,
              'max_pressed_fraction': 0.5, 'throttle_scale': 0.2, 'release_duty': 0.8,
              'reversal_deadband': 0.01}
    config.update(kwargs)
    return WearMonitor(NAMES, WearConfig(**config))


def play(wear, t0, dt, xs, pressed=(False, False)):
    """Record a trajectory of (a, b) targets sampled every dt from t0; return the end time."""
    prev = np.array(xs[0], dtype=float)
    wear.restart_stroke(prev)
    t = t0
    for x in xs[1:]:
        t += dt
        x = np.array(x, dtype=float)
        wear.record(t, x, x - prev, dt, np.array(pressed))
        prev = x
    wear.sync()
    return t


def test_reversals_need_to_come_back_past_the_deadband():
    wear = monitor()
    jitter = [(0.5 + 0.004 * (-1) ** k, 0.0) for k in range(20)]    # noise: no reversal
    strokes = [(0.0, x) for x in (0.0, 0.1, 0.2, 0.1, 0.0, 0.1, 0.105, 0.1, 0.2)]
    play(wear, 0.0, 0.01, jitter)
    play(wear, 0.2, 0.01, strokes)
    # b: up, down (1), up (2); the 0.005 dip at 0.105 -> 0.1 is within the deadband.
    np.testing.assert_array_equal(wear.odometer.reversals, [0, 2])
    np.testing.assert_allclose(wear.odometer.travel, [19 * 0.008, 0.6 + 0.005 * 2])


def test_window_slides_and_throttle_starts_and_releases_with_hysteresis():
    wear = monitor()
    # Joint a moves at 2 rad/s for 1 s: mean speed twice the budget.
    xs = [(0.02 * k, 0.0) for k in range(101)]
    t = play(wear, 0.0, 0.01, xs)
    wear.advance(t + 0.1)
    assert wear.throttled.tolist() == [True, False]
    np.testing.assert_array_equal(wear.scale, [0.2, 1.0])
    assert wear.duty()[0] > 1.0
    assert [level for level, _ in wear.events] == ['warn']
    # Still: the window slides past the motion. Below duty 1 but above release_duty the
    # throttle holds (hysteresis); below release_duty it lifts.
    wear.advance(t + 0.55)
    assert 0.8 < wear.duty()[0] < 1.0 and wear.throttled[0]
    wear.advance(t + 0.75)
    assert wear.duty()[0] < 0.8 and not wear.throttled[0]
    wear.advance(t + 1.2)
    assert wear.duty()[0] == 0.0
    assert wear.events[-1][0] == 'info'


def test_pressed_time_counts_toward_the_duty():
    wear = monitor()
    t = play(wear, 0.0, 0.01, [(0.3, 0.0)] * 101, pressed=(False, True))
    wear.advance(t + 0.05)
    assert 0.85 <= wear.window_figures(t + 0.05)['pressed_fraction'][1] <= 1.0
    assert wear.throttled.tolist() == [False, True]
    assert wear.odometer.pressed[1] == pytest.approx(1.0)


def test_clock_reset_forgets_the_window_but_not_the_odometer():
    wear = monitor()
    t = play(wear, 0.0, 0.01, [(0.02 * k, 0.0) for k in range(101)])
    wear.advance(t + 0.1)
    travel = wear.odometer.travel.copy()
    wear.reset_window()
    wear.advance(0.05)
    assert (wear.window_figures(0.05)['mean_speed'] == 0).all()
    np.testing.assert_array_equal(wear.odometer.travel, travel)


def test_a_continued_window_keeps_usage_and_throttle_across_a_clock_restart():
    # The trainer restarts the simulator clock each episode; the node's window lives on.
    old = monitor()
    t = play(old, 0.0, 0.01, [(0.02 * k, 0.0) for k in range(101)])
    old.advance(t + 0.1)
    assert old.throttled[0]
    new = monitor()
    new.continue_window(old)
    # t = 0 of the new clock is one bucket after the old window's newest.
    later = copy.deepcopy(old)
    later.advance(t + 0.1 + later.width)
    speed = later.window_figures(0.0)['mean_speed']
    new.advance(0.0)
    assert new.throttled.tolist() == [True, False]
    np.testing.assert_allclose(new.window_figures(0.0)['mean_speed'], speed)
    assert speed[0] > 1.0
    new.advance(0.3)                  # the window slides on as the old one would have
    assert 0.0 < new.window_figures(0.3)['mean_speed'][0] < speed[0]
    new.advance(old.config.window + 0.5)
    assert new.duty()[0] == 0.0 and not new.throttled[0]
    with pytest.raises(ValueError, match='share joints'):
        WearMonitor(('a',), old.config).continue_window(old)


def test_disabled_accounting_records_nothing():
    wear = monitor(enabled=False)
    play(wear, 0.0, 0.01, [(0.02 * k, 0.0) for k in range(50)])
    assert wear.odometer.travel.sum() == 0 and not wear.throttled.any()


@pytest.mark.parametrize('kwargs, key', [
    ({'window': 0.0}, 'wear.window'), ({'buckets': 1}, 'wear.buckets'),
    ({'throttle_scale': 1.5}, 'wear.throttle_scale'),
    ({'release_duty': 0.0}, 'wear.release_duty'),
    ({'max_mean_speed': float('inf')}, 'wear.max_mean_speed'),
])
def test_config_errors_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        WearConfig(**kwargs)


def test_odometer_round_trip_keeps_other_joints(tmp_path):
    path = tmp_path / 'state' / 'odometer.json'
    odometer, warnings = Odometer.load(NAMES, path, hand='test')
    assert warnings == [] and odometer.travel.tolist() == [0.0, 0.0]
    odometer.travel[:] = [1.5, 2.5]
    odometer.reversals[:] = [3, 4]
    odometer.pressed[:] = [0.5, 0.0]
    odometer.other_joints['old_joint'] = {'travel_rad': 9.0, 'reversals': 1.0,
                                          'pressed_s': 0.0}
    odometer.save(now='2026-01-01T00:00:00')
    assert sorted(p.name for p in path.parent.iterdir()) == ['odometer.json']   # no temp left
    data = json.loads(path.read_text())
    assert data['format'] == ODOMETER_FORMAT and data['created'] == '2026-01-01T00:00:00'
    again, warnings = Odometer.load(NAMES, path)
    assert warnings == []
    assert again.travel.tolist() == [1.5, 2.5] and again.reversals.tolist() == [3, 4]
    assert again.other_joints == {'old_joint': {'travel_rad': 9.0, 'reversals': 1.0,
                                                'pressed_s': 0.0}}
    again.save(now='2026-02-01T00:00:00')
    data = json.loads(path.read_text())
    assert data['created'] == '2026-01-01T00:00:00' and data['updated'] == '2026-02-01T00:00:00'
    assert 'old_joint' in data['joints']


@pytest.mark.parametrize('content', [
    '{not json', json.dumps({'format': 'other'}), json.dumps([1, 2]),
    json.dumps({'format': ODOMETER_FORMAT, 'joints': {'a': {'travel_rad': -1.0}}}),
    json.dumps({'format': ODOMETER_FORMAT, 'joints': {'a': {'travel_rad': 'x'}}}),
])
def test_corrupt_odometer_is_kept_aside_and_a_new_one_started(tmp_path, content):
    path = tmp_path / 'odometer.json'
    path.write_text(content)
    odometer, warnings = Odometer.load(NAMES, path)
    assert len(warnings) == 1 and 'unreadable' in warnings[0]
    assert odometer.travel.tolist() == [0.0, 0.0]
    aside = [p for p in tmp_path.iterdir() if p.name.startswith('odometer.json.corrupt-')]
    assert len(aside) == 1 and aside[0].read_text() == content
    assert not path.exists()
    odometer.save()
    assert json.loads(path.read_text())['format'] == ODOMETER_FORMAT
