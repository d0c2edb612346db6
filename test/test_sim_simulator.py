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

"""HandSim physics core: commands, coupling, reset, randomization and drop detection."""
import math

from inhand.hand_model import CameraRig, CUBE_BODY
from inhand.transforms import (axis_angle_to_quat, quat_angle, quat_to_matrix,
                               rotation_between)
import mujoco
import numpy as np
import pytest
from sim_bridge.simulator import HandSim, SimulationUnstable

FLOOR_SPOT = ([0.3, 0.3, 0.05], [1.0, 0.0, 0.0, 0.0])    # out of the hand's reach


@pytest.fixture(scope='module')
def sim():
    simulator = HandSim(rig=CameraRig.empty(), seed=3)
    yield simulator
    simulator.close()


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.restore_nominal()
    sim.reset()
    yield


def seconds(sim, duration):
    sim.step(int(round(duration / sim.timestep)))


def index(sim, name):
    return sim.joint_names.index(name)


def test_shapes_and_home(sim):
    position, velocity, effort = sim.joint_state()
    assert position.shape == velocity.shape == effort.shape == (24,)
    np.testing.assert_allclose(position, sim.profile.home)
    np.testing.assert_allclose(velocity, 0.0)
    assert sim.targets().shape == (20,)
    np.testing.assert_allclose(sim.targets(), sim.profile.home[sim.profile.actuated_indices])
    assert sim.fingertip_positions().shape == (5, 3)
    assert sim.camera_names == []
    assert sim.timestep == pytest.approx(0.002)


def test_step_advances_time_and_validates(sim):
    start = sim.time
    sim.step(5)
    assert sim.time == pytest.approx(start + 5 * sim.timestep)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            sim.step(bad)


def test_command_moves_that_joint_and_no_other(sim):
    sim.set_cube_pose(*FLOOR_SPOT)
    before, _, _ = sim.joint_state()
    sim.set_targets(['rh_FFJ3'], [1.0])
    seconds(sim, 1.0)
    after, _, effort = sim.joint_state()
    moved = np.abs(after - before)
    assert after[index(sim, 'rh_FFJ3')] == pytest.approx(1.0, abs=0.05)
    others = [i for i, n in enumerate(sim.joint_names) if n != 'rh_FFJ3']
    assert moved[others].max() < 0.03, dict(zip(np.array(sim.joint_names)[others],
                                                moved[others].round(3)))
    # effort: actuator force of actuated joints, zero for the coupled ones
    for name, value in zip(sim.joint_names, effort):
        if sim.profile.coupled_to[index(sim, name)]:
            assert value == 0.0


def test_fingertip_follows_its_finger(sim):
    sim.set_cube_pose(*FLOOR_SPOT)
    tips = sim.fingertip_positions()
    sim.set_targets(['rh_MFJ3'], [1.2])
    seconds(sim, 1.0)
    moved = np.linalg.norm(sim.fingertip_positions() - tips, axis=1)
    assert moved[1] > 0.03                       # middle finger tip (profile order ff, mf, ...)
    assert np.delete(moved, 1).max() < 0.003
    # bending towards the palm lifts the tip (palm faces +z)
    assert sim.fingertip_positions()[1, 2] > tips[1, 2] + 0.02


def test_coupled_distal_joint_follows_its_driver(sim):
    sim.set_cube_pose(*FLOOR_SPOT)
    sim.set_targets(['rh_RFJ2'], [1.0])
    seconds(sim, 1.0)
    position, _, _ = sim.joint_state()
    assert position[index(sim, 'rh_RFJ2')] > 0.8
    # J1 is driven only through the model's tendon coupling with J2
    assert position[index(sim, 'rh_RFJ1')] > 0.8
    for other in ('rh_FFJ1', 'rh_MFJ1', 'rh_LFJ1'):
        assert abs(position[index(sim, other)]) < 0.05


@pytest.mark.parametrize('names, values, message', [
    (['rh_FFJ3', 'rh_XXJ9'], [0.1, 0.2], "unknown joint 'rh_XXJ9'"),
    (['rh_FFJ3', 'rh_FFJ1'], [0.1, 0.2], "'rh_FFJ1' is coupled to 'rh_FFJ2'"),
    (['rh_FFJ3', 'rh_MFJ3'], [0.1], '2 joint names but positions of shape (1,)'),
    (['rh_FFJ3', 'rh_MFJ3'], [0.1, math.nan], 'non-finite target for rh_MFJ3'),
    (['rh_FFJ3', 'rh_MFJ3'], [0.1, math.inf], 'non-finite target for rh_MFJ3'),
    (['rh_FFJ3', 'rh_FFJ3'], [0.1, 0.2], 'duplicate joint names'),
    (['rh_FFJ3'], [[0.1]], 'positions of shape (1, 1)'),
    ('rh_FFJ3', [0.1], 'list of names'),
])
def test_bad_commands_are_rejected_and_nothing_applied(sim, names, values, message):
    before = sim.targets()
    with pytest.raises(ValueError) as err:
        sim.set_targets(names, values)
    assert message in str(err.value)
    np.testing.assert_array_equal(sim.targets(), before)


def test_targets_clamp_to_ctrlrange(sim):
    applied = sim.set_targets(['rh_FFJ3', 'rh_THJ1'], [5.0, -5.0])
    np.testing.assert_allclose(applied, [1.571, -1.571])
    targets = dict(zip(sim.actuated_joint_names, sim.targets()))
    assert targets['rh_FFJ3'] == pytest.approx(1.571)
    assert targets['rh_THJ1'] == pytest.approx(-1.571)


def test_all_actuated_targets_at_once_clamp_and_refuse_bad_values(sim):
    names = list(sim.actuated_joint_names)
    values = np.zeros(len(names))
    values[names.index('rh_FFJ3')] = 5.0
    sim.set_actuated_targets(values)
    np.testing.assert_allclose(sim.targets(), sim.set_targets(names, values))
    assert sim.targets()[names.index('rh_FFJ3')] == pytest.approx(1.571)
    before = sim.targets()
    for bad in (values[:-1], np.where(np.arange(len(names)) == 2, np.nan, values)):
        with pytest.raises(ValueError, match='finite targets'):
            sim.set_actuated_targets(bad)
        np.testing.assert_array_equal(sim.targets(), before)      # nothing applied


def test_reset_restores_home_and_cube(sim):
    sim.set_targets(['rh_FFJ3', 'rh_THJ5', 'rh_WRJ1'], [1.0, 0.5, -0.3])
    seconds(sim, 0.3)
    sim.set_cube_pose([0.1, 0.1, 0.5], [0.0, 1.0, 0.0, 0.0], linear_velocity=[1, 0, 0])
    time = sim.time
    sim.reset()
    position, velocity, _ = sim.joint_state()
    np.testing.assert_allclose(position, sim.profile.home)
    np.testing.assert_allclose(velocity, 0.0)
    np.testing.assert_allclose(sim.targets(), sim.profile.home[sim.profile.actuated_indices])
    cube_position, cube_quat = sim.cube_pose()
    np.testing.assert_allclose(cube_position, sim.scene.cube_position)
    assert rotation_between(cube_quat, sim.scene.cube_quat) < 1e-9
    assert sim.time == pytest.approx(time)       # the clock never runs backwards


def test_cube_rests_in_the_palm(sim):
    seconds(sim, 2.0)
    position, quat = sim.cube_pose()
    assert not sim.cube_dropped()
    assert np.linalg.norm(position - sim.scene.cube_position) < 0.01
    assert quat_angle(quat) < 0.1
    linear, angular = sim.cube_velocity()
    assert np.linalg.norm(linear) < 0.05
    assert np.linalg.norm(angular) < 0.5


def test_cube_velocity_is_linear_in_world_and_angular_in_cube_axes(sim):
    quat = axis_angle_to_quat([0.0, 0.0, 1.0], math.pi / 2)
    sim.set_cube_pose([0.1, 0.1, 0.5], quat, linear_velocity=[0.3, -0.2, 0.1],
                      angular_velocity=[1.0, 0.0, 0.0])
    linear, angular = sim.cube_velocity()
    cube = mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_BODY, CUBE_BODY)
    world, local = np.zeros(6), np.zeros(6)      # [angular, linear] at the cube's centre
    mujoco.mj_objectVelocity(sim.model, sim.data, mujoco.mjtObj.mjOBJ_BODY, cube, world, 0)
    mujoco.mj_objectVelocity(sim.model, sim.data, mujoco.mjtObj.mjOBJ_BODY, cube, local, 1)
    np.testing.assert_allclose(linear, [0.3, -0.2, 0.1], atol=1e-12)
    np.testing.assert_allclose(linear, world[3:], atol=1e-12)
    # The free joint's angular velocity is in the cube's own axes, not the world's.
    np.testing.assert_allclose(angular, local[:3], atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(quat) @ angular, world[:3], atol=1e-12)
    assert np.linalg.norm(angular - world[:3]) > 1.0


def test_random_reset_orientations_still_rest(sim):
    seen = []
    for seed in range(4):
        sim.reset(randomize_cube=True, rng_seed=seed)
        _, quat = sim.cube_pose()
        seen.append(quat)
        seconds(sim, 1.0)
        position, _ = sim.cube_pose()
        assert not sim.cube_dropped(), f'seed {seed}'
        assert abs(position[2] - sim.scene.cube_position[2]) < 0.01
    assert max(rotation_between(seen[0], q) for q in seen[1:]) > 0.3
    sim.reset(randomize_cube=True, rng_seed=2)
    assert rotation_between(sim.cube_pose()[1], seen[2]) < 1e-9     # seeded: repeatable


def test_drop_detection_by_teleport(sim):
    palm, _ = sim.palm_pose()
    threshold = sim.scene.drop_below_palm
    assert not sim.cube_dropped()
    sim.set_cube_pose(palm + [0.0, 0.0, -threshold + 0.005], [1.0, 0.0, 0.0, 0.0])
    assert not sim.cube_dropped()
    sim.set_cube_pose(palm + [0.0, 0.0, -threshold - 0.005], [1.0, 0.0, 0.0, 0.0])
    assert sim.cube_dropped()


def test_drop_detection_by_pushing_the_cube_off(sim):
    sim.set_cube_pose(sim.scene.cube_position, sim.scene.cube_quat, linear_velocity=[0, 1.0, 0])
    seconds(sim, 1.0)
    position, _ = sim.cube_pose()
    assert sim.cube_dropped()
    assert position[2] < 0.05        # on the floor


def test_set_cube_pose_validates(sim):
    with pytest.raises(ValueError):
        sim.set_cube_pose([0, 0], [1, 0, 0, 0])
    with pytest.raises(ValueError):
        sim.set_cube_pose([0, 0, math.nan], [1, 0, 0, 0])


# ---------------------------------------------------------------- domain randomization

def test_randomize_within_ranges_and_reversible(sim):
    nominal = sim.nominal
    model = sim.model
    ranges = sim.scene.randomization
    applied = sim.randomize(rng=11)
    cube_geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, 'cube')
    cube_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, 'cube')
    lo, hi = ranges['cube_mass_scale']
    ratio = model.body_mass[cube_body] / nominal['body_mass'][cube_body]
    assert lo <= ratio <= hi and ratio == pytest.approx(applied['cube_mass_scale'])
    ratio = model.geom_friction[cube_geom] / nominal['geom_friction'][cube_geom]
    np.testing.assert_allclose(ratio, applied['cube_friction_scale'])
    lo, hi = ranges['actuator_kp_scale']
    kp = model.actuator_gainprm[:, 0] / nominal['actuator_gainprm'][:, 0]
    assert np.all((lo <= kp) & (kp <= hi)) and np.ptp(kp) > 0
    # position servos stay consistent: bias = -kp
    np.testing.assert_allclose(model.actuator_biasprm[:, 1], -model.actuator_gainprm[:, 0])
    lo, hi = ranges['joint_damping_scale']
    hand = nominal['dof_damping'] > 0
    damping = model.dof_damping[hand] / nominal['dof_damping'][hand]
    assert np.all((lo <= damping) & (damping <= hi))
    lo, hi = ranges['link_mass_scale']
    masses = applied['link_mass_scale']
    assert np.all((lo <= masses) & (masses <= hi))
    # a second draw starts from the nominal model: nothing accumulates
    sim.randomize(cube_mass_scale=1.2)
    assert model.body_mass[cube_body] == pytest.approx(1.2 * nominal['body_mass'][cube_body])
    sim.randomize(cube_mass_scale=1.2)
    assert model.body_mass[cube_body] == pytest.approx(1.2 * nominal['body_mass'][cube_body])
    sim.restore_nominal()
    for name, value in nominal.items():
        np.testing.assert_array_equal(getattr(model, name), value, err_msg=name)


def test_randomize_keeps_the_state_and_the_sim_runs(sim):
    sim.set_targets(['rh_FFJ3'], [0.5])
    seconds(sim, 0.2)
    state = sim.joint_state()[0]
    time = sim.time
    sim.randomize(rng=5)
    np.testing.assert_array_equal(sim.joint_state()[0], state)
    assert sim.time == time
    seconds(sim, 0.5)
    assert np.all(np.isfinite(sim.joint_state()[0]))
    assert not sim.cube_dropped()


def test_randomize_is_seeded_and_validates_overrides(sim):
    first = sim.randomize(rng=4)
    second = sim.randomize(rng=4)
    np.testing.assert_array_equal(first['actuator_kp_scale'], second['actuator_kp_scale'])
    fixed = sim.randomize(actuator_kp_scale=(1.0, 1.0), joint_damping_scale=1.0)
    np.testing.assert_allclose(fixed['actuator_kp_scale'], 1.0)
    with pytest.raises(ValueError, match='unknown parameter'):
        sim.randomize(gravity_scale=2.0)
    with pytest.raises(ValueError, match='cube_mass_scale'):
        sim.randomize(cube_mass_scale=(1.5, 1.0))
    with pytest.raises(ValueError, match='camera_position_jitter'):
        sim.randomize(camera_position_jitter=-1.0)


def test_instability_is_reported_and_recovered(sim):
    sim.step(10)
    time = sim.time
    sim.data.qvel[:] = 1e12          # what a blown-up contact looks like to MuJoCo
    with pytest.raises(SimulationUnstable, match='unstable'):
        sim.step(5)
    assert sim.time == pytest.approx(time + 5 * sim.timestep)   # the clock never jumps back
    np.testing.assert_allclose(sim.joint_state()[0], sim.profile.home)
    assert sim.instabilities == 1
    sim.step(10)
    assert np.all(np.isfinite(sim.joint_state()[0]))
