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
The safety limiter's core: a ROS-free state machine between any policy and the hand.

Time is injected: every method takes t (seconds of the node's clock, sim or wall), so tests can
drive time jumps and silence. Commands name actuated joints of the hand profile; every output
holds ALL actuated joints (joints a command did not name hold their last safe target).

Each output x_k (per joint, sent at t_k) satisfies, whatever came in:

- position: lo <= x_k <= hi, where [lo, hi] is the joint's (soft) position window shrunk by
  position_margin on both sides;
- velocity: |x_k - x_{k-1}| <= v_max * dt_k, with dt_k = min(t_k - t_{k-1}, max_step_dt) (a
  gap longer than max_step_dt never buys a bigger step; after such a gap the target is taken
  to have been at rest, v_{k-1} = 0);
- acceleration: |v_k - v_{k-1}| <= a_max * dt_k with v_k = (x_k - x_{k-1}) / dt_k: a window
  around the previous command extrapolated by its velocity (stricter than ros2_control, which
  only bounds the growth of speed: a full-speed reversal is what breaks tendons);
- tracking: |x_k - m_k| <= max_tracking_error (m_k the measured position) while the measured
  position moves no faster than the target may follow. When it does (a push, a sensor glitch,
  a reset of the simulator), the target follows within the velocity and acceleration limits,
  never by a jump: outside the tracking window a target only ever moves toward the measured
  position or brakes at the full acceleration limit.

Velocities are reduced, never raised, by the uncertainty scale (cube pose stale or uncertain)
and the wear throttle; a reduced limit is reached by braking at a_max. Braking distances are
planned (|v| <= sqrt(2 a d) toward any edge), so the position window holds at any step timing.

The first output after outputs stopped (start, stale joint states, a clock jump) is the
measured pose, projected into the position window; the guarantees above hold between
successive outputs from there on.
"""
from collections import Counter
from dataclasses import dataclass, field
import math

from hand_control.wear import WearConfig, WearMonitor
from inhand.config import ConfigError
import numpy as np

# Drop reasons: malformed messages ...
MALFORMED = ('empty', 'unknown_joint', 'duplicate_joint', 'length_mismatch', 'non_finite',
             'stale_stamp', 'future_stamp')
# ... and valid commands the limiter cannot forward now.
REFUSED = ('no_joint_states', 'estop', 'fault', 'clock_stalled')

OK, WARN, ERROR = 0, 1, 2
_EPS = 1e-9
# Module-level names for the per-command path: one lookup instead of two per call.
_abs, _copysign, _count_nonzero = np.abs, np.copysign, np.count_nonzero
_isfinite, _maximum, _minimum, _sqrt = np.isfinite, np.maximum, np.minimum, np.sqrt


@dataclass(frozen=True)
class UncertaintyConfig:
    """Velocity scaling from the cube pose: stale or uncertain -> slower."""

    enabled: bool = True               # the node's default too (config/safety_limiter.yaml)
    timeout: float = 0.5               # s without a fresh pose -> unsure
    position_std_low: float = 0.005    # m: at or below this the pose is trusted
    position_std_high: float = 0.03    # m: at or above this the pose is not trusted
    rotation_std_low: float = 0.05     # rad
    rotation_std_high: float = 0.3     # rad
    min_scale: float = 0.3             # velocity-limit factor when unsure
    max_scale: float = 1.0             # velocity-limit factor when sure

    def __post_init__(self):
        _positive(self, 'uncertainty.', ('timeout', 'position_std_high', 'rotation_std_high'))
        _non_negative(self, 'uncertainty.', ('position_std_low', 'rotation_std_low'))
        if not self.position_std_low < self.position_std_high:
            raise ConfigError('uncertainty.position_std_low must be below position_std_high')
        if not self.rotation_std_low < self.rotation_std_high:
            raise ConfigError('uncertainty.rotation_std_low must be below rotation_std_high')
        if not 0 < self.min_scale <= self.max_scale <= 1:
            raise ConfigError(f'uncertainty: need 0 < min_scale <= max_scale <= 1, got '
                              f'{self.min_scale!r}, {self.max_scale!r}')


@dataclass(frozen=True)
class LimiterConfig:
    """Behaviour of the limiter; names match the node's parameters (docs/safety_limiter.md)."""

    position_margin: float = 0.01        # rad kept clear of each (soft) position limit
    fault_tolerance: float = 0.05        # rad past a hard limit that latches a fault
    max_tracking_error: float = 0.4      # rad between a target and the measured position
    command_timeout: float = 0.25        # s without a command -> hold
    joint_state_timeout: float = 0.25    # s without joint states -> stop commanding, ERROR
    timeout_action: str = 'hold'         # 'hold' the last safe target or ease to 'home'
    home_velocity: float = 0.2           # rad/s while easing home after a command timeout
    ramp_time: float = 0.5               # s to blend from the measured pose to the policy
    max_step_dt: float = 0.05            # s: a longer gap between outputs counts as this
    hold_republish_period: float = 0.1   # s between repeats of a target that does not move
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)
    wear: WearConfig = field(default_factory=WearConfig)

    def __post_init__(self):
        _positive(self, '', ('max_tracking_error', 'command_timeout', 'joint_state_timeout',
                             'home_velocity', 'max_step_dt', 'hold_republish_period'))
        _non_negative(self, '', ('position_margin', 'fault_tolerance', 'ramp_time'))
        # Beyond these a value is a typo; a huge step or speed would also overflow the step.
        _at_most(self, '', {'max_step_dt': 1.0, 'home_velocity': 100.0})
        if self.timeout_action not in ('hold', 'home'):
            raise ConfigError(f'timeout_action: expected "hold" or "home", got '
                              f'{self.timeout_action!r}')
        if not self.max_tracking_error > self.position_margin + self.fault_tolerance:
            # The first target (the measured pose projected into the window) must lie within
            # the tracking distance of a joint that is inside the fault tolerance.
            raise ConfigError(
                f'max_tracking_error ({self.max_tracking_error}) must exceed position_margin '
                f'+ fault_tolerance ({self.position_margin + self.fault_tolerance})')


def _positive(cfg, prefix, keys):
    for key in keys:
        value = getattr(cfg, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value <= 0:
            raise ConfigError(f'{prefix}{key}: must be a finite number > 0, got {value!r}')


def _at_most(cfg, prefix, caps):
    for key, cap in caps.items():
        value = getattr(cfg, key)
        if value > cap:
            raise ConfigError(f'{prefix}{key}: must be at most {cap:g}, got {value!r}')


def _non_negative(cfg, prefix, keys):
    for key in keys:
        value = getattr(cfg, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise ConfigError(f'{prefix}{key}: must be a finite number >= 0, got {value!r}')


@dataclass(slots=True)
class Output:
    """One safe command: targets for every actuated joint, in profile order."""

    t: float
    positions: np.ndarray
    restarted: bool      # first output after outputs had stopped (starts at the measured pose)
    mode: str            # 'active', 'ramp', 'hold', 'home', 'estop' or 'fault'


@dataclass(frozen=True)
class Drop:
    """A command that was not forwarded, and why (reason is one of MALFORMED or REFUSED)."""

    reason: str
    detail: str


@dataclass
class Summary:
    """What diagnostics report: level (OK/WARN/ERROR), a one-line message, key figures."""

    level: int
    message: str
    values: dict
    joints: dict     # joint -> {figure: value}


class SafetyLimiter:
    """The limiter state machine; see the module docstring for its guarantees."""

    def __init__(self, limits: dict, config: LimiterConfig, joint_names, actuated_names,
                 home=None, wear: WearMonitor | None = None):
        """
        Build the limiter.

        limits maps every joint name to hand_control.limits.JointLimits; joint_names lists
        the joints /joint_states may carry (profile order), actuated_names the commandable ones
        (output order). home gives the actuated joints' home pose (else the window centre).
        """
        self.config = cfg = config
        self.joint_names = tuple(joint_names)
        self.names = tuple(actuated_names)
        missing = [n for n in self.joint_names if n not in limits]
        if missing:
            raise ConfigError(f'no limits for joint(s) {missing}')
        self._all_index = {n: i for i, n in enumerate(self.joint_names)}
        self._cmd_index = {n: i for i, n in enumerate(self.names)}
        self._act = np.array([self._all_index[n] for n in self.names], dtype=int)
        n = len(self.names)
        self.n = n
        act = [limits[name] for name in self.names]
        self._soft_lower = np.array([j.soft_lower for j in act])
        self._soft_upper = np.array([j.soft_upper for j in act])
        self.lower = self._soft_lower + cfg.position_margin
        self.upper = self._soft_upper - cfg.position_margin
        narrow = [nm for nm, lo, hi in zip(self.names, self.lower, self.upper) if not lo < hi]
        if narrow:
            raise ConfigError(f'position_margin {cfg.position_margin} leaves no position window '
                              f'for {", ".join(narrow)}')
        self.max_velocity = np.array([j.max_velocity for j in act])
        self.max_acceleration = np.array([j.max_acceleration for j in act])
        self._two_a = 2.0 * self.max_acceleration
        self._a_squared = self.max_acceleration ** 2
        uniform = bool((self.max_acceleration == self.max_acceleration[0]).all())
        self._a_uniform = float(self.max_acceleration[0]) if uniform else 0.0
        if uniform:
            self._two_a = 2.0 * self._a_uniform
        self._max_step_dt = cfg.max_step_dt
        every = [limits[name] for name in self.joint_names]
        self._fault_lo = np.array([j.min_position for j in every]) - cfg.fault_tolerance
        self._fault_hi = np.array([j.max_position for j in every]) + cfg.fault_tolerance
        home = (self.lower + self.upper) / 2 if home is None else np.asarray(home, dtype=float)
        self.home = np.clip(home, self.lower, self.upper)
        self.wear = wear if wear is not None else WearMonitor(self.names, cfg.wear)
        self._wear_enabled = self.wear.config.enabled

        self._now = -math.inf
        # measured state
        self._measured = np.full(len(self.joint_names), np.nan)
        self._measured_t = np.full(len(self.joint_names), -np.inf)
        self._js_cache = (None, None)
        self._complete = False            # every actuated joint measured
        self._state_t = -math.inf         # oldest actuated measurement
        self._win_lo = self.lower.copy()  # tracking window inside the position window
        self._win_hi = self.upper.copy()
        self._cmd_cache = (None, None)
        self._v_lim_scale = 1.0
        self._v_lim_version = self.wear.version
        self._v_lim = self.max_velocity
        self._v_neg = -self.max_velocity
        # output stream
        self._streaming = False
        self._x = np.zeros(n)
        self._v = np.zeros(n)
        self._t_out = -math.inf
        self._restart_pending = False
        # command state
        self._commanding = False
        self._goal = np.zeros(n)
        self._pushing = np.zeros(n, dtype=bool)
        self._last_cmd_t = -math.inf
        self._last_stamp = -math.inf
        self._ramp_t0 = -math.inf
        self._ramp_start = np.zeros(n)
        self._hold = np.zeros(n)
        self._hold_home = False
        self._timed_out = False
        # latches
        self._estop = False
        self._estop_target = None
        self._fault = None
        self._fault_t = -math.inf
        self._clock_stall = ''       # why the node's clock is not moving ('' when it is)
        self._stale = False
        # cube pose
        self._cube_t = -math.inf
        self._cube_stamp = 0.0
        self._cube_u = 1.0
        # counters and events
        self.drops = Counter()
        self.clamps = np.zeros((3, n), dtype=np.int64)   # position, tracking, motion
        self._clamps_position, self._clamps_tracking, self._clamps_motion = self.clamps
        self.counts = Counter()
        self._n_commands = 0
        self._n_outputs = 0
        self.events = []
        self._last_mode = 'waiting'

    # ------------------------------------------------------------------ inputs
    def on_joint_state(self, t: float, names, positions, velocities=(), efforts=()) -> bool:
        """
        Take a measurement (any subset of joints, other names ignored); return accepted.

        A message whose position, velocity or effort array (the last two may be empty) does not
        match the names is dropped whole: which value belongs to which joint is unknown.
        """
        self._advance(t)
        positions = np.asarray(positions, dtype=float)
        if positions.shape != (len(names),):
            self._count_js_drop('length_mismatch',
                                f'{len(names)} names but {positions.size} positions')
            return False
        for label, extra in (('velocity', velocities), ('effort', efforts)):
            if extra is not None and len(extra) not in (0, len(names)):
                self._count_js_drop('length_mismatch',
                                    f'{len(names)} names but {len(extra)} {label} values')
                return False
        cached_names, cached = self._js_cache
        if names == cached_names:
            rows, cols = cached
        else:
            pairs = [(i, self._all_index[nm]) for i, nm in enumerate(names)
                     if nm in self._all_index]
            rows = np.array([p[0] for p in pairs], dtype=int)
            cols = np.array([p[1] for p in pairs], dtype=int)
            self._js_cache = (list(names), (rows, cols))
        values = positions[rows]
        if np.count_nonzero(np.isfinite(values)) != len(values):
            bad = [names[r] for r, v in zip(rows, values) if not math.isfinite(v)]
            self._count_js_drop('non_finite', f'non-finite position for {", ".join(bad)}')
            return False
        # A measurement that ends a gap longer than joint_state_timeout is judged against the
        # gap first: when nothing called the limiter during the gap (a starved executor), the
        # stream must still end, so the next command restarts from this measured pose instead
        # of continuing from the target held before the gap.
        self._update(t)
        self._measured[cols] = values
        self._measured_t[cols] = t
        m = self._measured[self._act]
        self._complete = np.count_nonzero(np.isfinite(m)) == len(m)
        self._state_t = float(self._measured_t[self._act].min())
        # The tracking window moves only with the measurement: compute it here, not per command.
        # Inside the position window always: when the measured pose is further than the
        # tracking distance outside it, both ends sit on the window's nearest edge.
        d = self.config.max_tracking_error
        self._win_lo = np.minimum(np.maximum(m - d, self.lower), self.upper)
        self._win_hi = np.maximum(np.minimum(m + d, self.upper), self.lower)
        out = (values < self._fault_lo[cols]) | (values > self._fault_hi[cols])
        if np.count_nonzero(out) and self._fault is None:
            i = int(np.flatnonzero(out)[0])
            j = cols[i]
            self._latch_fault(
                f'{self.joint_names[j]} measured at {values[i]:.4f} rad, beyond its limits '
                f'[{self._fault_lo[j] + self.config.fault_tolerance:.4f}, '
                f'{self._fault_hi[j] - self.config.fault_tolerance:.4f}] by more than '
                f'fault_tolerance {self.config.fault_tolerance:g}')
        return True

    def on_command(self, t: float, stamp, names, positions, velocities=(), efforts=()):
        """Validate and limit one raw command; return an Output, or a Drop saying why not."""
        self._advance(t)
        count = len(names)
        if count == 0:
            return self._drop('empty', 'command names no joint')
        cached_names, idx = self._cmd_cache
        if names != cached_names:
            index = self._cmd_index
            try:
                idx = [index[name] for name in names]
            except (KeyError, TypeError):
                unknown = [str(nm) for nm in names if nm not in index]
                coupled = [nm for nm in unknown if nm in self._all_index]
                detail = f'unknown joint(s): {", ".join(unknown)}'
                if coupled:
                    detail += ' (coupled joints are not commandable)'
                return self._drop('unknown_joint', detail)
            if len(set(idx)) != count:
                return self._drop('duplicate_joint', 'command repeats a joint name')
            # A full command in output order needs no index arrays (the common case).
            idx = None if idx == list(range(self.n)) else np.array(idx, dtype=int)
            self._cmd_cache = (list(names), idx)
        if len(positions) != count:
            return self._drop('length_mismatch', f'{count} names but {len(positions)} positions')
        for label, extra in (('velocity', velocities), ('effort', efforts)):
            if len(extra) not in (0, count):
                return self._drop('length_mismatch',
                                  f'{count} names but {len(extra)} {label} values')
            if len(extra) and not _isfinite(np.asarray(extra, dtype=float)).all():
                return self._drop('non_finite', f'non-finite {label}')
        try:
            pos = np.asarray(positions, dtype=float)
        except (TypeError, ValueError):
            return self._drop('length_mismatch', 'positions are not a flat list of numbers')
        if pos.shape != (count,):
            return self._drop('length_mismatch', f'{count} names but {pos.size} positions')
        if _count_nonzero(_isfinite(pos)) != count:
            bad = [nm for nm, p in zip(names, pos) if not math.isfinite(p)]
            return self._drop('non_finite', f'non-finite position for {", ".join(bad)}')
        if stamp:
            if not math.isfinite(stamp):
                return self._drop('non_finite', 'non-finite stamp')
            # A stamp from another clock (wall time on a sim-time graph) must not become the
            # last stamp: every correct command after it would look stale.
            if stamp > t + self.config.command_timeout:
                return self._drop('future_stamp', f'stamp {stamp:.6f} is ahead of the clock '
                                  f'{t:.6f} by more than command_timeout')
            if stamp < self._last_stamp:
                return self._drop('stale_stamp', f'stamp {stamp:.6f} is older than the last '
                                  f'accepted {self._last_stamp:.6f}')
            self._last_stamp = stamp
        self._update(t)
        if self._fault is not None:
            return self._drop('fault', self._fault)
        if self._estop:
            return self._drop('estop', 'e-stop latched (release it with ~/estop false)')
        if self._clock_stall:
            return self._drop('clock_stalled', self._clock_stall)
        if self._stale or not self._complete:
            return self._drop('no_joint_states', 'no fresh /joint_states: not commanding')

        if not self._commanding:
            self._start_commanding(t)
        # A policy pushes against a limit when it asks for more than the (soft) limit itself,
        # not merely for the margin next to it (a hand resting at a limit is not pressing).
        if idx is None:
            clipped = _minimum(_maximum(pos, self.lower), self.upper)
            self._goal = clipped
            clamped = clipped != pos
            self._clamps_position += clamped
            self._pushing = ((pos < self._soft_lower) | (pos > self._soft_upper)) \
                if _count_nonzero(clamped) else clamped
        else:
            clipped = _minimum(_maximum(pos, self.lower[idx]), self.upper[idx])
            self._goal[idx] = clipped
            self.clamps[0, idx] += clipped != pos
            self._pushing[idx] = (pos < self._soft_lower[idx]) | (pos > self._soft_upper[idx])
        self._last_cmd_t = t
        self._n_commands += 1
        desired, mode = self._commanded_target(t)
        out = self._step(t, desired, mode, None, count_clamps=True)
        return out if out is not None else self._drop('fault', self._fault)

    def on_cube_pose(self, t: float, stamp: float, covariance) -> bool:
        """Take a cube pose's 6x6 covariance (row-major, 36 values); return accepted."""
        self._advance(t)
        cov = np.asarray(covariance, dtype=float).ravel()
        if cov.shape != (36,):
            self.drops['cube_pose_malformed'] += 1
            return False
        self._cube_t = t
        self._cube_stamp = float(stamp) if stamp and math.isfinite(stamp) else 0.0
        variances = cov[[0, 7, 14, 21, 28, 35]]
        if not np.isfinite(cov).all() or (variances < 0).any():
            self._cube_u = 1.0
            return True
        cfg = self.config.uncertainty
        pos_std = math.sqrt(variances[:3].max())
        rot_std = math.sqrt(variances[3:].max())
        self._cube_u = max(
            _ramp(pos_std, cfg.position_std_low, cfg.position_std_high),
            _ramp(rot_std, cfg.rotation_std_low, cfg.rotation_std_high))
        return True

    def set_estop(self, active: bool) -> str:
        """Latch (True) or release (False) the e-stop; return a description for the caller."""
        if active:
            if not self._estop:
                self._estop = True
                # Only a stream that is running has a fresh measurement to hold. Otherwise
                # (waiting, idle, or joint states stale) tick() takes the pose measured when
                # outputs resume: a stale pose would drive the hand toward where it used to be.
                self._estop_target = self._measured_window() if self._streaming else None
                # Commands are refused from now on; that is the e-stop, not the policy
                # stopping, so the command watchdog must not report a timeout for it.
                self._commanding = False
                self._timed_out = False
                self.counts['estops'] += 1
                self.events.append(('error', 'e-stop latched: holding the measured pose'))
            return 'e-stop latched: holding the measured pose'
        if self._estop:
            self._estop = False
            self._estop_target = None
            self._hold_here()
            self.events.append(('info', 'e-stop released: holding until commands resume'))
            return 'e-stop released: holding until commands resume (they ramp in)'
        return 'e-stop was not latched'

    def set_clock_stalled(self, stalled: bool, detail: str = '') -> None:
        """
        Say that the node's clock stopped (True, with why) or moves again (False).

        A node on sim time watches /clock on the wall clock (inhand.clock_watch): when it stops,
        every timing this core relies on (command timeout, joint-state staleness, the step
        between outputs) stops with it. So commands are refused and nothing is output until the
        clock moves: the hand keeps the last safe target. Then commands ramp in again from
        where the hand is, as after an e-stop.
        """
        if stalled:
            if not self._clock_stall:
                self.counts['clock_stalls'] += 1
                self.events.append(('error', f'clock stalled: refusing commands, the hand keeps '
                                    f'the last safe target ({detail or "no progress"})'))
                self._commanding = False
                self._timed_out = False
            self._clock_stall = detail or 'the clock is not moving'
        elif self._clock_stall:
            self._clock_stall = ''
            self._hold_here()
            self.events.append(('info', 'clock moving again: holding until commands resume'))

    def reset_fault(self, t: float | None = None) -> tuple[bool, str]:
        """
        Clear a latched fault if every joint is measured back within tolerance; return why not.

        Every profile joint (coupled ones included) must have been measured after the fault
        latched and within joint_state_timeout of t (default: the latest time seen).
        """
        if t is not None:
            self._advance(t)
        if self._fault is None:
            return True, 'no fault latched'
        now = self._now
        fresh = (self._measured_t > self._fault_t) \
            & (now - self._measured_t <= self.config.joint_state_timeout)
        if not fresh.all():
            unseen = [nm for nm, ok in zip(self.joint_names, fresh) if not ok]
            return False, ('no fresh measurement since the fault of ' + ', '.join(unseen)
                           + ': cannot confirm the fault is gone')
        m = self._measured
        if ((m < self._fault_lo) | (m > self._fault_hi)).any():
            return False, f'still out of bounds: {self._fault}'
        self._fault = None
        self._hold_here()
        self.events.append(('info', 'fault reset: holding until commands resume'))
        return True, 'fault cleared: holding until commands resume (they ramp in)'

    # ------------------------------------------------------------------ periodic
    def tick(self, t: float):
        """Run the watchdog and move held targets; return an Output when one is due."""
        self._advance(t)
        self.wear.advance(t)
        self._update(t)
        if not self._have_state() or self._stale or self._clock_stall:
            return None
        if self._fault is not None:
            if not self._streaming:
                return None     # a fault never starts commanding
            desired, mode, cap = self._hold, 'fault', None
        elif self._estop:
            if self._estop_target is None:
                self._estop_target = self._measured_window()
            desired, mode, cap = self._estop_target, 'estop', None
        elif self._commanding:
            desired, mode = self._commanded_target(t)
            cap = None
        else:
            if not self._streaming:
                return None
            if self._hold_home:
                desired, mode, cap = self.home, 'home', self.config.home_velocity
            else:
                desired, mode, cap = self._hold, 'hold', None
        if not self._streaming:
            self._start_stream(t)
        else:
            goal = self._window_target(desired)
            settled = not (np.count_nonzero(np.abs(goal - self._x) > _EPS)
                           or np.count_nonzero(np.abs(self._v) > _EPS))
            if settled and t - self._t_out < self.config.hold_republish_period:
                return None
        return self._step(t, desired, mode, cap)

    # ------------------------------------------------------------------ reporting
    def mode(self, t: float | None = None) -> str:
        """Return the state: fault, estop, clock_stalled, waiting, stale, ramp, active, hold..."""
        if self._fault is not None:
            return 'fault'
        if self._estop:
            return 'estop'
        if self._clock_stall:
            return 'clock_stalled'
        if not self._have_state():
            return 'waiting'
        if self._stale:
            return 'stale'
        if self._commanding:
            ramping = t is not None and t - self._ramp_t0 < self.config.ramp_time
            return 'ramp' if ramping else 'active'
        if not self._streaming:
            return 'idle'
        return 'home' if self._hold_home else 'hold'

    def velocity_scale(self, t: float) -> float:
        """Return the uncertainty factor on velocity limits at t."""
        cfg = self.config.uncertainty
        if not cfg.enabled:
            return cfg.max_scale
        if t - self._cube_t > cfg.timeout or (
                self._cube_stamp and t - self._cube_stamp > cfg.timeout):
            return cfg.min_scale
        return cfg.max_scale - self._cube_u * (cfg.max_scale - cfg.min_scale)

    def pop_events(self) -> list:
        """Return and clear the (level, text) events to log: 'info', 'warn' or 'error'."""
        events = self.events + self.wear.events
        self.events = []
        self.wear.events = []
        return events

    def diagnostics(self, t: float) -> Summary:
        """Summarise state, counters and wear for /diagnostics."""
        mode = self.mode(t)
        scale = self.velocity_scale(t)
        throttled = [n for n, th in zip(self.names, self.wear.throttled) if th]
        if mode == 'fault':
            level, message = ERROR, f'FAULT latched: {self._fault}'
        elif mode == 'stale':
            level, message = ERROR, 'joint states stale: not commanding'
        elif mode == 'estop':
            level, message = WARN, 'e-stop latched: holding the measured pose'
        elif mode == 'clock_stalled':
            level, message = ERROR, f'clock stalled: commands refused ({self._clock_stall})'
        elif mode == 'waiting':
            level, message = WARN, 'waiting for /joint_states'
        elif mode in ('hold', 'home') and self._timed_out:
            level, message = WARN, ('command timeout: easing home' if mode == 'home'
                                    else 'command timeout: holding the last safe target')
        elif throttled:
            level, message = WARN, f'wear throttle on {", ".join(throttled)}'
        elif scale < self.config.uncertainty.max_scale:
            level, message = OK, f'{mode}: cube pose uncertain, velocity x{scale:.2f}'
        else:
            level, message = OK, mode
        malformed = sum(self.drops[r] for r in MALFORMED)
        values = {
            'mode': mode, 'estop': self._estop, 'fault': self._fault or '',
            'velocity_scale': float(scale),
            'commands_forwarded': self._n_commands, 'outputs': self._n_outputs,
            'dropped_malformed': malformed,
            'dropped_refused': sum(self.drops[r] for r in REFUSED),
            'clock_jumps': self.counts['clock_jumps'],
            'clock_stalls': self.counts['clock_stalls'],
            'wear_throttled': ' '.join(throttled),
        }
        for reason in MALFORMED + REFUSED:
            values[f'dropped_{reason}'] = self.drops[reason]
        for reason in ('joint_states_length_mismatch', 'joint_states_non_finite',
                       'cube_pose_malformed'):
            values[f'dropped_{reason}'] = self.drops[reason]
        self.wear.sync()
        figures = self.wear.window_figures(t)
        duty = self.wear.duty()
        odo = self.wear.odometer
        joints = {}
        for i, name in enumerate(self.names):
            joints[name] = {
                'clamp_position': int(self.clamps[0, i]),
                'clamp_tracking': int(self.clamps[1, i]),
                'clamp_motion': int(self.clamps[2, i]),
                'wear_duty': float(duty[i]),
                'mean_speed': float(figures['mean_speed'][i]),
                'reversal_rate': float(figures['reversal_rate'][i]),
                'pressed_fraction': float(figures['pressed_fraction'][i]),
                'throttled': bool(self.wear.throttled[i]),
                'odometer_travel_rad': float(odo.travel[i]),
                'odometer_reversals': int(odo.reversals[i]),
                'odometer_pressed_s': float(odo.pressed[i]),
            }
        return Summary(level, message, values, joints)

    # ------------------------------------------------------------------ internals
    def _advance(self, t: float):
        if not math.isfinite(t):
            raise ValueError(f'time must be finite, got {t!r}')
        if t < self._now:
            self._clock_jumped(t)
        self._now = t

    def _clock_jumped(self, t: float):
        # The clock went back (a simulator restart, a wall-clock step): every time-stamped
        # memory is meaningless. Stop commanding and start over from fresh measurements;
        # latched e-stop and fault stay latched.
        self.counts['clock_jumps'] += 1
        self.events.append(('warn', f'clock jumped back from {self._now:.3f} to {t:.3f} s: '
                            'waiting for fresh joint states, commands ramp in again'))
        self._measured[:] = np.nan
        self._measured_t[:] = -np.inf
        self._complete = False
        self._state_t = -math.inf
        self._end_stream()
        self._last_stamp = -math.inf
        self._last_cmd_t = -math.inf
        self._cube_t = -math.inf
        self._cube_stamp = 0.0
        self._stale = False
        self._estop_target = None
        self._fault_t = -math.inf     # measurements were wiped: every new one is after it
        self.wear.reset_window()

    def _have_state(self) -> bool:
        return self._complete

    def _measured_window(self) -> np.ndarray:
        return np.clip(self._measured[self._act], self.lower, self.upper)

    def _update(self, t: float):
        """Watchdogs: stale joint states stop the output; a command timeout holds."""
        if not self._have_state():
            return
        if t - self._state_t > self.config.joint_state_timeout:
            if not self._stale:
                self._stale = True
                self.events.append(('error', 'joint states stale (none for '
                                    f'{self.config.joint_state_timeout:g} s): not commanding'))
                self._end_stream()
            return
        if self._stale:
            self._stale = False
            self.events.append(('info', 'joint states fresh again: commands ramp in'))
        if self._commanding and t - self._last_cmd_t > self.config.command_timeout:
            self._commanding = False
            self._timed_out = True
            self._hold = self._stop_point()
            self._hold_home = self.config.timeout_action == 'home'
            self.counts['command_timeouts'] += 1
            self.events.append(('warn', 'command timeout: ' + (
                'easing to the home pose' if self._hold_home else 'holding the last safe '
                'target')))

    def _end_stream(self):
        self._streaming = False
        self._commanding = False
        self._estop_target = None     # once outputs resume, hold the pose measured then
        self._v[:] = 0.0
        self._t_out = -math.inf

    def _start_stream(self, t: float):
        self._x = self._measured_window()
        self._x.flags.writeable = False
        self._v = np.zeros(self.n)
        self._t_out = t
        self._streaming = True
        self._restart_pending = True
        self._hold = self._x.copy()
        self._hold_home = False
        self.wear.restart_stroke(self._x)

    def _start_commanding(self, t: float):
        if not self._streaming:
            self._start_stream(t)
        self._commanding = True
        self._timed_out = False
        self._hold_home = False
        self._goal = self._x.copy()
        self._pushing[:] = False
        self._ramp_t0 = t
        self._ramp_start = self._measured_window()

    def _hold_here(self):
        self._commanding = False
        self._timed_out = False
        self._hold_home = False
        self._hold = self._stop_point() if self._streaming else self._x.copy()

    def _stop_point(self) -> np.ndarray:
        """Where the targets come to rest when braking at the acceleration limit."""
        stop = self._x + self._v * np.abs(self._v) / self._two_a
        return np.clip(stop, self.lower, self.upper)

    def _latch_fault(self, message: str):
        self._fault = message
        self._fault_t = self._now       # reset_fault needs measurements newer than this
        self.counts['faults'] += 1
        self._commanding = False
        self._hold = self._stop_point() if self._streaming else self._x.copy()
        self._hold_home = False
        self.events.append(('error', f'FAULT latched: {message}; holding the last safe target '
                            'until ~/reset_fault'))

    def _commanded_target(self, t: float):
        ramp = self.config.ramp_time
        if ramp > 0 and t - self._ramp_t0 < ramp:
            alpha = max(0.0, (t - self._ramp_t0) / ramp)
            start = self._ramp_start
            return start + alpha * (self._goal - start), 'ramp'
        return self._goal, 'active'

    def _window_target(self, desired: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum(desired, self._win_lo), self._win_hi)

    def _step(self, t, desired, mode, speed_cap, count_clamps=False) -> Output | None:
        """
        Move the targets toward desired as far as every limit allows; return the Output.

        Return None (a fault latched, nothing to publish) if the result is not a finite
        target inside the position window.

        desired must lie in the position window (goals, holds, ramps and home all do).
        """
        restarted = self._restart_pending
        self._restart_pending = False
        elapsed = t - self._t_out
        x = self._x
        if elapsed > self._max_step_dt:
            dt = self._max_step_dt
            self._v = np.zeros(self.n)    # after a gap the targets were at rest
        elif elapsed > 0.0:
            dt = elapsed
        else:
            self._n_outputs += 1
            self._t_out = t
            return Output(t, x, restarted, mode)
        v_prev = self._v
        # Tracking window (around the measured pose, inside the position window).
        goal = _minimum(_maximum(desired, self._win_lo), self._win_hi)
        # Velocity that reaches the goal without overshooting it: braking distance planned at
        # a_max (v <= sqrt(2 a d), discretised so that it holds for any later step timing).
        error = goal - x
        distance = _abs(error)
        if self._a_uniform:       # one acceleration limit for all joints: scalar arithmetic
            a_dt = self._a_uniform * dt
            brake = self._two_a * distance
            brake += a_dt * a_dt
        else:
            a_dt = self.max_acceleration * dt
            brake = self._two_a * distance
            brake += self._a_squared * (dt * dt)
        _sqrt(brake, out=brake)
        brake -= a_dt
        distance /= dt
        v_want = _copysign(_minimum(distance, brake, out=brake), error)
        # Velocity window (a reduced limit is reached by braking at a_max), acceleration window.
        v_lim, v_neg = self._velocity_limit(t)
        if speed_cap is not None or v_lim is not self.max_velocity:
            if speed_cap is not None:
                v_lim = _minimum(v_lim, speed_cap)
            v_lim = _maximum(v_lim, _abs(v_prev) - a_dt)
            v_neg = -v_lim
        v = _maximum(v_want, _maximum(v_neg, v_prev - a_dt))
        _minimum(v, _minimum(v_lim, v_prev + a_dt), out=v)
        if count_clamps:
            self._clamps_motion += v != v_want
        v *= dt
        v += x
        # The braking plan keeps the targets inside the window; this clip only guards against
        # floating-point rounding.
        x_new = _minimum(_maximum(v, self.lower, out=v), self.upper, out=v)
        # The last line: a NaN (from limits that overflow the arithmetic) passes the clip above
        # and fails every comparison. Never send it: stop commanding and latch a fault.
        if _count_nonzero((x_new >= self.lower) & (x_new <= self.upper)) != self.n:
            self._refuse_output(x_new, mode)
            return None
        x_new.flags.writeable = False     # shared by the Output and the state: read-only
        step = x_new - x
        self._v = step / dt
        if self._wear_enabled or count_clamps:
            tracking = goal != desired
            if count_clamps:
                self._clamps_tracking += tracking
            # Pressing: held off by the tracking window, or a policy pushing against a position
            # limit (its raw target beyond the window while the target sits at the edge).
            if self._commanding:
                tracking |= self._pushing & (goal == x_new)
            self.wear.record(t, x_new, step, min(elapsed, self.wear.width), tracking)
        self._x = x_new
        self._t_out = t
        self._n_outputs += 1
        return Output(t, x_new, restarted, mode)

    def _refuse_output(self, x_bad: np.ndarray, mode: str):
        bad = [nm for nm, x, lo, hi in zip(self.names, x_bad, self.lower, self.upper)
               if not lo <= x <= hi]
        message = (f'computed a non-finite or out-of-window target for {", ".join(bad)} '
                   f'({mode}); nothing published')
        self._end_stream()                # the last safe target stays self._x
        if self._fault is None:
            self._latch_fault(message)
        else:
            self.events.append(('error', message))
        self.counts['refused_outputs'] += 1

    def _velocity_limit(self, t: float):
        """Return the velocity limits now and their negatives (max_velocity when unscaled)."""
        scale = self.velocity_scale(t)
        if scale != self._v_lim_scale or self.wear.version != self._v_lim_version:
            self._v_lim_scale = scale
            self._v_lim_version = self.wear.version
            if scale == 1.0 and not self.wear.throttled.any():
                self._v_lim = self.max_velocity
            else:
                self._v_lim = self.max_velocity * scale * self.wear.scale
            self._v_neg = -self._v_lim
        return self._v_lim, self._v_neg

    def _drop(self, reason: str, detail: str) -> Drop:
        self.drops[reason] += 1
        return Drop(reason, detail)

    def _count_js_drop(self, reason: str, detail: str):
        self.drops[f'joint_states_{reason}'] += 1
        self.events.append(('warn', f'/joint_states dropped: {detail}'))


def _ramp(value: float, low: float, high: float) -> float:
    """0 at or below low, 1 at or above high, linear between."""
    if value <= low:
        return 0.0
    if value >= high:
        return 1.0
    return (value - low) / (high - low)
