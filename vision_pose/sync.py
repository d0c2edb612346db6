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

A camera can also deliver every frame yet never match: its clock is offset (say 0.3 s) by more
than `slop` but less than `silence_timeout`. Waiting for it would stop every set. So a live
camera that has had no frame within `slop` of the sets the majority of the cameras could form,
for longer than `silence_timeout` of stamp time, is declared *out of sync*: the sets no longer
wait for it (it is in `missing`), and it rejoins as soon as one of its frames matches a set
again. A camera only a few ms late is unaffected: its frame completes the set when it comes.

Each camera's clock offset is measured from the delay between its stamps and the frames'
arrival, compared with the other cameras' (arrival is the caller's clock, e.g. time.monotonic();
without one, the newest stamp seen so far stands in for it).

An offset of about a whole number of frame periods is the one the stamps cannot show: the
camera's frames match sets, but each is an image of another instant (a driver that stamps on
receipt of the previous frame, say). So with three or more cameras in sync, a camera whose
delay differs by about a whole number of its frame periods (to within a quarter period, or the
slop if larger) from the delays of all the other cameras, which agree among themselves to
within the same tolerance, is declared
*misstamped*: left out of the sets like an out-of-sync camera (the sets do not wait for it, it
is in `missing`), until its delay agrees with the others' again over the recent frames. A
camera whose driver is that much slower than the others' is reported the same way: the node's
diagnostics name the offset, so the stamps can be checked.
"""
from collections import deque
from dataclasses import dataclass
import statistics


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
                 restart_jump: float = 1.0, offset_window: int = 15,
                 check_misstamped: bool = True):
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
        self.offset_window = int(offset_window)
        self.check_misstamped = bool(check_misstamped)
        self.dropped_late = 0
        self.restarts = 0
        self.reset()

    def reset(self):
        self._queues = {n: deque(maxlen=self.queue_size) for n in self.names}
        self._latest = dict.fromkeys(self.names)
        self._first_stamp = None
        self._last_emitted = None
        self._emitted = deque(maxlen=2 * self.queue_size)
        # Per camera: arrival minus stamp of its recent frames (for the clock offset) ...
        self._delays = {n: deque(maxlen=self.offset_window) for n in self.names}
        # ... the anchor stamp since which the majority's sets found no frame of it ...
        self._unmatched_since = dict.fromkeys(self.names)
        # ... the cameras the sets no longer wait for ...
        self._out_of_sync = set()
        # ... and those whose frames match but whose clock is off by whole frame periods.
        self._stamps = {n: deque(maxlen=self.offset_window) for n in self.names}
        self._misstamped = {}

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

    def clock_offsets(self) -> dict:
        """
        Return {name: seconds its stamps lead the other cameras' (negative: lag), or None}.

        Median over the recent frames, against the cameras in sync (all others if none is).
        """
        medians = {n: statistics.median(d) if d else None for n, d in self._delays.items()}
        offsets = {}
        excluded = self._out_of_sync | set(self._misstamped)
        for name in self.names:
            others = [n for n in self.names if n != name and medians[n] is not None]
            reference = [n for n in others if n not in excluded] or others
            if medians[name] is None or not reference:
                offsets[name] = None
            else:
                pooled = [delay for n in reference for delay in self._delays[n]]
                offsets[name] = statistics.median(pooled) - medians[name]
        return offsets

    def out_of_sync(self) -> dict:
        """Return {name: measured clock offset} of the live cameras the sets leave out."""
        live = set(self.live())
        offsets = self.clock_offsets()
        return {n: offsets[n] for n in self.names if n in self._out_of_sync and n in live}

    def will_use(self, name: str, stamp: float) -> bool:
        """
        Return whether a frame of this camera and stamp can still make it into a set.

        False for a misstamped camera's frames and for frames older than the last set: the
        caller can spare their per-frame work (add() them all the same, for the timing).
        """
        if name in self._misstamped:
            return False
        return self._last_emitted is None or stamp > self._last_emitted - self.slop

    def misstamped(self) -> dict:
        """Return {name: clock offset} of the cameras left out for whole-period offsets."""
        live = set(self.live())
        return {n: offset for n, offset in self._misstamped.items() if n in live}

    def _update_misstamped(self):
        """Re-judge each camera's delay against the other cameras' (needs >= 3 cameras)."""
        previous, self._misstamped = self._misstamped, {}
        if not self.check_misstamped:
            return
        enough = max(3, self.offset_window // 2)
        live = set(self.live())
        judged = [n for n in self.names
                  if n in live and n not in self._out_of_sync
                  and len(self._delays[n]) >= enough and len(self._stamps[n]) >= 3]
        if len(judged) < 3:
            return
        medians = {n: statistics.median(self._delays[n]) for n in judged}
        misstamped = {}
        for name in judged:
            stamps = list(self._stamps[name])
            period = statistics.median(b - a for a, b in zip(stamps, stamps[1:]))
            if period <= 0:
                continue
            tolerance = max(self.slop, 0.25 * period)
            if tolerance >= 0.4 * period:
                continue      # a slop this wide matches frames a period apart: no telling
            # The other cameras must agree among themselves: a rig whose delays are spread
            # out (a simulator that renders its cameras one after another, each a bit later)
            # has no reference to be a whole period away from.
            others = [medians[n] for n in judged if n != name]
            if max(others) - min(others) > tolerance:
                continue
            offset = statistics.median(others) - medians[name]
            # Near a whole number of periods, or its frames would not match (out of sync).
            whole = round(offset / period) * period
            # Hysteresis: a camera already left out needs a clearer sign to come back, so a
            # delay near the boundary does not flip it in and out of the sets every frame.
            if name in previous:
                tolerance = min(1.5 * tolerance, 0.45 * period)
            if whole != 0.0 and abs(offset - whole) <= tolerance:
                misstamped[name] = offset
        self._misstamped = misstamped

    def add(self, name: str, stamp: float, payload, arrival: float | None = None
            ) -> SyncedSet | None:
        """Queue one frame (arrival: when it came, caller's clock); return the set it completes."""
        if name not in self._queues:
            raise KeyError(f'unknown stream {name!r} (streams: {self.names})')
        latest = self._latest[name]
        if latest is not None and stamp < latest - self.restart_jump:
            # Time went backwards (a simulator reset or a replayed bag): start over.
            self.restarts += 1
            self.reset()
            latest = None
        if arrival is None:
            now = self.now
            arrival = stamp if now is None else max(now, stamp)
        self._delays[name].append(arrival - stamp)
        if not self._stamps[name] or stamp > self._stamps[name][-1]:
            self._stamps[name].append(stamp)
        self._update_misstamped()
        if self._first_stamp is None:
            self._first_stamp = stamp
        # Even a frame too old to use keeps its camera live: an out-of-sync camera is not silent.
        self._latest[name] = stamp if latest is None else max(latest, stamp)
        if name in self._out_of_sync and any(abs(stamp - s) <= self.slop for s in self._emitted):
            self._rejoin(name)   # its frame matches a set just handed out: its clock is right
        if self._last_emitted is not None and stamp <= self._last_emitted - self.slop:
            if name not in self._out_of_sync and name not in self._misstamped:
                self.dropped_late += 1
            return None
        self._queues[name].append((stamp, payload))
        return self._try_emit(name, stamp)

    def _rejoin(self, name):
        self._out_of_sync.discard(name)
        self._unmatched_since[name] = None

    def _best(self, name, anchor_stamp):
        best = None
        for stamp, payload in self._queues[name]:
            gap = abs(stamp - anchor_stamp)
            if gap <= self.slop and (best is None or gap < abs(best[0] - anchor_stamp)):
                best = (stamp, payload)
        return best

    def _try_emit(self, anchor_name, anchor_stamp):
        live = [n for n in self.live() if n not in self._misstamped]
        if anchor_name not in live or anchor_name in self._out_of_sync:
            return None
        frames, stamps, lacking = {}, {}, []
        for name in live:
            best = self._best(name, anchor_stamp)
            if best is not None:
                stamps[name], frames[name] = best
            elif name not in self._out_of_sync:
                lacking.append(name)
        if lacking:
            self._note_unmatched(lacking, len(frames), anchor_stamp)
            if any(name not in self._out_of_sync for name in lacking):
                return None
        for name in list(stamps):
            if name in self._out_of_sync:
                self._rejoin(name)   # it had a frame for this set after all
            self._unmatched_since[name] = None
        newest = max(stamps.values())
        for name, used in stamps.items():
            queue = self._queues[name]
            while queue and queue[0][0] <= used:
                queue.popleft()
        self._last_emitted = newest
        self._emitted.append(newest)
        return SyncedSet(stamp=newest, frames=frames, stamps=stamps,
                         missing=tuple(n for n in self.names if n not in frames))

    def _note_unmatched(self, lacking, matched, anchor_stamp):
        # Only a majority (and at least two cameras) agreeing on an instant is evidence that
        # the lacking cameras are off, rather than the anchor; a camera that is merely late
        # matches within the timeout and starts over.
        if matched < 2 or matched <= len(lacking):
            return
        for name in lacking:
            if self._latest[name] is None:
                continue     # never delivered: the silence timeout handles it
            since = self._unmatched_since[name]
            if since is None or anchor_stamp < since:
                self._unmatched_since[name] = anchor_stamp
            elif anchor_stamp - since > self.silence_timeout:
                self._out_of_sync.add(name)
