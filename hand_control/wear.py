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
Wear budget: per-joint motion accounting over a sliding window, and a persistent odometer.

What wears a tendon-driven hand is motion: distance travelled, direction reversals (each one
accelerates the motor, gearbox and tendons both ways) and time spent pressing against a limit
or an obstacle. WearMonitor accounts all three per joint over a sliding window (a ring of
time buckets) from the targets the limiter sends, and turns them into a duty:

    duty = max(mean speed / max_mean_speed, reversal rate / max_reversal_rate,
               pressed fraction / max_pressed_fraction)

Above duty 1 a joint is throttled (its velocity limit multiplied by throttle_scale) until its
duty falls below release_duty. The Odometer keeps cumulative totals per joint and is saved
atomically as JSON, so maintenance sees them across restarts; a corrupt file is kept aside and
a new one started.

Time is injected (the t arguments): nothing here reads a clock except Odometer.save's
timestamp, which callers may pass in.
"""
from dataclasses import dataclass
import datetime
import json
import math
import os
import pathlib
import tempfile

from inhand.config import ConfigError
import numpy as np

ODOMETER_FORMAT = 'inhand.wear_odometer/1'
_abs, _copyto, _count_nonzero = np.abs, np.copyto, np.count_nonzero   # per-output path
_COUNTERS = ('travel_rad', 'reversals', 'pressed_s')


@dataclass(frozen=True)
class WearConfig:
    """Sliding-window budget. Rates are per second of the window."""

    enabled: bool = True
    window: float = 10.0                # s
    buckets: int = 20                   # window resolution: the window slides in window/buckets
    max_mean_speed: float = 1.0         # rad/s, mean |velocity| over the window
    max_reversal_rate: float = 4.0      # reversals per second over the window
    max_pressed_fraction: float = 0.5   # fraction of the window spent pressing
    throttle_scale: float = 0.3         # velocity-limit factor of a throttled joint
    release_duty: float = 0.8           # throttle ends below this duty
    reversal_deadband: float = 0.005    # rad a target must travel back to count a reversal

    def __post_init__(self):
        for key in ('window', 'max_mean_speed', 'max_reversal_rate', 'max_pressed_fraction',
                    'reversal_deadband'):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f'wear.{key}: must be a finite number > 0, got {value!r}')
        if not (isinstance(self.buckets, int) and 2 <= self.buckets <= 1000):
            raise ConfigError(f'wear.buckets: must be an integer in [2, 1000], got '
                              f'{self.buckets!r}')
        if not 0 < self.throttle_scale <= 1:
            raise ConfigError(f'wear.throttle_scale: must be in (0, 1], got '
                              f'{self.throttle_scale!r}')
        if not 0 < self.release_duty <= 1:
            raise ConfigError(f'wear.release_duty: must be in (0, 1], got {self.release_duty!r}')


class Odometer:
    """Cumulative per-joint travel, reversals and pressed time, persisted as JSON."""

    def __init__(self, joint_names, path=None, hand=''):
        self.joint_names = tuple(joint_names)
        self.path = None if path is None else pathlib.Path(path)
        self.hand = hand
        n = len(self.joint_names)
        self.travel = np.zeros(n)
        self.reversals = np.zeros(n)
        self.pressed = np.zeros(n)
        self.other_joints = {}     # joints in the file that this profile does not have: kept
        self.created = None

    @classmethod
    def load(cls, joint_names, path, hand='') -> tuple['Odometer', list]:
        """Read path if it exists; return (odometer, warnings). A corrupt file is kept aside."""
        odometer = cls(joint_names, path, hand)
        path = odometer.path
        if path is None or not path.exists():
            return odometer, []
        try:
            data = json.loads(path.read_text())
            odometer._absorb(data)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            stamp = datetime.datetime.now().strftime('%Y%m%dT%H%M%S')
            aside = path.with_name(f'{path.name}.corrupt-{stamp}')
            try:
                os.replace(path, aside)
                kept = f'kept the corrupt copy as {aside}'
            except OSError as move_error:
                kept = f'could not keep the corrupt copy ({move_error})'
            fresh = cls(joint_names, path, hand)
            return fresh, [f'wear odometer {path} is unreadable ({exc}); starting a new one, '
                           f'{kept}']
        return odometer, []

    def _absorb(self, data):
        if not isinstance(data, dict) or data.get('format') != ODOMETER_FORMAT:
            raise ValueError(f'not an {ODOMETER_FORMAT} file')
        joints = data['joints']
        if not isinstance(joints, dict):
            raise ValueError('joints: expected a mapping')
        index = {n: i for i, n in enumerate(self.joint_names)}
        for name, entry in joints.items():
            if not isinstance(entry, dict):
                raise ValueError(f'joints.{name}: expected a mapping')
            values = {}
            for key in _COUNTERS:
                value = entry.get(key, 0.0)
                if isinstance(value, bool) or not isinstance(value, (int, float)) \
                        or not math.isfinite(value) or value < 0:
                    raise ValueError(f'joints.{name}.{key}: expected a number >= 0, got '
                                     f'{value!r}')
                values[key] = float(value)
            if name in index:
                i = index[name]
                self.travel[i] = values['travel_rad']
                self.reversals[i] = values['reversals']
                self.pressed[i] = values['pressed_s']
            else:
                self.other_joints[name] = values
        self.created = data.get('created')

    def to_dict(self, now: str) -> dict:
        joints = dict(self.other_joints)
        for i, name in enumerate(self.joint_names):
            joints[name] = {'travel_rad': float(self.travel[i]),
                            'reversals': int(self.reversals[i]),
                            'pressed_s': float(self.pressed[i])}
        return {'format': ODOMETER_FORMAT, 'hand': self.hand,
                'created': self.created or now, 'updated': now, 'joints': joints}

    def save(self, now: str | None = None):
        """Write the file atomically (temporary file in the same folder, then rename)."""
        if self.path is None:
            return
        now = now or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
        data = self.to_dict(now)
        self.created = data['created']
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{self.path.name}.', dir=self.path.parent)
        try:
            with os.fdopen(fd, 'w') as stream:
                json.dump(data, stream, indent=1, sort_keys=True)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


class WearMonitor:
    """Sliding-window wear accounting and throttling for the commanded targets of n joints."""

    def __init__(self, joint_names, config: WearConfig, odometer: Odometer | None = None):
        self.joint_names = tuple(joint_names)
        self.config = config
        n = len(self.joint_names)
        self.odometer = odometer if odometer is not None else Odometer(self.joint_names)
        if self.odometer.joint_names != self.joint_names:
            raise ValueError('odometer and wear monitor must account the same joints')
        self.width = config.window / config.buckets
        self.scale = np.ones(n)                 # velocity-limit factor per joint (1 or throttle)
        self.throttled = np.zeros(n, dtype=bool)
        self._travel = np.zeros((config.buckets, n))
        self._reversals = np.zeros((config.buckets, n))
        self._pressed = np.zeros((config.buckets, n))
        self._direction = np.zeros(n)           # +1 / -1 / 0 (not yet moving)
        self._resting = True                    # some joint has not started a stroke yet
        self.version = 0                        # bumped whenever scale changes
        self._anchor = None                     # extreme target of the current stroke
        self._bucket = None                     # absolute index of the current bucket
        self._duty = np.zeros(n)
        self._synced = np.zeros((3, n))         # current bucket's share already in the odometer
        self.events = []                        # (level, text) for the node to log

    def reset_window(self):
        """Forget the window (after a clock jump); the odometer keeps its totals."""
        self.sync()
        self._travel[:] = 0
        self._reversals[:] = 0
        self._pressed[:] = 0
        self._direction[:] = 0
        self._resting = True
        self._anchor = None
        self._bucket = None

    def continue_window(self, previous: 'WearMonitor'):
        """
        Take over previous's window and throttle as if its clock went on into this one's t = 0.

        For a simulator whose clock restarts with each episode while the node's limiter, and so
        its wear window, lives on (the trainer's environments): the window's buckets keep their
        order, the newest of previous's becoming the one just before t = 0.
        """
        if previous.config != self.config or previous.joint_names != self.joint_names:
            raise ValueError('continue_window: the wear monitors must share joints and config')
        if previous._bucket is None or not self.config.enabled:
            return
        shift = -(previous._bucket + 1)
        for name in ('_travel', '_reversals', '_pressed'):
            getattr(self, name)[:] = np.roll(getattr(previous, name), shift, axis=0)
        self._bucket = -1
        row = self._bucket % self.config.buckets
        self._row_travel = self._travel[row]
        self._row_reversals = self._reversals[row]
        self._row_pressed = self._pressed[row]
        self._synced[:] = (self._row_travel, self._row_reversals, self._row_pressed)
        self.throttled = previous.throttled.copy()
        self.scale = previous.scale.copy()
        self._duty = previous._duty.copy()
        self.version += 1

    def restart_stroke(self, x: np.ndarray):
        """Start reversal detection afresh at x (outputs (re)start after a gap)."""
        self._anchor = np.array(x, dtype=float)
        self._direction[:] = 0
        self._resting = True

    def record(self, t: float, x: np.ndarray, dx: np.ndarray, dt: float, pressed: np.ndarray):
        """Account one output: new targets x, their step dx, dt s since the last, pressed mask."""
        if not self.config.enabled:
            return
        if int(t // self.width) != self._bucket:
            self._roll(t, int(t // self.width))
        # Only the current bucket is updated here; sync() carries it into the odometer.
        self._row_travel += _abs(dx)
        if dt > 0 and _count_nonzero(pressed):
            self._row_pressed += pressed * dt
        if self._anchor is None:
            self.restart_stroke(x)
            return
        # A reversal is a stroke that comes back by more than the deadband from its extreme
        # (the anchor); a stroke going further moves the anchor along.
        diff = x - self._anchor
        along = self._direction * diff
        turned = along < -self.config.reversal_deadband
        if self._resting or _count_nonzero(turned):
            self._turn(x, diff, turned)
        _copyto(self._anchor, x, where=along > 0)

    def _turn(self, x, diff, turned):
        band = self.config.reversal_deadband
        direction = self._direction
        started = (direction == 0) & (np.abs(diff) > band)
        self._row_reversals += turned
        changed = turned | started
        direction[changed] = np.sign(diff[changed])
        self._anchor[changed] = x[changed]
        self._resting = bool((direction == 0).any())

    def advance(self, t: float):
        """Slide the window to t (also while no output moves), updating the throttle."""
        if self.config.enabled:
            bucket = int(t // self.width)
            if bucket != self._bucket:
                self._roll(t, bucket)

    def sync(self):
        """Carry what the current bucket gathered since the last sync into the odometer."""
        if self._bucket is None:
            return
        odometer, synced = self.odometer, self._synced
        odometer.travel += self._row_travel - synced[0]
        odometer.reversals += self._row_reversals - synced[1]
        odometer.pressed += self._row_pressed - synced[2]
        synced[0] = self._row_travel
        synced[1] = self._row_reversals
        synced[2] = self._row_pressed

    def _roll(self, t: float, bucket: int):
        """Move the window to bucket, clearing the buckets skipped, and update the throttle."""
        self.sync()
        n_buckets = self.config.buckets
        if self._bucket is None or bucket < self._bucket:
            self._travel[:] = 0
            self._reversals[:] = 0
            self._pressed[:] = 0
        elif bucket - self._bucket >= n_buckets:
            self._travel[:] = 0
            self._reversals[:] = 0
            self._pressed[:] = 0
        else:
            for b in range(self._bucket + 1, bucket + 1):
                row = b % n_buckets
                self._travel[row] = 0
                self._reversals[row] = 0
                self._pressed[row] = 0
        self._bucket = bucket
        row = bucket % n_buckets
        self._row_travel = self._travel[row]
        self._row_reversals = self._reversals[row]
        self._row_pressed = self._pressed[row]
        self._synced[:] = 0
        self._update_throttle(t)

    def duty(self, t: float | None = None) -> np.ndarray:
        """Return the per-joint duty over the window (1.0 = at budget)."""
        return self._duty.copy()

    def window_figures(self, t: float) -> dict:
        """Return mean speed, reversal rate and pressed fraction per joint over the window."""
        span = self._span(t)
        return {'mean_speed': self._travel.sum(axis=0) / span,
                'reversal_rate': self._reversals.sum(axis=0) / span,
                'pressed_fraction': self._pressed.sum(axis=0) / span}

    def _span(self, t: float) -> float:
        # Rates are always over the whole window, also just after a start: a short burst
        # then reads as a low rate rather than as a huge one (no throttle at the first twitch).
        return self.config.window

    def _update_throttle(self, t: float):
        cfg = self.config
        figures = self.window_figures(t)
        self._duty = np.maximum.reduce([figures['mean_speed'] / cfg.max_mean_speed,
                                        figures['reversal_rate'] / cfg.max_reversal_rate,
                                        figures['pressed_fraction'] / cfg.max_pressed_fraction])
        start = (~self.throttled) & (self._duty > 1.0)
        stop = self.throttled & (self._duty < cfg.release_duty)
        for i in np.flatnonzero(start):
            self.events.append(('warn', f'wear budget exceeded on {self.joint_names[i]} '
                                f'(duty {self._duty[i]:.2f}): throttling it to '
                                f'{cfg.throttle_scale:g} of its velocity limit'))
        for i in np.flatnonzero(stop):
            self.events.append(('info', f'wear duty of {self.joint_names[i]} back to '
                                f'{self._duty[i]:.2f}: throttle released'))
        if start.any() or stop.any():
            self.throttled = (self.throttled | start) & ~stop
            self.scale = np.where(self.throttled, cfg.throttle_scale, 1.0)
            self.version += 1
