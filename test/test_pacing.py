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

"""Real-time pacing of the simulator (pure logic, driven with synthetic clocks)."""
import pytest
from sim_bridge.pacing import RealTimePacer, Schedule


def run(pacer, chunk, compute, steps):
    """Simulate a loop: each chunk costs `compute` wall seconds plus the pacer's sleep."""
    wall = sim = 0.0
    for _ in range(steps):
        sim += chunk
        wall += compute
        wall += pacer.sleep_needed(wall, sim)
    return wall, sim


@pytest.mark.parametrize('factor', [0.5, 1.0, 2.0])
def test_holds_the_requested_factor_when_fast_enough(factor):
    wall, sim = run(RealTimePacer(factor), chunk=0.005, compute=0.001, steps=2000)
    assert sim / wall == pytest.approx(factor, rel=0.01)


def test_zero_means_as_fast_as_possible():
    pacer = RealTimePacer(0.0)
    wall, sim = run(pacer, chunk=0.005, compute=0.001, steps=100)
    assert wall == pytest.approx(0.1)
    assert pacer.achieved_factor() == pytest.approx(5.0, rel=0.05)


def test_slow_sim_does_not_burst_to_catch_up():
    pacer = RealTimePacer(1.0, max_lag=0.1)
    wall, sim = run(pacer, chunk=0.005, compute=0.01, steps=200)    # can only do 0.5x
    assert sim / wall == pytest.approx(0.5, rel=0.01)
    # After a stall the schedule re-anchors: no zero-sleep burst follows.
    assert pacer.sleep_needed(wall + 1.0, sim + 0.005) == 0.0
    assert pacer.sleep_needed(wall + 1.0, sim + 0.010) == pytest.approx(0.005)


def test_negative_factor_rejected():
    with pytest.raises(ValueError, match='real_time_factor'):
        RealTimePacer(-1.0)


def test_schedule_fires_at_rate_and_skips_missed_ticks():
    schedule = Schedule(100.0)
    fired = [t for t in (i * 0.001 for i in range(1000)) if schedule.due(t)]
    assert len(fired) == pytest.approx(100, abs=1)
    schedule = Schedule(100.0)
    assert schedule.due(0.0) and schedule.due(1.0)      # a stall: one tick, not a burst
    assert not schedule.due(1.001)
    assert not Schedule(0.0).due(5.0)


def test_time_the_world_stood_still_is_not_made_up_in_a_burst():
    pacer = RealTimePacer(1.0)
    wall, sim = run(pacer, chunk=0.005, compute=0.001, steps=100)
    # The simulator waited 0.2 s (wall) for its cameras without stepping: postponed, the
    # next chunk is paced as usual instead of running 0.2 s of sim time without sleeping.
    pacer.postpone(0.2)
    assert pacer.sleep_needed(wall + 0.2 + 0.001, sim + 0.005) == pytest.approx(0.004)
    plain = RealTimePacer(1.0)
    wall, sim = run(plain, chunk=0.005, compute=0.001, steps=100)
    assert plain.sleep_needed(wall + 0.2 + 0.001, sim + 0.005) == 0.0
