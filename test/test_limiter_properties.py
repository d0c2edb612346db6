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
Property tests of the limiter core: arbitrary input sequences, every guarantee on every output.

Hypothesis drives SafetyLimiter with commands (full, subsets, unknown and coupled names,
duplicates, wrong lengths, NaN/Inf, huge values, old stamps), joint states (plausible, out of
bounds, NaN, partial), cube poses, e-stops, fault resets, ticks, silences and clock jumps. A
checker written from the specification (not from the implementation) follows along and asserts
on every output: position window, velocity, acceleration, tracking, fresh joint states, mode
gating (e-stop, fault, command timeout), uncertainty scaling and the drop reasons.
"""
import dataclasses
import math

from hand_control.hand_profile import load_hand_profile
from hand_control.limiter import (Drop, LimiterConfig, MALFORMED, Output, SafetyLimiter,
                                  UncertaintyConfig)
from hand_control.limits import parse_joint_limits_params
from hand_control.wear import WearConfig
from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np

PROFILE = load_hand_profile('shadow')
NAMES = PROFILE.actuated_joint_names
ALL = PROFILE.joint_names
ACT = PROFILE.actuated_indices
COUPLED = [n for n, c in zip(ALL, PROFILE.coupled_to) if c]
HW_LO = PROFILE.lower
HW_HI = PROFILE.upper
# Overrides exercised by some examples: a soft window and slower limits on two joints.
OVERRIDES = {
    'rh_FFJ3': {'has_soft_limits': True, 'soft_lower_limit': 0.3, 'soft_upper_limit': 1.0},
    'rh_THJ1': {'has_velocity_limits': True, 'max_velocity': 0.5,
                'has_acceleration_limits': True, 'max_acceleration': 5.0},
}
REL = 1e-7     # relative slack for floating point
ABS = 1e-9

finite = st.one_of(st.floats(-2.0, 2.0), st.sampled_from([-1e300, 1e300, -1e9, 1e9, -0.0]))
value = st.one_of(finite, st.floats(allow_nan=True, allow_infinity=True))


@st.composite
def configs(draw):
    return {
        'config': LimiterConfig(
            position_margin=draw(st.sampled_from([0.0, 0.01, 0.05])),
            fault_tolerance=draw(st.sampled_from([0.0087, 0.05])),
            max_tracking_error=draw(st.sampled_from([0.2, 0.4, 1.0])),
            command_timeout=draw(st.sampled_from([0.05, 0.25])),
            joint_state_timeout=draw(st.sampled_from([0.05, 0.25])),
            timeout_action=draw(st.sampled_from(['hold', 'home'])),
            home_velocity=draw(st.sampled_from([0.1, 0.5])),
            ramp_time=draw(st.sampled_from([0.0, 0.1, 0.5])),
            max_step_dt=draw(st.sampled_from([0.01, 0.05])),
            uncertainty=UncertaintyConfig(enabled=draw(st.booleans()), timeout=0.2,
                                          min_scale=0.25),
            wear=WearConfig(window=2.0, buckets=10, max_mean_speed=0.5,
                            max_reversal_rate=2.0, max_pressed_fraction=0.3)),
        'overrides': draw(st.sampled_from([{}, OVERRIDES])),
    }


@st.composite
def events(draw, fixed_measurement=None):
    """
    One input event: (kind, dt, deliver_js, payload...).

    deliver_js: a /joint_states message from the simulated plant arrives first (most events),
    so streams run long enough to reach every state; explicit 'js' events add malformed,
    partial, out-of-bounds and foreign-joint messages.
    """
    kind = draw(st.sampled_from(['cmd'] * 10 + ['tick'] * 6 + ['js'] * 2 + ['burst'] * 2 + [
        'push', 'cube', 'estop', 'release', 'reset_fault', 'jump', 'silence']))
    dt = draw(st.one_of(st.just(0.0), st.floats(0.0, 0.01), st.floats(0.0, 0.03),
                        st.floats(0.03, 0.3)))
    deliver = draw(st.sampled_from([True] * 6 + [False]))
    if kind == 'cmd':
        variant = draw(st.sampled_from(['full'] * 4 + ['wave'] * 4 + [
            'subset', 'subset', 'nan', 'unknown', 'coupled', 'duplicate', 'length', 'empty',
            'velocity', 'effort']))
        if variant == 'wave':     # violent full-range square wave
            high = draw(st.booleans())
            names = list(NAMES)
            positions = list((HW_HI if high else HW_LO)[ACT] + (0.5 if high else -0.5))
        elif variant == 'subset':
            names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
            positions = draw(st.lists(finite, min_size=len(names), max_size=len(names)))
        else:
            names = list(NAMES)
            positions = draw(st.lists(finite, min_size=20, max_size=20))
        velocities, efforts = [], []
        if variant == 'nan':
            positions[draw(st.integers(0, 19))] = draw(st.sampled_from(
                [math.nan, math.inf, -math.inf]))
        elif variant == 'unknown':
            names[draw(st.integers(0, 19))] = 'rh_NOPE'
        elif variant == 'coupled':
            names[draw(st.integers(0, 19))] = draw(st.sampled_from(COUPLED))
        elif variant == 'duplicate':
            i, j = draw(st.lists(st.integers(0, 19), min_size=2, max_size=2, unique=True))
            names[i] = names[j]
        elif variant == 'length':
            positions = positions[:draw(st.integers(0, len(positions) - 1))]
        elif variant == 'empty':
            names, positions = [], []
        elif variant == 'velocity':
            velocities = draw(st.lists(value, min_size=1, max_size=20))
        elif variant == 'effort':
            efforts = draw(st.lists(value, min_size=1, max_size=20))
        stamp = draw(st.sampled_from(['zero', 'now', 'now', 'now', 'old', 'nan', 'future']))
        return ('cmd', dt, deliver, names, positions, velocities, efforts, stamp)
    if kind == 'js':
        if fixed_measurement is not None:
            return ('js', dt, False, list(ALL), list(fixed_measurement))
        variant = draw(st.sampled_from(['subset', 'out', 'nan', 'extra', 'length']))
        frac = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=24, max_size=24)))
        positions = list(HW_LO + frac * (HW_HI - HW_LO))
        names = list(ALL)
        if variant == 'subset':
            keep = draw(st.lists(st.integers(0, 23), min_size=1, max_size=24, unique=True))
            names = [names[i] for i in keep]
            positions = [positions[i] for i in keep]
        elif variant == 'out':
            positions[draw(st.integers(0, 23))] = draw(st.sampled_from([-3.0, 3.0]))
        elif variant == 'nan':
            positions[draw(st.integers(0, 23))] = draw(st.sampled_from([math.nan, math.inf]))
        elif variant == 'extra':
            names.append('ra_elbow')
            positions.append(draw(value))
        elif variant == 'length':
            positions = positions[:-1]
        return ('js', dt, False, names, positions)
    if kind == 'burst':   # a violent policy: full-range square waves at a high rate
        period = draw(st.sampled_from([0.001, 0.002, 0.005, 0.02]))
        count = draw(st.integers(5, 150))
        flip = draw(st.integers(1, 40))
        js_every = draw(st.sampled_from([1, 2, 5]))
        return ('burst', dt, deliver, period, count, flip, js_every)
    if kind == 'push':    # the hand is pushed (or a sensor glitches): measured jumps
        joints = draw(st.lists(st.integers(0, 23), min_size=1, max_size=5, unique=True))
        offset = draw(st.floats(-1.0, 1.0))
        return ('push', dt, True, joints, offset)
    if kind == 'cube':
        variance = draw(st.one_of(st.floats(0.0, 0.01), st.just(math.nan), st.just(-1.0)))
        age = draw(st.sampled_from([0.0, 0.0, 0.5]))
        return ('cube', dt, deliver, variance, age)
    if kind == 'jump':
        return ('jump', -draw(st.floats(0.01, 5.0)), deliver)
    if kind == 'silence':
        return ('silence', draw(st.floats(0.3, 30.0)), deliver)
    return (kind, dt, deliver)


class Plant:
    """A hand that follows its targets with a lag; coupled joints follow their drivers."""

    def __init__(self, start):
        self.q = np.array(start, dtype=float)
        self.target = None
        self.driver = [ALL.index(c) if c else -1 for c in PROFILE.coupled_to]

    def advance(self, dt, target):
        if target is not None:
            self.target = target
        if self.target is not None:
            self.q[ACT] += (self.target - self.q[ACT]) * min(1.0, dt / 0.05)
        for i, d in enumerate(self.driver):
            if d >= 0:
                self.q[i] = self.q[d]
        return list(self.q)

    def push(self, joints, offset):
        self.q[joints] = np.clip(self.q[joints] + offset, HW_LO[joints], HW_HI[joints])


class Checker:
    """The guarantees, from the specification; follows the same inputs as the limiter."""

    def __init__(self, config: LimiterConfig, limits: dict):
        self.cfg = config
        act = [limits[n] for n in NAMES]
        self.lower = np.array([j.soft_lower for j in act]) + config.position_margin
        self.upper = np.array([j.soft_upper for j in act]) - config.position_margin
        self.vmax = np.array([j.max_velocity for j in act])
        self.amax = np.array([j.max_acceleration for j in act])
        every = [limits[n] for n in ALL]
        self.fault_lo = np.array([j.min_position for j in every]) - config.fault_tolerance
        self.fault_hi = np.array([j.max_position for j in every]) + config.fault_tolerance
        self.now = -math.inf
        self.m = np.full(24, np.nan)
        self.m_t = np.full(24, -np.inf)
        self.prev = None            # (t, x, v) of the last output of the current stream
        self.last_cmd = -math.inf
        self.last_stamp = -math.inf
        self.cube = None            # (t, stamp, u)
        self.estop = False
        self.fault = False
        self.fault_t = -math.inf    # when the fault latched (a reset needs newer measurements)
        self.estop_target = None    # the pose measured at the stop (None: at the next restart)
        self.ramp_t0 = -math.inf    # when commanding (re)started
        self.home = np.clip(PROFILE.home[ACT], self.lower, self.upper)
        self.throttle_scale = config.wear.throttle_scale
        self.wear = None            # the limiter's WearMonitor: whether a joint is throttled
        self.throttled_before = np.zeros(20, dtype=bool)   # ... before the call under check
        self.outputs = 0

    def time(self, t):
        if t < self.now:            # clock jump: every memory of time goes
            self.m[:] = np.nan
            self.m_t[:] = -np.inf
            self.prev = None
            self.last_cmd = -math.inf
            self.last_stamp = -math.inf
            self.cube = None
            self.fault_t = -math.inf
            self.estop_target = None
        self.now = t

    def fresh(self, t):
        return bool(np.isfinite(self.m[ACT]).all()) and \
            t - self.m_t[ACT].min() <= self.cfg.joint_state_timeout

    def watchdog(self, t):
        """Mirror the limiter's check at commands, ticks and joint states: stale ends a stream."""
        if np.isfinite(self.m[ACT]).all() and not self.fresh(t):
            self.prev = None
            self.last_cmd = -math.inf
            self.estop_target = None    # when outputs resume, hold the pose measured then

    def joint_state(self, t, names, positions, accepted):
        known = [(i, ALL.index(n)) for i, n in enumerate(names) if n in ALL]
        expect = len(positions) == len(names) and all(
            math.isfinite(positions[i]) for i, _ in known)
        assert accepted == expect
        if accepted:
            # A joint state ending a gap is judged against the gap first (starved executor).
            self.watchdog(t)
            for i, j in known:
                self.m[j] = positions[i]
                self.m_t[j] = t
                if not self.fault_lo[j] <= positions[i] <= self.fault_hi[j] \
                        and not self.fault:
                    self.fault = True
                    self.fault_t = t
                    self.last_cmd = -math.inf    # commands ramp in again after a reset

    def scale(self, t):
        cfg = self.cfg.uncertainty
        if not cfg.enabled:
            return cfg.max_scale
        if self.cube is None:
            return cfg.min_scale
        t_cube, stamp, u = self.cube
        if t - t_cube > cfg.timeout or (stamp and t - stamp > cfg.timeout):
            return cfg.min_scale
        return cfg.max_scale - u * (cfg.max_scale - cfg.min_scale)

    def cube_pose(self, t, stamp, variance):
        cfg = self.cfg.uncertainty
        if not math.isfinite(variance) or variance < 0:
            u = 1.0
        else:
            std = math.sqrt(variance)
            u = max(np.clip((std - cfg.position_std_low)
                            / (cfg.position_std_high - cfg.position_std_low), 0, 1),
                    np.clip((std - cfg.rotation_std_low)
                            / (cfg.rotation_std_high - cfg.rotation_std_low), 0, 1))
        self.cube = (t, stamp, float(u))

    @staticmethod
    def malformed(names, positions, velocities, efforts):
        if not names:
            return {'empty'}
        reasons = set()
        if any(n not in NAMES for n in names):
            reasons.add('unknown_joint')
        if len(set(names)) != len(names):
            reasons.add('duplicate_joint')
        for values in (positions, velocities, efforts):
            if len(values) != len(names) and (values is positions or len(values)):
                reasons.add('length_mismatch')
            if not all(math.isfinite(v) for v in values):
                reasons.add('non_finite')
        return reasons

    def command(self, t, stamp, names, positions, velocities, efforts, result):
        reasons = self.malformed(names, positions, velocities, efforts)
        if stamp and not math.isfinite(stamp):
            reasons.add('non_finite')
        if not reasons and stamp and stamp > t + self.cfg.command_timeout:
            reasons.add('future_stamp')          # and not remembered as the last stamp
        if not reasons and stamp and stamp < self.last_stamp:
            reasons.add('stale_stamp')
        if reasons:
            assert isinstance(result, Drop) and result.reason in reasons, (reasons, result)
            return
        if stamp:
            self.last_stamp = stamp
        self.watchdog(t)
        if self.fault:
            assert isinstance(result, Drop) and result.reason == 'fault', result
        elif self.estop:
            assert isinstance(result, Drop) and result.reason == 'estop', result
        elif not self.fresh(t):
            assert isinstance(result, Drop) and result.reason == 'no_joint_states', result
        else:
            assert isinstance(result, Output), result
            if t - self.last_cmd > self.cfg.command_timeout:
                self.ramp_t0 = t             # commands (re)start: they ramp in
            self.last_cmd = t
            self.output(result, from_command=True)

    def press_estop(self):
        if not self.estop:
            # The pose measured now, if a stream is running; else the one measured when
            # outputs resume (never an older one).
            self.estop_target = None if self.prev is None else \
                np.clip(self.m[ACT], self.lower, self.upper)
        self.estop = True

    def tick(self, t, result):
        self.watchdog(t)
        if result is not None:
            self.output(result, from_command=False)
        elif self.fresh(t) and self.prev is not None and not self.fault:
            # Nothing sent: allowed only while nothing moves and a repeat is not due.
            assert t - self.prev[0] < self.cfg.hold_republish_period + 1e-12

    def output(self, out: Output, from_command: bool):
        t, x = out.t, out.positions
        self.outputs += 1
        assert x.shape == (20,) and np.isfinite(x).all()
        # Position window, always.
        assert (x >= self.lower - ABS).all() and (x <= self.upper + ABS).all(), \
            (x - self.lower, self.upper - x)
        # Only with fresh joint states.
        assert self.fresh(t), 'output while joint states are missing or stale'
        # Mode gating.
        if self.fault:
            assert out.mode == 'fault' and not from_command
        elif self.estop:
            assert out.mode == 'estop' and not from_command
        if out.mode in ('active', 'ramp'):
            assert t - self.last_cmd <= self.cfg.command_timeout + 1e-12
            # Ramp-in: for ramp_time after commands (re)start, never skipped, never longer.
            ramping = self.cfg.ramp_time > 0 and t - self.ramp_t0 < self.cfg.ramp_time
            assert out.mode == ('ramp' if ramping else 'active'), (out.mode, t - self.ramp_t0)
        m = self.m[ACT]
        if out.mode == 'estop' and self.estop_target is None:
            self.estop_target = np.clip(m, self.lower, self.upper)
        # A stream starts at the measured pose, and only when there was no previous output.
        assert out.restarted == (self.prev is None), 'restarted mid-stream or not at a start'
        if out.restarted:
            np.testing.assert_allclose(x, np.clip(m, self.lower, self.upper), rtol=0, atol=1e-12)
            self.prev = (t, x, np.zeros(20))
            return
        t0, x0, v0 = self.prev
        elapsed = t - t0
        assert elapsed >= 0
        if elapsed == 0:
            np.testing.assert_array_equal(x, x0)
            return
        dt = elapsed
        if dt > self.cfg.max_step_dt:
            dt, v0 = self.cfg.max_step_dt, np.zeros(20)
        v = (x - x0) / dt
        # What the positions' own rounding (a few ulps of x) makes of v: nothing at the
        # limiter's steps, but a tick a few 1e-14 s after the last output divides a 1e-20 rad
        # rounding into 1e-6 rad/s (hypothesis found one).
        rounding = 8.0 * np.spacing(np.maximum(np.abs(x), np.abs(x0))) / dt
        a_dt = self.amax * dt
        # Velocity: never above the nominal limit; the scaled limit is reached by braking.
        assert (np.abs(v) <= self.vmax * (1 + REL) + ABS + rounding).all(), \
            np.abs(v) / self.vmax
        limit = self.vmax * self.scale(t)
        # Wear throttle (a joint throttled before and after this call was throttled during it).
        throttled = self.throttled_before & self.wear.throttled
        limit = np.where(throttled, limit * self.throttle_scale, limit)
        if out.mode == 'home':
            limit = np.minimum(limit, self.cfg.home_velocity)
        assert (np.abs(v) <= np.maximum(limit, np.abs(v0) - a_dt) * (1 + REL) + 1e-7
                + rounding).all()
        # Acceleration: a window around the previous velocity.
        assert (np.abs(v - v0) <= a_dt * (1 + REL) + 1e-7 + rounding).all(), \
            np.abs(v - v0) / a_dt
        # Tracking: outside the window around the measured pose, a target only moves toward
        # it or brakes at the full acceleration limit (or sits at a position-window edge).
        toward = np.sign(m - x)
        outside = np.abs(x - m) > self.cfg.max_tracking_error + 1e-9
        # At a position-window edge only when that edge is the window's nearest point to the
        # measured position (a target parked at an edge far from it is not excused).
        ok = ((x - x0) * toward > 0) | ((v - v0) * toward >= a_dt * (1 - 1e-6)) \
            | ((x <= self.lower + ABS) & (m <= self.lower + ABS)) \
            | ((x >= self.upper - ABS) & (m >= self.upper - ABS))
        assert not (outside & ~ok).any(), np.flatnonzero(outside & ~ok)
        # Destinations: the e-stop holds the pose measured at the stop, home is home.
        if out.mode == 'estop':
            self.heads_for(self.estop_target, x, x0, v, v0, a_dt, m)
        elif out.mode == 'home':
            self.heads_for(self.home, x, x0, v, v0, a_dt, m)
        self.prev = (t, x, v)

    def heads_for(self, destination, x, x0, v, v0, a_dt, m):
        """
        Assert that the targets head for destination (as seen through the tracking window).

        Each step moves toward it, or accelerates toward it at the full limit (braking a
        motion away); a joint that was at rest and did not move is there.
        """
        d = self.cfg.max_tracking_error
        goal = np.clip(destination, np.clip(m - d, self.lower, self.upper),
                       np.clip(m + d, self.lower, self.upper))
        sign = np.sign(goal - x0)
        ok = ((x - x0) * sign >= -ABS) | ((v - v0) * sign >= a_dt * (1 - 1e-6))
        assert ok.all(), ('moves away from its destination', np.flatnonzero(~ok))
        rest = (x == x0) & (v0 == 0)
        np.testing.assert_allclose(x[rest], goal[rest], rtol=0, atol=1e-9,
                                   err_msg='at rest away from its destination')


def run(setup, sequence, plant_start=None):
    cfg = setup['config']
    limits, _ = parse_joint_limits_params(setup['overrides'], PROFILE)
    limiter = SafetyLimiter(limits, cfg, ALL, NAMES, home=PROFILE.home[ACT])
    check = Checker(cfg, limits)
    check.wear = limiter.wear
    plant = Plant(PROFILE.home if plant_start is None else plant_start)
    t = 100.0
    last = None
    for event in sequence:
        kind, dt, deliver = event[:3]
        t += dt
        check.time(t)
        if kind == 'push':
            plant.push(*event[3:])
        if deliver:
            names, positions = list(ALL), plant.advance(max(dt, 0.0), last)
            check.joint_state(t, names, positions, limiter.on_joint_state(t, names, positions))
        result = None
        check.throttled_before = limiter.wear.throttled.copy()
        if kind == 'burst':
            period, count, flip, js_every = event[3:]
            for k in range(count):
                t += period
                check.time(t)
                if k % js_every == 0:
                    names, positions = list(ALL), plant.advance(period * js_every, last)
                    check.joint_state(t, names, positions,
                                      limiter.on_joint_state(t, names, positions))
                wave = (HW_HI[ACT] + 0.5) if (k // flip) % 2 else (HW_LO[ACT] - 0.5)
                check.throttled_before = limiter.wear.throttled.copy()
                result = limiter.on_command(t, t, list(NAMES), list(wave))
                check.command(t, t, list(NAMES), list(wave), [], [], result)
                if isinstance(result, Output):
                    last = result.positions
        elif kind == 'cmd':
            names, positions, velocities, efforts, stamp_kind = event[3:]
            stamp = {'zero': 0.0, 'now': t, 'old': t - 1.0, 'nan': math.nan,
                     'future': 1.7e9}[stamp_kind]       # wall-clock stamp on a sim clock
            result = limiter.on_command(t, stamp, names, positions, velocities, efforts)
            check.command(t, stamp, names, positions, velocities, efforts, result)
        elif kind == 'js':
            accepted = limiter.on_joint_state(t, event[3], event[4])
            check.joint_state(t, event[3], event[4], accepted)
        elif kind == 'cube':
            variance, age = event[3:]
            covariance = np.zeros(36)
            covariance[[0, 7, 14, 21, 28, 35]] = variance
            assert limiter.on_cube_pose(t, t - age, covariance)
            check.cube_pose(t, t - age, variance)
        elif kind == 'estop':
            limiter.set_estop(True)
            check.press_estop()
        elif kind == 'release':
            limiter.set_estop(False)
            if check.estop:
                check.last_cmd = -math.inf   # commands ramp in again
            check.estop = False
        elif kind == 'reset_fault':
            ok, _ = limiter.reset_fault(t)
            # Every profile joint measured after the fault latched, fresh, and inside.
            fresh = ((check.m_t > check.fault_t)
                     & (t - check.m_t <= cfg.joint_state_timeout)).all()
            inside = ((check.m >= check.fault_lo) & (check.m <= check.fault_hi)).all()
            expected = not check.fault or bool(fresh and inside)
            assert ok == expected
            if check.fault and ok:
                check.fault = False
                check.last_cmd = -math.inf
        else:    # tick, push, jump, silence: the watchdog runs
            result = limiter.tick(t)
            check.tick(t, result)
        if isinstance(result, Output):
            last = result.positions
    summary = limiter.diagnostics(t)
    assert summary.level in (0, 1, 2)
    return limiter, check


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(configs(), st.lists(events(), min_size=1, max_size=80))
def test_every_output_keeps_every_guarantee(setup, sequence):
    run(setup, sequence)


@SETTINGS
@given(configs(), st.lists(events(), max_size=20), st.sampled_from([0.001, 0.005, 0.02]),
       st.integers(3, 60), st.booleans())
def test_estop_in_a_violent_stream_holds_the_pose_measured_at_the_stop(
        setup, prefix, period, count, deliver):
    # Whatever came before: a violent stream (the plant lags far behind its targets), the
    # e-stop, then the hand is watched until the targets rest. The checker asserts they head
    # for, and rest at, the pose measured at the stop (not the last target).
    sequence = prefix + [('release', 0.0, True), ('burst', 0.01, True, period, count, 5, 1),
                         ('estop', 0.0, deliver)] + [('tick', 0.01, True)] * 100
    run(setup, sequence)


@SETTINGS
@given(configs(), st.lists(st.floats(0.0, 1.0), min_size=24, max_size=24),
       st.lists(st.floats(-0.2, 1.2), min_size=20, max_size=20),
       st.sampled_from([0.002, 0.01, 0.02]), st.sampled_from([0.1, 0.5]))
def test_ramp_in_blends_from_the_measured_pose_to_the_policy(
        setup, frac, goal_frac, period, ramp_time):
    # A still hand, one constant goal: while ramping, every target lies between the measured
    # pose and the blend s + alpha (goal - s) seen through the tracking window; it never runs
    # ahead of the blend.
    cfg = dataclasses.replace(setup['config'], ramp_time=ramp_time)
    limits, _ = parse_joint_limits_params(setup['overrides'], PROFILE)
    limiter = SafetyLimiter(limits, cfg, ALL, NAMES, home=PROFILE.home[ACT])
    check = Checker(cfg, limits)
    check.wear = limiter.wear
    measured = list(HW_LO + np.array(frac) * (HW_HI - HW_LO))
    goal = HW_LO[ACT] + np.array(goal_frac) * (HW_HI - HW_LO)[ACT]
    goal_in_window = np.clip(goal, check.lower, check.upper)
    d = cfg.max_tracking_error
    m = np.array(measured)[ACT]
    start = np.clip(m, check.lower, check.upper)
    win_lo = np.clip(m - d, check.lower, check.upper)
    win_hi = np.clip(m + d, check.lower, check.upper)
    t, ramped = 50.0, 0
    for _ in range(int(round((ramp_time + 0.1) / period))):
        t += period
        check.time(t)
        check.joint_state(t, ALL, measured, limiter.on_joint_state(t, ALL, measured))
        check.throttled_before = limiter.wear.throttled.copy()
        result = limiter.on_command(t, t, NAMES, list(goal))
        check.command(t, t, NAMES, list(goal), [], [], result)
        if result.mode != 'ramp':
            continue
        ramped += 1
        alpha = (t - check.ramp_t0) / ramp_time
        blend = np.clip(start + alpha * (goal_in_window - start), win_lo, win_hi)
        x = result.positions
        assert (x >= np.minimum(start, blend) - 1e-9).all() \
            and (x <= np.maximum(start, blend) + 1e-9).all(), (x - start, blend - start)
    assert ramped >= int(ramp_time / period) - 1


@st.composite
def steady_scenarios(draw):
    frac = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=24, max_size=24)))
    measured = HW_LO + frac * (HW_HI - HW_LO)
    body = draw(st.lists(events(fixed_measurement=measured), min_size=1, max_size=80))
    return measured, [('js', 0.0, False, list(ALL), list(measured))] + body


@SETTINGS
@given(configs(), steady_scenarios())
def test_stuck_joint_is_never_commanded_beyond_the_tracking_distance(setup, scenario):
    # The hand does not move (blocked, or a stuck joint) whatever the policy asks: every
    # target stays within max_tracking_error of the measured pose, or, for a joint resting
    # outside a (soft) position window, at the window's edge nearest to it.
    measured, sequence = scenario
    limits = parse_joint_limits_params(setup['overrides'], PROFILE)[0]
    limiter = SafetyLimiter(limits, setup['config'], ALL, NAMES)
    check = Checker(setup['config'], limits)
    m = measured[ACT]
    allowed = np.maximum(setup['config'].max_tracking_error,
                         np.maximum(check.lower - m, m - check.upper))
    t = 0.0
    for event in sequence:
        kind, dt, deliver = event[:3]
        if kind == 'jump':
            continue     # a clock jump forgets the measurement; not this property's subject
        t += dt
        if deliver or kind == 'js':
            limiter.on_joint_state(t, list(ALL), list(measured))
        if kind == 'cmd':
            result = limiter.on_command(t, t, *event[3:7])
        elif kind == 'estop':
            result = limiter.set_estop(True)
        elif kind == 'release':
            result = limiter.set_estop(False)
        else:
            result = limiter.tick(t)
        if isinstance(result, Output):
            gap = np.abs(result.positions - m) - allowed
            assert (gap <= 1e-9).all(), (NAMES[int(np.argmax(gap))], gap.max())


@SETTINGS
@given(configs(), st.lists(events(), min_size=1, max_size=60), st.data())
def test_a_malformed_command_changes_nothing(setup, sequence, data):
    # Dropped whole: the same run with the malformed messages left out sends the same outputs.
    sequence = [e for e in sequence if e[0] != 'jump']
    malformed_at = set()
    for i, e in enumerate(sequence):
        if e[0] == 'cmd' and Checker.malformed(*e[3:7]):
            malformed_at.add(i)
    extra = data.draw(st.lists(st.tuples(st.integers(0, len(sequence)),
                                         st.sampled_from(['nan', 'unknown', 'length'])),
                               max_size=5))
    for position, kind in sorted(extra, reverse=True):
        positions = [0.1] * 20
        names = list(NAMES)
        if kind == 'nan':
            positions[3] = math.nan
        elif kind == 'unknown':
            names[5] = 'rh_FFJ1'
        else:
            positions = positions[:-1]
        sequence.insert(position, ('cmd', 0.0, False, names, positions, [], [], 'now'))
        malformed_at = {i + (i >= position) for i in malformed_at} | {position}

    def outputs(skip):
        cfg = setup['config']
        limiter = SafetyLimiter(parse_joint_limits_params(setup['overrides'], PROFILE)[0],
                                cfg, ALL, NAMES)
        plant = Plant(PROFILE.home)
        t, sent, last = 0.0, [], None
        for i, e in enumerate(sequence):
            kind, dt, deliver = e[:3]
            t += dt
            if kind == 'push':
                plant.push(*e[3:])
            if deliver:
                limiter.on_joint_state(t, list(ALL), plant.advance(dt, last))
            if i in skip:
                continue       # the malformed command itself (its joint state still came)
            if kind == 'burst':
                period, count, flip, js_every = e[3:]
                for k in range(count):
                    t += period
                    if k % js_every == 0:
                        limiter.on_joint_state(t, list(ALL), plant.advance(period, last))
                    wave = (HW_HI[ACT] + 0.5) if (k // flip) % 2 else (HW_LO[ACT] - 0.5)
                    r = limiter.on_command(t, t, NAMES, list(wave))
                    if isinstance(r, Output):
                        last = r.positions
                        sent.append((i, r.t, r.positions.tolist(), r.mode))
                continue
            if kind == 'cmd':
                r = limiter.on_command(t, 0.0 if e[7] == 'zero' else t, *e[3:7])
            elif kind == 'js':
                r = limiter.on_joint_state(t, e[3], e[4])
            elif kind == 'estop':
                r = limiter.set_estop(True)
            elif kind == 'release':
                r = limiter.set_estop(False)
            elif kind == 'reset_fault':
                r = limiter.reset_fault(t)
            elif kind == 'cube':
                r = limiter.on_cube_pose(t, t, np.zeros(36))
            else:
                r = limiter.tick(t)
            if isinstance(r, Output):
                last = r.positions
                sent.append((i, r.t, r.positions.tolist(), r.mode))
        return sent, limiter

    with_bad, limiter = outputs(set())
    without, _ = outputs(malformed_at)
    assert with_bad == without
    dropped = sum(limiter.drops[r] for r in MALFORMED)
    assert dropped == len(malformed_at)
