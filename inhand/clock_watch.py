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
Notice a stalled /clock: a node on sim time must watch its clock on the wall clock.

With use_sim_time every timer and watchdog of a node runs on /clock. A frozen simulator stops
/clock, and with it every watchdog that would have said so: joint states never look stale, a
command never times out, diagnostics on the node clock stop. ClockWatch is the ROS-free rule
the nodes run from a steady (wall) timer: the clock is *stalled* once it has moved at least
once and then not moved for `timeout` wall seconds; it is *moving* again as soon as it
changes. Before its first change (the simulator still loading) it is *waiting*, not stalled.
A clock that jumps back (a simulator reset) has moved.
"""
import math

WAITING = 'waiting'
MOVING = 'moving'
STALLED = 'stalled'


class ClockWatch:
    """Track one clock's progress against the wall clock; see the module doc."""

    def __init__(self, timeout: float):
        if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f'clock_timeout must be a positive number of seconds, got '
                             f'{timeout!r}')
        self.timeout = float(timeout)
        self.state = WAITING
        self.stalls = 0
        self._clock = None          # the clock's value when last seen to change
        self._moved_at = None       # wall time of that change

    def update(self, clock_time: float, wall_time: float) -> str | None:
        """Take the clock's value now; return the new state when it changed, else None."""
        if self._clock is None:
            self._clock, self._moved_at = clock_time, wall_time
            return None
        if clock_time != self._clock:
            self._clock, self._moved_at = clock_time, wall_time
            if self.state != MOVING:
                self.state = MOVING
                return MOVING
            return None
        if self.state == MOVING and wall_time - self._moved_at > self.timeout:
            self.state = STALLED
            self.stalls += 1
            return STALLED
        return None

    def stalled_for(self, wall_time: float) -> float:
        """Return the wall seconds since the clock last moved (0 when it is not stalled)."""
        if self.state != STALLED:
            return 0.0
        return wall_time - self._moved_at

    def describe(self, wall_time: float) -> str:
        """Say what a stall looks like, for logs and diagnostics."""
        if self.state == STALLED:
            return (f'/clock has not moved for {self.stalled_for(wall_time):.1f} s of wall '
                    f'time (clock_timeout {self.timeout:g} s; stuck at {self._clock:.3f} s)')
        if self.state == WAITING:
            return 'waiting for /clock to start'
        return 'clock moving'
