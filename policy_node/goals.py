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
Goals and success metrics for cube reorientation, without ROS.

GoalSampler draws goal orientations at least min_angle (90 degrees by default, as Playground)
from the previous goal (the first one from the cube's measured orientation at the start),
either from one generator (random) or reseeded per episode (sequence, and its task name
reorient: episode k from the same start always gets the same goals, for reproducible
evaluation). The yaw task turns each goal by yaw_step (90 degrees) about the world's vertical
axis from the previous one, so a cube that starts face-up stays face-up: the in-hand rotation
benchmark, the first task a policy learns. Episode tracks one
episode: a goal counts as reached when the rotation to it stays below success_threshold (0.4
rad, as Dactyl and DeXtreme evaluate) for hold_s, then the next goal follows; the episode ends
on a drop (cube centre more than drop_below_palm under the palm), when the pose is lost for
pose_timeout_s, when a goal is not reached within goal_timeout_s, when the episode has run
episode_timeout_s (if set), or after max_successes.
Times are whatever clock the caller passes (the node passes its ROS clock: sim time aware).
"""
from dataclasses import dataclass, field
import json
import math
import pathlib

from inhand.transforms import (axis_angle_to_quat, quat_multiply, quat_normalize, random_quat,
                               rotation_between)
import numpy as np

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])
END_REASONS = ('drop', 'pose_lost', 'goal_timeout', 'episode_timeout', 'max_successes',
               'stopped')
GOAL_MODES = ('sequence', 'random', 'reorient', 'yaw')


def quat_problem(quat, tolerance: float = 0.1) -> str:
    """
    Return why quat (wxyz) is not a usable orientation, or '' when it is.

    A quaternion must be finite with a norm within tolerance of 1: a zero or far from unit
    quaternion is a broken message, not an orientation, and normalizing it would hide that.
    """
    q = np.asarray(quat, dtype=float)
    if q.shape != (4,):
        return f'quaternion has shape {q.shape}, expected (4,)'
    if not np.all(np.isfinite(q)):
        return f'quaternion {q.tolist()} is not finite'
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > tolerance:
        return f'quaternion {q.tolist()} has norm {norm:.3g}, expected 1 +- {tolerance:g}'
    return ''


def checked_quat(quat, what: str) -> np.ndarray:
    """Return quat (wxyz) normalized, or raise ValueError naming what when quat_problem()."""
    problem = quat_problem(quat)
    if problem:
        raise ValueError(f'{what}: {problem}')
    return quat_normalize(np.asarray(quat, dtype=float))


class GoalSampler:
    """
    Goal orientations (wxyz), each at least min_angle from the previous one.

    Modes: random (one generator for the whole run), sequence or reorient (reseeded from
    (seed, episode): the same goals for the same start), yaw (each goal the previous one turned
    by yaw_step about world z; no randomness).
    """

    def __init__(self, mode='random', seed=None, min_angle=math.pi / 2, yaw_step=math.pi / 2,
                 max_angle=math.pi):
        if mode not in GOAL_MODES:
            raise ValueError(f'goal mode must be one of {", ".join(GOAL_MODES)}, got {mode!r}')
        if mode in ('sequence', 'reorient') and seed is None:
            raise ValueError(f'goal mode {mode} needs a seed')
        if not 0.0 <= min_angle < math.pi:
            raise ValueError(f'min_angle must be in [0, pi), got {min_angle}')
        if not min_angle < max_angle <= math.pi:
            raise ValueError(f'max_angle must be in (min_angle, pi], got {max_angle}')
        if not (math.isfinite(yaw_step) and 0.0 < abs(yaw_step) <= math.pi):
            raise ValueError(f'yaw_step must be in [-pi, pi] and not 0, got {yaw_step}')
        self.mode = mode
        self.seed = seed
        self.min_angle = min_angle
        # Below pi: each goal is the previous one turned about a random axis by an angle drawn
        # uniformly in [min_angle, max_angle] (a training curriculum of nearer goals).
        self.max_angle = max_angle
        self.yaw_turn = axis_angle_to_quat([0.0, 0.0, 1.0], yaw_step)
        self.rng = np.random.default_rng(seed)
        self.previous = IDENTITY

    def start_episode(self, episode: int, start=None) -> None:
        """
        Begin an episode's goals, the first one at least min_angle from start (wxyz).

        start is the cube's measured orientation at the episode start (a reset may leave it in
        any face-aligned orientation); None means the nominal orientation (identity). In
        sequence, reorient and yaw modes the goals depend only on (seed, episode, start).
        """
        if self.mode in ('sequence', 'reorient'):
            self.rng = np.random.default_rng([self.seed, episode])
        self.previous = IDENTITY if start is None else checked_quat(start, 'start orientation')

    def next_goal(self) -> np.ndarray:
        if self.mode == 'yaw':
            self.previous = quat_normalize(quat_multiply(self.yaw_turn, self.previous))
            return self.previous
        if self.max_angle < math.pi:
            axis = self.rng.normal(size=3)
            angle = self.rng.uniform(self.min_angle, self.max_angle)
            turn = axis_angle_to_quat(axis / np.linalg.norm(axis), angle)
            self.previous = quat_normalize(quat_multiply(turn, self.previous))
            return self.previous
        for _ in range(10000):
            # Uniform rotations fall within 90 degrees of a given one with probability
            # (pi/2 - 1)/pi = 0.18, so rejection sampling ends after a few draws.
            goal = random_quat(self.rng)
            if rotation_between(self.previous, goal) >= self.min_angle:
                self.previous = goal
                return goal
        raise RuntimeError(f'no goal found {self.min_angle} rad from the previous one')


@dataclass(frozen=True)
class EpisodeConfig:
    success_threshold: float = 0.4      # rad
    hold_s: float = 0.0                 # the rotation must stay below the threshold this long
    max_successes: int = 50             # Dactyl's episode cap
    goal_timeout_s: float = 80.0        # Dactyl's real-robot evaluation per goal
    episode_timeout_s: float = 0.0      # the whole episode's time limit; 0: none
    pose_timeout_s: float = 1.0
    drop_below_palm: float = 0.05       # m, as config/sim/scene.yaml drop.below_palm

    def __post_init__(self):
        for name in ('success_threshold', 'goal_timeout_s', 'pose_timeout_s',
                     'drop_below_palm'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
        if self.hold_s < 0 or self.max_successes < 1:
            raise ValueError('hold_s must be >= 0 and max_successes >= 1')
        if not self.episode_timeout_s >= 0:
            raise ValueError(f'episode_timeout_s must be >= 0 (0: none), got '
                             f'{self.episode_timeout_s}')


@dataclass
class Episode:
    """One episode's bookkeeping; update() and tick() return the events that happened."""

    index: int
    config: EpisodeConfig
    sampler: GoalSampler
    start_time: float
    start_quat: np.ndarray = None       # the cube's measured orientation at the start (wxyz)
    goal: np.ndarray = None
    goal_start: float = 0.0
    successes: int = 0
    success_times: list = field(default_factory=list)
    goals: list = field(default_factory=list)
    last_pose_time: float = None
    below_since: float = None
    last_error: float = math.nan
    end_time: float = None
    reason: str = None

    def __post_init__(self):
        self.sampler.start_episode(self.index, self.start_quat)
        self.last_pose_time = self.start_time
        self._new_goal(self.start_time)

    @property
    def running(self) -> bool:
        return self.reason is None

    def _new_goal(self, now):
        self.goal = self.sampler.next_goal()
        self.goal_start = now
        self.below_since = None
        self.goals.append([round(float(v), 6) for v in self.goal])

    def update(self, now: float, cube_position, cube_quat, palm_position) -> list:
        """
        Feed one cube pose (world, wxyz) and the palm position; return the events.

        A quaternion that quat_problem() refuses raises ValueError: callers drop such poses.
        """
        if not self.running:
            return []
        # Checked before anything changes: a refused pose counts as no pose at all.
        cube_quat = checked_quat(cube_quat, 'cube orientation')
        self.last_pose_time = now
        if cube_position[2] < palm_position[2] - self.config.drop_below_palm:
            return [self.end(now, 'drop')]
        self.last_error = rotation_between(cube_quat, self.goal)
        events = []
        if self.last_error < self.config.success_threshold:
            if self.below_since is None:
                self.below_since = now
            if now - self.below_since >= self.config.hold_s:
                self.successes += 1
                self.success_times.append(round(now - self.goal_start, 4))
                events.append(('success', self.successes))
                if self.successes >= self.config.max_successes:
                    events.append(self.end(now, 'max_successes'))
                else:
                    self._new_goal(now)
                    events.append(('goal', self.goal))
        else:
            self.below_since = None
        return events

    def tick(self, now: float) -> list:
        """Check the timeouts; return the events."""
        if not self.running:
            return []
        if now - self.last_pose_time > self.config.pose_timeout_s:
            return [self.end(now, 'pose_lost')]
        if now - self.goal_start > self.config.goal_timeout_s:
            return [self.end(now, 'goal_timeout')]
        limit = self.config.episode_timeout_s
        if limit and now - self.start_time > limit:
            return [self.end(now, 'episode_timeout')]
        return []

    def end(self, now: float, reason: str) -> tuple:
        if reason not in END_REASONS:
            raise ValueError(f'unknown end reason {reason!r}')
        if self.running:
            self.end_time = now
            self.reason = reason
        return ('end', self.reason)

    def result(self) -> dict:
        """Return the episode's record (what goes into the results file)."""
        return {
            'episode': self.index,
            'successes': self.successes,
            'reason': self.reason,
            'start_time': round(self.start_time, 4),
            'duration_s': None if self.end_time is None
            else round(self.end_time - self.start_time, 4),
            'time_to_goal_s': list(self.success_times),
            'start_wxyz': None if self.start_quat is None
            else [round(float(v), 6) for v in self.start_quat],
            'goals_wxyz': list(self.goals),
            'last_error_rad': None if math.isnan(self.last_error)
            else round(self.last_error, 4),
            'goal_mode': self.sampler.mode,
            'seed': self.sampler.seed,
            'success_threshold': self.config.success_threshold,
        }


def append_jsonl(path, record: dict) -> None:
    """Append one record as a JSON line (creating the folder), flushed at once."""
    path = pathlib.Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open('a') as stream:
        stream.write(json.dumps(record, sort_keys=True) + '\n')
        stream.flush()


def read_jsonl(path) -> list:
    """Read back a results file."""
    lines = pathlib.Path(path).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
