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
The LEAP hand by configuration alone: profile, scene, Playground spec (issue 13).

The Playground definitions are restated here from mujoco_playground's leap_hand/reorient.py
(`_get_obs`, `step`) on raw MuJoCo data, by Playground's own joint, actuator and site names, so
that our observation builder and action processor are checked against them, not against
themselves.
"""
from hand_control.hand_profile import load_hand_profile
from inhand.hand_model import CameraRig, load_scene_config
from inhand.transforms import axis_angle_to_quat, quat_multiply
import mujoco
import numpy as np
from policy_node.onnx_build import mlp_model, random_mlp_layers, save
from policy_node.runner import load_runner
from policy_node.spec import load_spec
import pytest
from sim_bridge.simulator import HandSim

# mujoco_playground/_src/manipulation/leap_hand/leap_hand_constants.py
PLAYGROUND_JOINTS = ['if_mcp', 'if_rot', 'if_pip', 'if_dip', 'mf_mcp', 'mf_rot', 'mf_pip',
                     'mf_dip', 'rf_mcp', 'rf_rot', 'rf_pip', 'rf_dip', 'th_cmc', 'th_axl',
                     'th_mcp', 'th_ipl']
PLAYGROUND_ACTUATORS = [f'{name}_act' for name in PLAYGROUND_JOINTS]
SPEC = 'policies/playground_leap_reorient.yaml'
SCENE = 'hands/leap.scene.yaml'


@pytest.fixture(scope='module')
def profile():
    return load_hand_profile('leap')


@pytest.fixture(scope='module')
def sim(profile):
    with HandSim(profile, scene=SCENE, rig=CameraRig.empty(), seed=3) as hand:
        yield hand


def test_profile_matches_the_playground_model(profile, sim):
    model = sim.model
    assert len(profile.joint_names) == 16 and profile.coupled_to == ('',) * 16
    for i, mj_name in enumerate(profile.mujoco_joints):
        joint = model.joint(mj_name)
        np.testing.assert_allclose(joint.range, [profile.lower[i], profile.upper[i]],
                                   err_msg=mj_name)
        actuator = model.actuator(profile.actuators[i])
        assert actuator.trnid[0] == joint.id
        np.testing.assert_allclose(actuator.ctrlrange, joint.range)
    # The servo ids of the LEAP driver: index 0-3 (MCP side first), thumb 12-15.
    assert profile.mujoco_joints[profile.index('0')] == 'if_rot'
    assert profile.mujoco_joints[profile.index('1')] == 'if_mcp'
    assert profile.mujoco_joints[profile.index('12')] == 'th_cmc'
    # The wheel has no visual meshes: only visual geoms were dropped, every collision box is
    # there, so the physics is Playground's.
    collision = [model.geom(i).name for i in range(model.ngeom)
                 if model.geom_contype[i] or model.geom_conaffinity[i]]
    assert {f'palm_collision_{k}' for k in range(1, 11)} <= set(collision)
    assert sim.timestep == pytest.approx(0.01)      # Playground's sim_dt


def test_scene_carries_playgrounds_cube(sim):
    scene = load_scene_config(SCENE)
    assert scene.cube_markers == 'cube/aruco_cube_70mm.yaml'
    assert sim.cube.cube_size == pytest.approx(0.07)
    geom = sim.model.geom('cube')
    np.testing.assert_allclose(geom.size, [0.035] * 3)
    assert geom.condim == 3
    np.testing.assert_allclose(geom.friction[:2], [0.3, 0.05])
    assert sim.model.body('cube').mass[0] == pytest.approx(0.108)


def test_the_cube_rests_in_the_leap_palm_at_home(profile, sim):
    sim.reset()
    names = profile.actuated_joint_names
    sim.set_targets(names, profile.home[[profile.index(n) for n in names]])
    sim.step(300)                                   # 3 s
    position, _ = sim.cube_pose()
    palm, _ = sim.palm_pose()
    assert not sim.cube_dropped()
    assert np.linalg.norm(position[:2] - palm[:2]) < 0.06, (position, palm)
    _, velocity = sim.cube_velocity()
    assert np.linalg.norm(velocity) < 0.05          # settled, not sliding off


def playground_observation(sim, goal_wxyz, motor_targets, last_action):
    """Reorient._get_obs without noise, on raw MuJoCo data, by Playground's names."""
    model, data = sim.model, sim.data
    mujoco.mj_forward(model, data)
    angles = np.array([data.qpos[model.joint(n).qposadr[0]] for n in PLAYGROUND_JOINTS])
    palm = data.site('grasp_site').xpos                         # sensor palm_position
    cube = data.body('cube')
    quat_diff = quat_multiply(cube.xquat, goal_wxyz * np.array([1.0, -1.0, -1.0, -1.0]))
    xmat = np.empty(9)
    mujoco.mju_quat2Mat(xmat, quat_diff)
    return np.concatenate([angles, angles - motor_targets, palm - cube.xpos, xmat[3:],
                           last_action])


@pytest.fixture(scope='module')
def fixture_model(tmp_path_factory):
    """Write a network with the tensors of a Playground LEAP export (57 -> 16)."""
    path = tmp_path_factory.mktemp('leap') / 'leap_reorient_fixture.onnx'
    layers = random_mlp_layers(np.random.default_rng(0), [57, 32, 16], gain=0.5)
    save(mlp_model(layers, input_name='obs', output_name='continuous_actions'), path)
    return path


def test_runner_steps_a_playground_leap_network_as_playground_does(profile, sim, fixture_model):
    spec = load_spec(SPEC)
    runner = load_runner(profile, SPEC, str(fixture_model),
                         scene_config=load_scene_config(SCENE))
    assert runner.builder.size == 57 and runner.actions.output_size == 16
    order = [profile.index(n) for n in runner.joint_names]
    assert [profile.mujoco_joints[i] for i in order] == PLAYGROUND_JOINTS
    actuators = [sim.model.actuator(a).id for a in PLAYGROUND_ACTUATORS]
    lowers = sim.model.actuator_ctrlrange[actuators, 0]
    uppers = sim.model.actuator_ctrlrange[actuators, 1]
    sim.reset()
    goal = axis_angle_to_quat([0.3, -0.5, 0.8], 2.0)
    runner.start(sim.data.ctrl[actuators])
    last_action = np.zeros(16)
    for _ in range(10):
        q, qd, _ = sim.joint_state()
        position, quat = sim.cube_pose()
        ctrl = sim.data.ctrl[actuators].copy()
        # What the hand was sent (previous_target: commanded): here the simulator's ctrl.
        runner.follow(ctrl)
        observation = runner.observe(q, qd, position, quat, goal)
        expected = playground_observation(sim, goal, ctrl, last_action)
        np.testing.assert_allclose(observation, expected, atol=1e-5)
        action = runner.policy.run(observation)
        target = runner.act(action)
        # step(): motor_targets = clip(data.ctrl + action * action_scale, ctrlrange)
        np.testing.assert_allclose(target, np.clip(ctrl + 0.5 * action, lowers, uppers),
                                   atol=1e-6)
        last_action = np.asarray(action, dtype=float).reshape(-1)
        sim.set_targets(runner.joint_names, target)
        sim.step(round(spec.period / sim.timestep))   # 5 substeps of 0.01 s


def test_the_leap_rig_sees_the_cube_and_vision_estimates_it(profile):
    from inhand.transforms import rotation_between
    from vision_pose.estimator import (ArucoCubeEstimator, ArucoEstimatorConfig, CameraFrame,
                                       FrameSet)
    from vision_pose.marker_layout import load_cube_layout
    from vision_pose.synthetic import camera_models_from_sim
    scene = load_scene_config(SCENE)
    assert scene.camera_rig == 'cameras/leap_rig.yaml'
    # rig and cube from the scene, as sim_bridge and cube_pose take them
    with HandSim(profile, scene=SCENE, seed=1) as sim:
        assert sim.camera_names == ['vision_cam_top', 'vision_cam_right', 'vision_cam_left']
        cameras = camera_models_from_sim(sim)
        estimator = ArucoCubeEstimator(load_cube_layout(scene.cube_markers),
                                       config=ArucoEstimatorConfig(use_roi=False))
        names = profile.actuated_joint_names
        home = profile.home[[profile.index(n) for n in names]]
        errors = []
        for seed in range(4):
            sim.reset(randomize_cube=True, rng_seed=seed)
            sim.set_targets(names, home)
            sim.step(150)                           # the cube settles in the cupped hand
            truth = sim.cube_pose()
            frames = tuple(CameraFrame(camera=c, image=sim.render(c.name), stamp=float(seed))
                           for c in cameras)
            estimate = estimator.estimate(FrameSet(stamp=float(seed), frames=frames))
            assert estimate is not None, estimator.last_report.reason
            errors.append((np.linalg.norm(estimate.position - truth[0]),
                           np.degrees(rotation_between(truth[1], estimate.quat_wxyz))))
    assert max(e[0] for e in errors) < 3e-3 and max(e[1] for e in errors) < 3.0, errors


def test_the_leap_limiter_is_invisible_to_motion_within_the_hands_limits(profile):
    # The LEAP demo's finger wave stays inside the profile's position, speed and acceleration
    # limits: through the hand's own limiter file, once the limiter has ramped in, every target
    # passes (to within the braking plan below) and nothing is counted as clamped.
    from hand_control.limiter import Output
    from hand_control.limiter_params import build_limiter
    limiter = build_limiter(profile, 'hands/leap.safety_limiter.yaml')
    runner = load_runner(profile, 'policies/leap_demo.yaml', scene_config=load_scene_config(SCENE))
    with HandSim(profile, scene=SCENE, rig=CameraRig.empty(), seed=2) as sim:
        sim.reset()
        q, qd, _ = sim.joint_state()
        runner.start(q[runner.joint_indices])
        period = runner.spec.period
        changed = []
        for step in range(200):                     # 10 s: five periods of the wave
            q, qd, _ = sim.joint_state()
            position, quat = sim.cube_pose()
            target = runner.step(q, qd, position, quat, None)
            limiter.on_joint_state(sim.time, profile.joint_names, q)
            limiter.on_cube_pose(sim.time, sim.time, np.diag([1e-6] * 3 + [1e-4] * 3))
            out = limiter.on_command(sim.time, sim.time, runner.joint_names, target)
            assert isinstance(out, Output), out
            sent = out.positions[[profile.actuated_joint_names.index(n)
                                  for n in runner.joint_names]]
            if step * period > limiter.config.ramp_time + 0.1:
                changed.append(np.abs(sent - target).max())
            sim.set_targets(profile.actuated_joint_names, out.positions)
            sim.step(round(period / sim.timestep))
    # Within 2 mrad: the limiter plans every step so that it could still stop at the target at
    # the acceleration limit, which shortens a step toward a target moving at v by about
    # v^2 / (2 a_max) per step (1 mrad at the wave's 0.75 rad/s); nothing is clamped.
    assert max(changed) < 2e-3
    assert limiter.clamps.sum() == 0


def test_the_trainer_env_evaluates_a_leap_policy_on_the_leap_hand():
    from training.evaluate_sim import evaluate
    result = evaluate('policies/leap_demo.yaml', 'reorient', episodes=2, goal_timeout_s=1.5,
                      hand='leap', threads=1)
    assert result['end_reasons'] == {'goal_timeout': 2}
    stats = result['limiter_stats']
    # the LEAP limiter file (the hand's, as hand:=leap deploys it) never clamps the wave
    assert stats['commands'] >= 2 * 30
    assert stats['clamped_tracking'] == stats['clamped_motion'] == 0
