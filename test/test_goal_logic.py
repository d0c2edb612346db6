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

"""Goal sampling, success / drop / timeout logic, episode records and the results file."""
import math
import re

from inhand.transforms import (axis_angle_to_quat, matrix_to_quat, quat_multiply,
                               rotation_between)
import numpy as np
from policy_node.goals import (append_jsonl, Episode, EpisodeConfig, GoalSampler, IDENTITY,
                               quat_problem, read_jsonl)
import pytest

PALM = np.array([0.0, 0.0, 0.25])
ON_PALM = np.array([0.0, 0.0, 0.29])


def turned(goal, angle, axis=(0.0, 0.0, 1.0)):
    """Return an orientation `angle` rad away from goal."""
    return quat_multiply(axis_angle_to_quat(axis, angle), goal)


def test_goals_are_at_least_90_degrees_from_the_previous_one():
    sampler = GoalSampler(seed=1)
    sampler.start_episode(0)
    previous = IDENTITY
    angles = []
    for _ in range(300):
        goal = sampler.next_goal()
        angles.append(rotation_between(previous, goal))
        np.testing.assert_allclose(np.linalg.norm(goal), 1.0)
        previous = goal
    assert min(angles) >= math.pi / 2
    # Not a fixed step either: the goals spread over the allowed range.
    assert max(angles) > 2.5 and np.std(angles) > 0.2


def test_sequence_mode_repeats_each_episode_exactly():
    def goals(sampler, episode, n=5):
        sampler.start_episode(episode)
        return np.array([sampler.next_goal() for _ in range(n)])

    a, b = GoalSampler('sequence', seed=7), GoalSampler('sequence', seed=7)
    first = goals(a, 3)
    goals(b, 0)                              # b runs other episodes first
    goals(b, 1, n=40)
    np.testing.assert_array_equal(goals(b, 3), first)
    assert not np.allclose(goals(a, 4), first)
    assert not np.allclose(goals(GoalSampler('sequence', seed=8), 3), first)
    with pytest.raises(ValueError, match='needs a seed'):
        GoalSampler('sequence')


def face_aligned_orientations():
    """Return the 24 rotations that map the cube's faces onto the axes (what a reset leaves)."""
    out = []
    for perm in ((0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1), (2, 1, 0), (1, 0, 2)):
        for signs in np.ndindex(2, 2, 2):
            matrix = np.zeros((3, 3))
            for row, (col, sign) in enumerate(zip(perm, signs)):
                matrix[row, col] = -1.0 if sign else 1.0
            if np.linalg.det(matrix) > 0:
                out.append(matrix_to_quat(matrix))
    return out


def test_a_curriculum_draws_nearer_goals_about_random_axes_reproducibly():
    def goals(episode):
        sampler = GoalSampler('reorient', seed=4, min_angle=0.6, max_angle=1.2)
        sampler.start_episode(episode)
        return [sampler.next_goal() for _ in range(40)]
    first = goals(0)
    angles = [rotation_between(a, b) for a, b in zip([IDENTITY] + first, first)]
    assert min(angles) >= 0.6 - 1e-9 and max(angles) <= 1.2 + 1e-9
    axes = [quat_multiply(b, a * np.array([1, -1, -1, -1]))[1:]
            for a, b in zip([IDENTITY] + first, first)]
    assert min(abs(axis[2]) / np.linalg.norm(axis) for axis in axes) < 0.5   # not all about z
    np.testing.assert_array_equal(goals(0), first)                # same seed and episode
    assert not np.allclose(goals(1)[0], first[0])
    with pytest.raises(ValueError, match='max_angle'):
        GoalSampler('reorient', seed=4, min_angle=0.6, max_angle=0.5)


def test_the_first_goal_is_far_from_the_measured_start_orientation():
    starts = face_aligned_orientations()
    assert len(starts) == 24
    for seed in range(3):
        for start in starts:
            for mode in ('sequence', 'random'):
                sampler = GoalSampler(mode, seed=seed)
                sampler.start_episode(0, start)
                goal = sampler.next_goal()
                assert rotation_between(start, goal) >= math.pi / 2, (seed, start)


def test_a_sequence_is_reproducible_given_the_same_start():
    start = axis_angle_to_quat([1.0, 0.0, 0.0], math.pi)

    def goals(sampler, episode, start, n=4):
        sampler.start_episode(episode, start)
        return np.array([sampler.next_goal() for _ in range(n)])

    a, b = GoalSampler('sequence', seed=5), GoalSampler('sequence', seed=5)
    first = goals(a, 2, start)
    goals(b, 0, IDENTITY, n=30)                 # other episodes in between
    np.testing.assert_array_equal(goals(b, 2, start.copy()), first)
    # Without a start the nominal orientation (identity) is used, as before.
    np.testing.assert_array_equal(goals(a, 2, None), goals(b, 2, IDENTITY))
    with pytest.raises(ValueError, match='start orientation: quaternion .* has norm 0'):
        a.start_episode(0, [0.0, 0.0, 0.0, 0.0])


def test_episode_starts_from_the_measured_orientation_and_records_it():
    start = axis_angle_to_quat([0.0, 1.0, 0.0], math.pi / 2)
    ep = Episode(index=4, config=EpisodeConfig(), sampler=GoalSampler('sequence', seed=1),
                 start_time=0.0, start_quat=start)
    assert rotation_between(start, ep.goal) >= math.pi / 2
    # Sitting still at the start never counts as a success.
    assert ep.update(0.1, ON_PALM, start, PALM) == []
    np.testing.assert_allclose(ep.result()['start_wxyz'], start, atol=1e-6)


@pytest.mark.parametrize('quat, pattern', [
    ([0.0, 0.0, 0.0, 0.0], 'norm 0'),
    ([0.5, 0.0, 0.0, 0.0], 'norm 0.5'),
    ([1.2, 0.0, 0.0, 0.0], 'norm 1.2'),
    ([math.nan, 0.0, 0.0, 1.0], 'not finite'),
    ([1.0, 0.0, 0.0], r'shape \(3,\)'),
])
def test_broken_quaternions_are_named_and_refused_without_changing_the_episode(quat, pattern):
    assert re.search(pattern, quat_problem(quat))
    ep = episode()
    before = (ep.last_pose_time, ep.last_error, ep.running)
    with pytest.raises(ValueError, match=f'cube orientation: .*{pattern}'):
        ep.update(10.5, ON_PALM, quat, PALM)
    assert (ep.last_pose_time, ep.running) == before[::2]
    assert math.isnan(ep.last_error)
    assert quat_problem([0.0, 0.0, 0.0, 1.05]) == ''          # near-unit is fine


def test_success_at_the_default_threshold_records_the_goal_and_the_time(tmp_path):
    config = EpisodeConfig()
    assert config.success_threshold == 0.4 and config.hold_s == 0.0
    ep = episode(config)
    first = ep.goal
    assert ep.update(10.5, ON_PALM, turned(first, 0.41), PALM) == []       # just outside
    assert ep.successes == 0 and math.isclose(ep.last_error, 0.41, abs_tol=1e-9)
    events = ep.update(12.25, ON_PALM, turned(first, 0.39, axis=(1.0, 0.0, 0.0)), PALM)
    assert events[0] == ('success', 1) and events[1][0] == 'goal'
    second = ep.goal
    np.testing.assert_array_equal(events[1][1], second)
    assert rotation_between(first, second) >= math.pi / 2
    # The cube, still at the reached goal, is far from the new one: no second success.
    assert ep.update(12.3, ON_PALM, first, PALM) == []
    assert ep.last_error >= math.pi / 2 - 0.39
    ep.end(13.0, 'stopped')
    path = tmp_path / 'results.jsonl'
    append_jsonl(path, ep.result())
    (record,) = read_jsonl(path)
    assert (record['successes'], record['reason'], record['time_to_goal_s']) == \
        (1, 'stopped', [2.25])
    np.testing.assert_allclose(record['goals_wxyz'], [first, second], atol=1e-6)
    assert record['success_threshold'] == 0.4


def episode(config=None, seed=3):
    return Episode(index=0, config=config or EpisodeConfig(), sampler=GoalSampler(seed=seed),
                   start_time=10.0)


def test_success_below_the_threshold_moves_on_to_a_new_goal():
    ep = episode()
    first = ep.goal
    assert ep.update(10.5, ON_PALM, turned(first, 0.45), PALM) == []
    events = ep.update(11.0, ON_PALM, turned(first, 0.35), PALM)
    assert events[0] == ('success', 1) and events[1][0] == 'goal'
    assert rotation_between(first, ep.goal) >= math.pi / 2
    assert ep.success_times == [1.0] and ep.running
    # Sitting at the old goal does not count for the new one.
    assert ep.update(11.5, ON_PALM, turned(first, 0.0), PALM) == []


def test_hold_time_is_required_when_configured():
    ep = episode(EpisodeConfig(hold_s=0.5))
    goal = ep.goal
    assert ep.update(11.0, ON_PALM, goal, PALM) == []
    assert ep.update(11.3, ON_PALM, goal, PALM) == []
    assert ep.update(11.4, ON_PALM, turned(goal, 0.5), PALM) == []     # left the band
    assert ep.update(11.5, ON_PALM, goal, PALM) == []
    assert ep.update(12.0, ON_PALM, goal, PALM)[0] == ('success', 1)


def test_drop_ends_the_episode():
    ep = episode()
    below = PALM - np.array([0.0, 0.0, 0.06])
    assert ep.update(12.0, ON_PALM, ep.goal, PALM)[0] == ('success', 1)
    assert ep.update(13.0, below, ep.goal, PALM) == [('end', 'drop')]
    assert not ep.running
    assert ep.update(14.0, ON_PALM, ep.goal, PALM) == []
    record = ep.result()
    assert (record['successes'], record['reason'], record['duration_s']) == (1, 'drop', 3.0)
    assert len(record['goals_wxyz']) == 2


def test_pose_lost_goal_timeout_and_max_successes():
    ep = episode(EpisodeConfig(pose_timeout_s=0.5))
    assert ep.tick(10.4) == []
    assert ep.tick(10.6) == [('end', 'pose_lost')]

    ep = episode(EpisodeConfig(goal_timeout_s=2.0))
    ep.update(11.0, ON_PALM, turned(ep.goal, 1.0), PALM)
    assert ep.tick(11.9) == []
    ep.update(11.95, ON_PALM, turned(ep.goal, 1.0), PALM)
    assert ep.tick(12.1) == [('end', 'goal_timeout')]

    ep = episode(EpisodeConfig(max_successes=2))
    ep.update(11.0, ON_PALM, ep.goal, PALM)
    assert ep.update(12.0, ON_PALM, ep.goal, PALM) == [('success', 2), ('end', 'max_successes')]

    # An episode time limit ends an episode that keeps succeeding (the goal timeout never would).
    ep = episode(EpisodeConfig(episode_timeout_s=3.0))
    start = ep.start_time
    for k in range(1, 4):
        ep.update(start + k - 0.1, ON_PALM, ep.goal, PALM)
        assert ep.tick(start + k - 0.05) == []
    assert ep.tick(start + 3.05) == [('end', 'episode_timeout')]
    assert ep.result()['successes'] == 3 and ep.result()['duration_s'] == pytest.approx(3.05)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match='success_threshold must be > 0'):
        EpisodeConfig(success_threshold=0.0)
    with pytest.raises(ValueError, match='episode_timeout_s must be >= 0'):
        EpisodeConfig(episode_timeout_s=-1.0)
    with pytest.raises(ValueError, match='goal mode'):
        GoalSampler('shuffled', seed=1)


def test_results_file_appends_json_lines(tmp_path):
    path = tmp_path / 'runs' / 'results.jsonl'
    for seed in (1, 2):
        ep = episode(seed=seed)
        ep.update(11.0, ON_PALM, ep.goal, PALM)
        ep.end(12.0, 'stopped')
        append_jsonl(path, ep.result())
    records = read_jsonl(path)
    assert [r['successes'] for r in records] == [1, 1]
    assert [r['reason'] for r in records] == ['stopped', 'stopped']
    assert records[0]['goals_wxyz'] != records[1]['goals_wxyz']
    assert path.read_text().count('\n') == 2


def test_yaw_goals_turn_a_quarter_about_the_vertical_and_keep_the_cube_face_up():
    face_down = axis_angle_to_quat([1, 0, 0], math.pi / 2)
    start = quat_multiply(axis_angle_to_quat([0, 0, 1], 0.3), face_down)
    sampler = GoalSampler('yaw', seed=None)
    sampler.start_episode(0, start)
    previous = start
    for k in range(1, 6):
        goal = sampler.next_goal()
        assert rotation_between(previous, goal) == pytest.approx(math.pi / 2, abs=1e-9)
        # the face that was up stays up: the goal is the start turned about world z only
        expected = quat_multiply(axis_angle_to_quat([0, 0, 1], k * math.pi / 2), start)
        assert rotation_between(goal, expected) == pytest.approx(0.0, abs=1e-7)
        previous = goal
    clockwise = GoalSampler('yaw', yaw_step=-math.pi / 2)
    clockwise.start_episode(0, IDENTITY)
    goal = clockwise.next_goal()
    assert goal == pytest.approx(axis_angle_to_quat([0, 0, 1], -math.pi / 2))


def test_reorient_is_the_seeded_sequence_and_bad_modes_are_refused():
    a, b = GoalSampler('reorient', seed=4), GoalSampler('sequence', seed=4)
    a.start_episode(2)
    b.start_episode(2)
    assert np.allclose(a.next_goal(), b.next_goal())
    with pytest.raises(ValueError, match='needs a seed'):
        GoalSampler('reorient', seed=None)
    with pytest.raises(ValueError, match='goal mode must be one of'):
        GoalSampler('spin')
    with pytest.raises(ValueError, match='yaw_step'):
        GoalSampler('yaw', yaw_step=0.0)
