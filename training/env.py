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
The training environment: a batch of simulated hands stepped together, ROS-free, NumPy.

Each environment is what the graph runs, minus the middleware:

    HandSim (sim_bridge's scene, physics and domain randomization)
      -> joint state + cube pose, with sensor noise, pose delay and dropouts
      -> PolicyStepper (policy_node's observation builder and action decoder, per the spec)
      -> network (outside: the trainer's torch policy, or the ONNX model in evaluation)
      -> PolicyStepper.act -> joint targets, after a randomised action delay
      -> SafetyLimiter (hand_control's core, configured by the node's parameter file)
      -> HandSim targets; physics for one control period

so that what is trained is what runs: the same scene builders and config files, the same
observation code, the same limiter. Physics runs on a thread pool (MuJoCo releases the GIL in
mj_step); goals, rewards, terminations and the critic's privileged state are computed
vectorised over the batch. Goals come from policy_node.goals.GoalSampler, in the goal mode of
the task's name, so the goal_manager evaluates exactly the task that was trained.
"""
from concurrent.futures import ThreadPoolExecutor
import math

from hand_control.hand_profile import load_hand_profile
from hand_control.limiter import Output
from hand_control.limiter_params import limiter_factory
from inhand.hand_model import CameraRig, load_scene_config
from inhand.transforms import axis_angle_to_quat, quat_multiply, quat_normalize
import numpy as np
from policy_node.goals import GoalSampler
from policy_node.kinematics import HandKinematics, load_hand_model
from policy_node.runner import PolicyStepper
from policy_node.spec import load_spec
from sim_bridge.simulator import HandSim, SimulationUnstable
from training.config import TrainConfig

# Exact ground truth, as sim_bridge publishes /cube/pose_gt: the limiter never slows down for it.
_GT_COVARIANCE = np.zeros(36)
# Control steps between two cube poses given to the limiter: well inside its uncertainty
# timeout (0.5 s), so it never slows down for a stale pose; every step would only cost time.
_POSE_EVERY = 4
# Per-step means of reward terms that pop_stats() reports (the trainer logs them).
STAT_KEYS = ('rotation_progress_rad', 'fingertip_distance_m', 'cube_offset_m',
             'wear_duty_max', 'wear_throttled_joints', 'samples')
# Privileged critic inputs: true cube position (palm-relative, world axes) and orientation,
# cube linear and angular velocity, true rotation error; with the wear budget on, also each
# limited joint's wear duty and throttle, which the policy cannot see but the reward charges.
PRIVILEGED_EXTRA = 3 + 4 + 3 + 3 + 1


def batch_rotation_angle(q_a: np.ndarray, q_b: np.ndarray) -> np.ndarray:
    """Angles [rad] of the rotations between rows of two (n, 4) wxyz quaternion arrays."""
    dot = np.abs(np.sum(q_a * q_b, axis=1)) / (
        np.linalg.norm(q_a, axis=1) * np.linalg.norm(q_b, axis=1))
    return 2.0 * np.arccos(np.clip(dot, 0.0, 1.0))


def _noisy_quat(rng, quat, std):
    if std <= 0:
        return quat
    axis = rng.normal(size=3)
    return quat_normalize(quat_multiply(
        axis_angle_to_quat(axis / np.linalg.norm(axis), rng.normal(0.0, std)), quat))


class HandCubeEnvs:
    """N hands with cubes, each an episode of goals; step(actions) -> obs, reward, done."""

    def __init__(self, config: TrainConfig, num_envs=None, seed=0, threads=2,
                 randomize=True, goal_timeout_s=None, spec=None, apply_limiter=True):
        """
        Build num_envs (default config.envs) environments from the config's files.

        seed makes everything reproducible (physics draws, noise, delays, goals). randomize
        False turns off physics randomization, noise, delays and dropouts (evaluation of the
        nominal system); the cube's start orientation stays random per the config.
        goal_timeout_s: evaluate as the goal_manager does, an episode ends when one goal takes
        longer than this; the config's episode time limit then does not apply.
        spec: a PolicySpec to use instead of the config's (evaluating a deployed model).
        """
        self.config = config
        self.num_envs = int(num_envs or config.envs)
        self.randomize = randomize
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.profile = load_hand_profile(config.hand)
        self.scene = load_scene_config(config.scene)
        self.spec = spec if spec is not None else load_spec(config.spec)
        kinematics = HandKinematics(self.profile, load_hand_model(self.profile, self.scene))
        self.sims = [HandSim(self.profile, self.scene, CameraRig.empty(), seed=seed * 7919 + i)
                     for i in range(self.num_envs)]
        self.steppers = [PolicyStepper(self.spec, self.profile, kinematics=kinematics)
                         for _ in range(self.num_envs)]
        self._new_limiter = limiter_factory(self.profile, config.limiter,
                                            config.limiter_overrides)
        self.limiters = [None] * self.num_envs
        self.dt = 1.0 / self.spec.rate_hz
        self.substeps = int(round(self.dt / self.sims[0].timestep))
        if abs(self.substeps * self.sims[0].timestep - self.dt) > 1e-9:
            raise ValueError(f'{self.spec.source}: control period {self.dt} s is not a whole '
                             f'number of physics steps of {self.sims[0].timestep} s')
        self.max_steps = int(round(config.episode_seconds / self.dt))
        self.goal_timeout_steps = None if goal_timeout_s is None \
            else int(round(goal_timeout_s / self.dt))
        self.action_names = list(self.steppers[0].joint_names)
        self.num_actions = len(self.action_names)
        self.obs_size = self.steppers[0].builder.size
        probe = self._new_limiter()
        self.wear_inputs = len(probe.wear.joint_names) if probe.wear.config.enabled else 0
        self.privileged_size = self.obs_size + PRIVILEGED_EXTRA + 2 * self.wear_inputs
        self.actuated_names = list(self.profile.actuated_joint_names)
        # previous_target: commanded: each stepper builds on the limiter's output, as the
        # policy_runner does on /hand/command (the action joints' places in that output).
        self.follow_commanded = self.steppers[0].follows_commanded
        self._action_in_output = np.array([self.actuated_names.index(name)
                                           for name in self.action_names])
        self.joint_names = list(self.profile.joint_names)
        self.rest_position = np.asarray(self.scene.cube_position, dtype=float)
        self.threads = max(1, int(threads))
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self._chunks = [list(range(k, self.num_envs, self.threads))
                        for k in range(self.threads)]
        n = self.num_envs
        self.goal = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
        self.distance = np.zeros(n)
        self.successes = np.zeros(n, dtype=int)
        self.steps = np.zeros(n, dtype=int)
        self.goal_steps = np.zeros(n, dtype=int)    # control steps since the goal was set
        self.success_steps = [[] for _ in range(n)]  # steps each reached goal took
        self.episodes = np.zeros(n, dtype=int)
        self.delay = np.zeros(n, dtype=int)
        self.pending = np.zeros((n, self.num_actions), dtype=np.float32)
        self.last_actions = np.zeros((n, self.num_actions), dtype=np.float32)
        self.measured = np.zeros((n, len(self.profile.joint_names)))   # true joint positions
        self.seen_pose = [None] * n        # (position, quat) the policy saw last
        self.previous_pose = [None] * n    # the true pose one control step ago
        self.samplers = [None] * n
        self.obs = np.zeros((n, self.obs_size), dtype=np.float32)
        self.privileged = np.zeros((n, self.privileged_size), dtype=np.float32)
        # apply_limiter False: the limiter still sees every command (its counts say what it
        # would have changed) but the hand gets the policy's targets: the "limiter off" row.
        self.apply_limiter = apply_limiter
        self._limiter_totals = np.zeros((n, 5), dtype=np.int64)   # see limiter_stats()
        self.finished = []                 # records of the episodes that ended since pop
        self._sums = dict.fromkeys(STAT_KEYS, 0.0)
        self._episode_counter = 0
        for i in range(n):
            self._reset(i)
        self._observe_all()

    # ------------------------------------------------------------------ episodes

    def _reset(self, i: int):
        sim, cfg = self.sims[i], self.config
        rnd = cfg.randomization
        if self.randomize and rnd.physics:
            sim.randomize(self.rng)
        sim.reset(randomize_cube=rnd.cube_start, rng_seed=int(self.rng.integers(2 ** 31)))
        previous, self.limiters[i] = self.limiters[i], self._new_limiter()
        if previous is not None:
            self._limiter_totals[i, 1:4] += previous.clamps.sum(axis=1)
            # The node's limiter, and its wear window, live on from one episode to the next
            # while this simulator's clock restarts: continue the window, do not forget it.
            self.limiters[i].wear.continue_window(previous.wear)
        q, _, _ = sim.joint_state()
        self.steppers[i].start(q[self.steppers[i].joint_indices])
        position, quat = sim.cube_pose()
        mode = 'yaw' if cfg.task == 'yaw' else 'reorient'
        sampler = GoalSampler(mode, seed=self.seed, min_angle=cfg.min_angle,
                              yaw_step=cfg.yaw_step, max_angle=cfg.max_angle)
        sampler.start_episode(self._episode_counter, quat)
        self._episode_counter += 1
        self.samplers[i] = sampler
        self.goal[i] = sampler.next_goal()
        self.distance[i] = batch_rotation_angle(quat[None], self.goal[i][None])[0]
        self.successes[i] = 0
        self.steps[i] = 0
        self.goal_steps[i] = 0
        self.success_steps[i] = []
        low, high = (int(v) for v in rnd.action_delay_steps)
        self.delay[i] = int(self.rng.integers(low, high + 1)) if self.randomize else 0
        self.pending[i] = 0.0
        self.last_actions[i] = 0.0
        self.seen_pose[i] = (position, quat)
        self.previous_pose[i] = (position, quat)

    def _pose_for_policy(self, i, position, quat):
        """Return the pose the policy sees: maybe one step old or not updated, always noisy."""
        rnd = self.config.randomization
        previous = self.previous_pose[i]
        self.previous_pose[i] = (position, quat)
        if not self.randomize:
            return position, quat
        draw = self.rng.random()
        if draw < rnd.pose_dropout_probability:
            return self.seen_pose[i]
        if draw < rnd.pose_dropout_probability + rnd.pose_delay_probability:
            position, quat = previous
        seen = (position + self.rng.normal(0.0, rnd.cube_position_noise, 3),
                _noisy_quat(self.rng, quat, rnd.cube_rotation_noise))
        self.seen_pose[i] = seen
        return seen

    def _observe(self, i):
        sim, stepper, rnd = self.sims[i], self.steppers[i], self.config.randomization
        q, qd, _ = sim.joint_state()
        self.measured[i] = q        # what /joint_states carries to the limiter (no noise)
        position, quat = sim.cube_pose()
        seen_position, seen_quat = self._pose_for_policy(i, position, quat)
        if self.randomize:
            q = q + self.rng.normal(0.0, rnd.joint_position_noise, q.shape)
            qd = qd + self.rng.normal(0.0, rnd.joint_velocity_noise, qd.shape)
        self.obs[i] = stepper.observe(q, qd, seen_position, seen_quat, self.goal[i])
        linear, angular = sim.cube_velocity()
        palm, _ = sim.palm_pose()
        k = self.obs_size
        extra = self.privileged[i, k:]
        extra[0:3] = position - palm
        extra[3:7] = quat if quat[0] >= 0 else -quat
        extra[7:10] = linear
        extra[10:13] = np.clip(angular * 0.1, -5, 5)
        extra[13] = self.distance[i]
        if self.wear_inputs:
            wear = self.limiters[i].wear
            extra[14:14 + self.wear_inputs] = np.minimum(wear.duty(), 3.0)
            extra[14 + self.wear_inputs:] = wear.throttled
        self.privileged[i, :k] = self.obs[i]

    def _observe_all(self):
        for i in range(self.num_envs):
            self._observe(i)

    def limiter_stats(self, envs=None) -> dict:
        """
        Return what the limiter did (or, with apply_limiter False, would have done) so far.

        envs: the environments to count (indices; default all).
        commands: policy commands it judged; clamped_position / _tracking / _motion: joint
        targets it changed for the position window, the tracking window, and the velocity /
        acceleration (and wear) limits, summed over joints; wear_throttled_joint_steps: joints
        held to the wear budget's reduced speed, summed over commands.
        """
        envs = range(self.num_envs) if envs is None else envs
        totals = np.zeros(5, dtype=np.int64)
        for i in envs:
            totals += self._limiter_totals[i]
            if self.limiters[i] is not None:
                totals[1:4] += self.limiters[i].clamps.sum(axis=1)
        keys = ('commands', 'clamped_position', 'clamped_tracking', 'clamped_motion',
                'wear_throttled_joint_steps')
        return {'applied': self.apply_limiter, **dict(zip(keys, totals.tolist()))}

    # ------------------------------------------------------------------ stepping

    def _command(self, i, action):
        stepper, sim, limiter = self.steppers[i], self.sims[i], self.limiters[i]
        target = stepper.act(action)
        t = sim.time
        limiter.on_joint_state(t, self.joint_names, self.measured[i])
        if self.steps[i] % _POSE_EVERY == 0:
            limiter.on_cube_pose(t, t, _GT_COVARIANCE)
        out = limiter.on_command(t, t, self.action_names, target)
        totals = self._limiter_totals[i]
        totals[0] += 1
        if limiter.wear.config.enabled:
            totals[4] += int(limiter.wear.throttled.sum())
        if not self.apply_limiter:
            sent = sim.set_targets(self.action_names, target)
            if self.follow_commanded:
                stepper.follow(sent)
        elif isinstance(out, Output):
            sim.set_actuated_targets(out.positions)     # the limiter's output order
            if self.follow_commanded:
                stepper.follow(out.positions[self._action_in_output])

    def _physics(self, chunk):
        unstable = []
        for i in chunk:
            try:
                self.sims[i].step(self.substeps)
            except SimulationUnstable:
                unstable.append(i)
        return unstable

    def step(self, actions: np.ndarray):
        """
        Apply one action per environment; return (obs, privileged, reward, done, timeout).

        An environment that ends (drop, time limit, max successes, unstable physics) is reset
        in the same call: the returned observation is its new episode's first, as rsl_rl
        expects. Records of ended episodes collect in self.finished (pop_finished()).
        """
        actions = np.asarray(actions, dtype=np.float32).reshape(self.num_envs,
                                                                self.num_actions)
        if not np.all(np.isfinite(actions)):
            raise ValueError('step(): non-finite action')
        for i in range(self.num_envs):
            if self.delay[i]:
                applied = self.pending[i].copy()
                self.pending[i] = actions[i]
            else:
                applied = actions[i]
            self._command(i, applied)
        if self._pool is None:
            unstable = self._physics(range(self.num_envs))
        else:
            unstable = [i for part in self._pool.map(self._physics, self._chunks) for i in part]
        positions = np.empty((self.num_envs, 3))
        quats = np.empty((self.num_envs, 4))
        tips = np.empty((self.num_envs, len(self.profile.fingertips), 3))
        dropped = np.zeros(self.num_envs, dtype=bool)
        for i, sim in enumerate(self.sims):
            positions[i], quats[i] = sim.cube_pose()
            tips[i] = sim.fingertip_positions()
            dropped[i] = sim.cube_dropped()
        self.steps += 1
        self.goal_steps += 1
        reward, done, timeout = self._rewards(actions, positions, quats, tips, dropped)
        bad = np.zeros(self.num_envs, dtype=bool)
        bad[unstable] = True
        done |= bad
        for i in np.flatnonzero(done):
            reason = 'unstable' if bad[i] else 'drop' if dropped[i] else \
                'max_successes' if self.successes[i] >= self.config.max_successes else \
                'goal_timeout' if self.goal_timeout_steps is not None else 'time'
            self.finished.append({'successes': int(self.successes[i]), 'reason': reason,
                                  'steps': int(self.steps[i]),
                                  'time_to_goal_s': [round(k * self.dt, 3)
                                                     for k in self.success_steps[i]]})
            self._reset(i)
        self._observe_all()
        return self.obs, self.privileged, reward.astype(np.float32), done, timeout

    def _rewards(self, actions, positions, quats, tips, dropped):
        cfg, w = self.config, self.config.reward
        distance = batch_rotation_angle(quats, self.goal)
        progress = self.distance - distance
        success = (distance < cfg.success_threshold) & ~dropped
        offset = np.linalg.norm(positions - self.rest_position, axis=1)
        reach = np.linalg.norm(tips - positions[:, None, :], axis=2).mean(axis=1)
        change = np.sum(np.square(actions - self.last_actions), axis=1)
        self.last_actions = actions.copy()
        duty = np.stack([limiter.wear.duty() for limiter in self.limiters])
        over_budget = np.sum(np.maximum(duty - w.wear_duty_free, 0.0), axis=1)
        reward = (w.rotation_progress * progress + w.success * success
                  + w.drop * dropped + w.cube_offset * offset + w.fingertip_distance * reach
                  + w.action * np.sum(np.square(actions), axis=1) + w.action_rate * change
                  + w.wear_duty * over_budget)
        self.distance = distance
        sums = self._sums
        sums['rotation_progress_rad'] += float(progress.sum())
        sums['fingertip_distance_m'] += float(reach.sum())
        sums['cube_offset_m'] += float(offset.sum())
        sums['wear_duty_max'] += float(duty.max(axis=1).sum())
        sums['wear_throttled_joints'] += float(sum(limiter.wear.throttled.sum()
                                                   for limiter in self.limiters))
        sums['samples'] += len(progress)
        for i in np.flatnonzero(success):
            self.successes[i] += 1
            self.success_steps[i].append(int(self.goal_steps[i]))
            self.goal_steps[i] = 0
            self.goal[i] = self.samplers[i].next_goal()
            self.distance[i] = batch_rotation_angle(quats[i][None], self.goal[i][None])[0]
        if self.goal_timeout_steps is None:
            timeout = (self.steps >= self.max_steps) & ~dropped
        else:
            timeout = (self.goal_steps >= self.goal_timeout_steps) & ~dropped
        done = dropped | timeout | (self.successes >= cfg.max_successes)
        return reward, done, timeout

    def pop_finished(self) -> list:
        """Return and forget the records of the episodes that ended since the last call."""
        finished, self.finished = self.finished, []
        return finished

    def pop_stats(self) -> dict:
        """Return per-step means of the reward terms since the last call, and forget them."""
        sums, self._sums = self._sums, dict.fromkeys(STAT_KEYS, 0.0)
        count = max(sums.pop('samples'), 1.0)
        return {key: value / count for key, value in sums.items()}

    def close(self):
        if self._pool is not None:
            self._pool.shutdown()
        for sim in self.sims:
            sim.close()


def episode_summary(records: list) -> dict:
    """Median/mean consecutive successes, drop share and count of a list of episode records."""
    if not records:
        return {'episodes': 0}
    successes = np.array([r['successes'] for r in records])
    return {'episodes': len(records), 'successes_median': float(np.median(successes)),
            'successes_mean': float(successes.mean()),
            'drops': int(sum(r['reason'] == 'drop' for r in records)),
            'steps_mean': float(np.mean([r['steps'] for r in records]))}


def angle_of(quat) -> float:
    """Rotation angle of one wxyz quaternion [rad]."""
    return 2.0 * math.acos(min(1.0, abs(float(quat[0]))))
