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

"""The stalled-clock rule the sim-time nodes run on the wall clock (inhand.clock_watch)."""
from inhand.clock_watch import ClockWatch, MOVING, STALLED, WAITING
import pytest


def test_a_clock_that_never_started_is_waiting_not_stalled():
    watch = ClockWatch(1.0)
    for wall in range(10):
        assert watch.update(0.0, float(wall)) is None
    assert watch.state == WAITING and watch.stalls == 0
    assert 'waiting' in watch.describe(10.0)


def test_a_clock_that_stops_is_stalled_after_the_timeout_and_moving_when_it_moves():
    watch = ClockWatch(1.0)
    watch.update(0.0, 100.0)
    assert watch.update(0.5, 100.1) == MOVING
    changes = [watch.update(0.5 + min(k, 10) * 0.05, 100.1 + k * 0.05) for k in range(1, 40)]
    # Moving for 10 ticks, then frozen at 1.0: stalled once more than 1 s of wall time passed.
    stalled_at = 100.1 + (changes.index(STALLED) + 1) * 0.05
    assert stalled_at - (100.1 + 10 * 0.05) == pytest.approx(1.05, abs=1e-9)
    assert changes.count(STALLED) == 1 and watch.state == STALLED and watch.stalls == 1
    assert watch.stalled_for(102.0) == pytest.approx(1.4)
    text = watch.describe(102.0)
    assert '1.4 s' in text and 'stuck at 1.000 s' in text and 'clock_timeout 1 s' in text
    assert watch.update(1.02, 102.0) == MOVING
    assert watch.state == MOVING and watch.stalled_for(102.1) == 0.0


def test_a_clock_reset_counts_as_moving():
    watch = ClockWatch(0.5)
    watch.update(3.0, 0.0)
    watch.update(3.1, 0.1)
    assert watch.update(3.1, 0.7) == STALLED
    assert watch.update(0.0, 0.8) == MOVING      # the simulator restarted its clock


@pytest.mark.parametrize('timeout', [0.0, -1.0, float('nan'), float('inf'), '1'])
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout):
    with pytest.raises(ValueError, match='clock_timeout'):
        ClockWatch(timeout)
