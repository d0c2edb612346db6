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
Approximate time synchronisation of N camera streams, tolerant of a camera that goes silent.

Frames are grouped by stamp: a set is complete when every *live* camera has a frame within
`slop` seconds of the newest frame. The set is handed out by the add() call whose frame
completes it, so the estimate can be computed right there (no timer, no added latency).

A camera is live while its newest stamp is within `silence_timeout` of the newest stamp of
any camera (or, before it ever delivered, while less than `silence_timeout` has passed since
the first frame of any camera). A silent camera is left out of the sets and reported in
`missing`, so the others keep producing (degraded) estimates; it rejoins with its next frame.
Time is the stamps' time, so this works the same under /clock (sim time) and wall time.
"""
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class SyncedSet:
    """Frames of one instant: stamp (newest frame's), frames {name: payload}, missing names."""

    stamp: float
    frames: dict
    stamps: dict
    missing: tuple


class FrameSync:
    """Group frames of several named streams by stamp."""

    def __init__(self, names, slop: float, silence_timeout: float, queue_size: int = 4,
                 restart_jump: float = 1.0):
        names = list(names)
        if not names or len(set(names)) != len(names):
            raise ValueError(f'need distinct stream names, got {names}')
        if not slop >= 0 or not silence_timeout > 0 or queue_size < 1:
            raise ValueError('need slop >= 0, silence_timeout > 0, queue_size >= 1')
        self.names = names
        self.slop = float(slop)
        self.silence_timeout = float(silence_timeout)
        self.queue_size = int(queue_size)
        self.restart_jump = float(restart_jump)
        self.dropped_late = 0
        self.restarts = 0
        self.reset()

    def reset(self):
        self._queues = {n: deque(maxlen=self.queue_size) for n in self.names}
        self._latest = dict.fromkeys(self.names)
        self._first_stamp = None
        self._last_emitted = None

    @property
    def now(self) -> float | None:
        stamps = [s for s in self._latest.values() if s is not None]
        return max(stamps) if stamps else None

    def live(self) -> list:
        """Return the names of the cameras not considered silent."""
        now = self.now
        if now is None:
            return []
        live = []
        for name in self.names:
            latest = self._latest[name]
            if latest is None:
                if now - self._first_stamp < self.silence_timeout:
                    live.append(name)
            elif latest >= now - self.silence_timeout:
                live.append(name)
        return live

    def silent(self) -> list:
        live = set(self.live())
        return [n for n in self.names if n not in live]

    def add(self, name: str, stamp: float, payload) -> SyncedSet | None:
        """Queue one frame; return the set it completes, if any."""
        if name not in self._queues:
            raise KeyError(f'unknown stream {name!r} (streams: {self.names})')
        latest = self._latest[name]
        if latest is not None and stamp < latest - self.restart_jump:
            # Time went backwards (a simulator reset or a replayed bag): start over.
            self.restarts += 1
            self.reset()
            latest = None
        if self._last_emitted is not None and stamp <= self._last_emitted - self.slop:
            self.dropped_late += 1
            return None
        if self._first_stamp is None:
            self._first_stamp = stamp
        self._latest[name] = stamp if latest is None else max(latest, stamp)
        self._queues[name].append((stamp, payload))
        return self._try_emit(name, stamp)

    def _try_emit(self, anchor_name, anchor_stamp):
        live = self.live()
        if anchor_name not in live:
            return None
        frames, stamps = {}, {}
        for name in live:
            best = None
            for stamp, payload in self._queues[name]:
                gap = abs(stamp - anchor_stamp)
                if gap <= self.slop and (best is None or gap < abs(best[0] - anchor_stamp)):
                    best = (stamp, payload)
            if best is None:
                return None
            stamps[name], frames[name] = best
        newest = max(stamps.values())
        for name, used in stamps.items():
            queue = self._queues[name]
            while queue and queue[0][0] <= used:
                queue.popleft()
        self._last_emitted = newest
        return SyncedSet(stamp=newest, frames=frames, stamps=stamps,
                         missing=tuple(n for n in self.names if n not in frames))
