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
Pace simulated time against the wall clock.

The simulator advances in small chunks; after each, RealTimePacer says how long to sleep so
that sim time runs at `real_time_factor` times wall time (0 = as fast as possible). When the
sim falls behind it does not try to catch up in a burst (that would starve the executor):
it re-anchors after `max_lag` seconds of lag. It also measures the achieved factor over a
sliding window for diagnostics.
"""
from collections import deque
import math


class RealTimePacer:
    """Compute sleeps that keep sim time at real_time_factor x wall time."""

    def __init__(self, real_time_factor: float, max_lag: float = 0.5, window: float = 2.0):
        if real_time_factor < 0:
            raise ValueError(f'real_time_factor must be >= 0, got {real_time_factor}')
        self.real_time_factor = real_time_factor
        self.max_lag = max_lag
        self.window = window
        self._anchor = None          # (wall, sim) pair the schedule counts from
        self._samples = deque()      # (wall, sim) for the achieved-factor estimate
        self._factor = float('nan')

    def sleep_needed(self, wall: float, sim: float) -> float:
        """Return seconds to sleep now (>= 0), given the current wall and sim times."""
        self._samples.append((wall, sim))
        while len(self._samples) > 2 and wall - self._samples[0][0] > self.window:
            self._samples.popleft()
        (w0, s0), (w1, s1) = self._samples[0], self._samples[-1]
        # A plain float: other threads (diagnostics) read it without touching the deque.
        self._factor = (s1 - s0) / (w1 - w0) if w1 > w0 else float('nan')
        if self.real_time_factor == 0:
            return 0.0
        if self._anchor is None:
            self._anchor = (wall, sim)
            return 0.0
        target_wall = self._anchor[0] + (sim - self._anchor[1]) / self.real_time_factor
        ahead = target_wall - wall
        if ahead < -self.max_lag:
            # Too slow to keep up: accept the lag instead of bursting to catch up.
            self._anchor = (wall, sim)
            return 0.0
        return max(0.0, ahead)

    def postpone(self, seconds: float):
        """
        Move the schedule later by seconds of wall time in which the world stood still.

        The simulator waited for its cameras: it must not burst to make that time up.
        """
        if self._anchor is not None and seconds > 0:
            self._anchor = (self._anchor[0] + seconds, self._anchor[1])

    def reset(self):
        """Forget the schedule (after a pause or a reset)."""
        self._anchor = None
        self._samples.clear()
        self._factor = float('nan')

    def achieved_factor(self) -> float:
        """Return sim seconds per wall second over the recent window (nan until known)."""
        return self._factor


class Schedule:
    """Fire at a fixed rate in simulated time (a rate <= 0 never fires)."""

    def __init__(self, rate_hz: float):
        self.period = 1.0 / rate_hz if rate_hz > 0 else math.inf
        self.next = 0.0 if rate_hz > 0 else math.inf

    def fires_by(self, at: float) -> bool:
        """Return whether the next tick is due at or before this time (changes nothing)."""
        return at + 1e-9 >= self.next

    def due(self, now: float) -> bool:
        if not self.fires_by(now):
            return False
        # Skip missed ticks instead of firing a burst after a stall.
        self.next = max(self.next + self.period, now + 0.5 * self.period)
        return True

    def restart(self, now: float):
        if math.isfinite(self.period):
            self.next = now
