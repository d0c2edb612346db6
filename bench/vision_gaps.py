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
Where the camera pose goes missing: the estimator on the yaw policy's own motion, offline.

    .venv/bin/python bench/vision_gaps.py [--steps 6000] [--seed 3] [--out gaps.jsonl]

The shipped yaw policy runs in the trainer env (nominal physics, the deployed limiter, ground
truth in its observation); every 1/15 s of sim time a copy of the state is rendered by the
default camera rig and given to the ArUco estimator with the node's settings (tracking on).
Prints how many frame sets came out ok / degraded / lost, why they were lost, the lengths of
the runs of lost sets while the cube was in the hand, and the pose error. A run of 5 or more
lost sets would hold the policy (its max_cube_pose_age is 0.35 s); the 1-hour soak's misses
were found not to come from here but from frames the simulator never rendered (README, Soak).
No ROS, no DDS.
"""
import argparse
import collections
import json

from hand_control.hand_profile import load_hand_profile
from inhand.config import load_yaml
from inhand.transforms import rotation_between
import mujoco
import numpy as np
from policy_node.runner import load_runner
from policy_node.spec import resolve_spec_and_model
from sim_bridge.simulator import HandSim
from training.config import load_train_config
from training.env import HandCubeEnvs
from vision_pose.estimator import CameraFrame, create_estimator, FrameSet
from vision_pose.synthetic import camera_models_from_sim

CAMERA_RATE_HZ = 15.0


def frame_sets(steps: int, seed: int):
    """Yield one record per rendered frame set of a policy-driven run."""
    spec, _ = resolve_spec_and_model('policies/inhand_yaw.yaml', '')
    envs = HandCubeEnvs(load_train_config('training/yaw_wear.yaml'), num_envs=1, seed=seed,
                        threads=1, randomize=False, goal_timeout_s=20.0, spec=spec)
    runner = load_runner(load_hand_profile('shadow'), 'policies/inhand_yaw.yaml', '')
    settings, _ = load_yaml('vision/aruco_estimator.yaml')
    estimator = create_estimator('aruco', dict(settings))
    source = envs.sims[0]
    view = HandSim(envs.profile, envs.scene, seed=0)    # same model, with the camera rig
    cameras = camera_models_from_sim(view)
    t = next_frame = 0.0
    try:
        for _ in range(steps):
            _, _, _, done, _ = envs.step(runner.policy.run(envs.obs[0])[None])
            t += spec.period
            if done[0]:
                estimator.reset()
            while next_frame <= t:
                view.data.qpos[:] = source.data.qpos
                mujoco.mj_forward(view.model, view.data)
                frames = tuple(CameraFrame(camera=c, image=view.render(c.name),
                                           stamp=next_frame) for c in cameras)
                estimate = estimator.estimate(FrameSet(stamp=next_frame, frames=frames))
                report = estimator.last_report
                position, quat = source.cube_pose()
                record = {'t': round(next_frame, 4), 'status': report.status,
                          'reason': report.reason, 'dropped': bool(source.cube_dropped())}
                if estimate is not None:
                    record['error_mm'] = 1e3 * float(np.linalg.norm(estimate.position
                                                                    - position))
                    record['error_deg'] = float(np.degrees(
                        rotation_between(quat, estimate.quat_wxyz)))
                yield record
                next_frame += 1.0 / CAMERA_RATE_HZ
    finally:
        envs.close()
        view.close()


def lost_runs(records) -> list:
    """Return the lengths of the runs of lost frame sets while the cube was in the hand."""
    runs, length = [], 0
    for record in records:
        if record['status'] == 'lost' and not record['dropped']:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    return runs + ([length] if length else [])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--steps', type=int, default=6000, help='control steps (20 Hz)')
    parser.add_argument('--seed', type=int, default=3)
    parser.add_argument('--out', default='', help='also write one JSON line per frame set')
    options = parser.parse_args()
    records = list(frame_sets(options.steps, options.seed))
    if options.out:
        with open(options.out, 'w') as stream:
            stream.writelines(json.dumps(r) + '\n' for r in records)
    print(f'frame sets: {len(records)}',
          dict(collections.Counter(r['status'] for r in records)))
    reasons = collections.Counter(r['reason'].split(':')[0] for r in records
                                  if r['status'] == 'lost')
    print('lost, why:', dict(reasons))
    print('runs of lost sets with the cube in the hand (length: count):',
          dict(sorted(collections.Counter(lost_runs(records)).items())))
    errors = [(r['error_mm'], r['error_deg']) for r in records if 'error_mm' in r]
    if errors:
        mm, deg = np.array(errors).T
        print(f'pose error median / p99 / max: {np.median(mm):.2f} / '
              f'{np.percentile(mm, 99):.2f} / {mm.max():.2f} mm, {np.median(deg):.2f} / '
              f'{np.percentile(deg, 99):.2f} / {deg.max():.2f} deg')


if __name__ == '__main__':
    main()
