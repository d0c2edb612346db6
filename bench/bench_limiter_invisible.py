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
Benchmark whether the safety limiter cuts a competent policy: the same episodes limiter on/off.

    .venv/bin/python bench/bench_limiter_invisible.py [--policy policies/inhand_yaw.yaml]
        [--task yaw] [--episodes 8] [--seed 0] [--hand leap]

Both rows play the same seeded episodes in the trainer's environment (no ROS; the limiter is
hand_control's own core, with the hand's limiter file as the graph deploys it). "off": the hand
gets the policy's targets while the limiter still judges every command, so its counts say what
it would have changed. Printed per row: consecutive successes (median, mean), and joint targets
changed per 1000 commands for the position window, the tracking window and the motion limits
(velocity, acceleration, wear), plus wear-throttled joints per command. A policy that stays
inside the hand's limits scores the same on both rows (within the noise of the episode count)
and is rarely clamped; docs/hands.md explains how to read the counts and tune a profile.
"""
import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--policy', default='policies/inhand_yaw.yaml')
    parser.add_argument('--task', default='yaw', choices=('yaw', 'reorient'))
    parser.add_argument('--episodes', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--hand', default=None,
                        help="hand profile (default: the task's training config's, Shadow); "
                             'its scene and limiter file come with it')
    args = parser.parse_args(argv)
    from training.evaluate_sim import evaluate
    print(f'{args.policy}, task {args.task}, {args.episodes} episodes, seed {args.seed}, hand '
          f'{args.hand or "of the training config"} (trainer env, limiter file as deployed)')
    print(f'{"limiter":<8} {"median":>7} {"mean":>7}  {"per 1000 commands: position":>28} '
          f'{"tracking":>9} {"motion":>7}  {"wear-throttled/cmd":>18}')
    for applied in (True, False):
        result = evaluate(args.policy, args.task, args.episodes, args.seed,
                          apply_limiter=applied, hand=args.hand)
        stats = result['limiter_stats']
        per = 1000.0 / max(1, stats['commands'])
        print(f'{"on" if applied else "off":<8} {result["successes_median"]:>7g} '
              f'{result["successes_mean"]:>7.2f}  {stats["clamped_position"] * per:>28.1f} '
              f'{stats["clamped_tracking"] * per:>9.1f} {stats["clamped_motion"] * per:>7.1f}  '
              f'{stats["wear_throttled_joint_steps"] / max(1, stats["commands"]):>18.2f}',
              flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
