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

"""The runner's forward kinematics agrees with the simulator it will be deployed against."""
from hand_control.hand_profile import load_hand_profile
from inhand.hand_model import CameraRig
from inhand.transforms import quat_to_matrix
import numpy as np
from policy_node.kinematics import HandKinematics
import pytest
from sim_bridge.simulator import HandSim


@pytest.fixture(scope='module')
def profile():
    return load_hand_profile('shadow')


def test_fingertips_and_palm_match_the_simulated_hand(profile):
    kinematics = HandKinematics(profile)
    rng = np.random.default_rng(0)
    with HandSim(profile=profile, rig=CameraRig.empty()) as sim:
        for _ in range(3):
            names = profile.actuated_joint_names
            idx = profile.actuated_indices
            sim.set_targets(names, rng.uniform(profile.lower[idx], profile.upper[idx]))
            sim.step(100)
            q, _, _ = sim.joint_state()
            kinematics.update(q)
            np.testing.assert_allclose(kinematics.fingertip_positions(),
                                       sim.fingertip_positions(), atol=1e-9)
            palm_pos, palm_rot = kinematics.palm_pose()
            sim_pos, sim_quat = sim.palm_pose()
            np.testing.assert_allclose(palm_pos, sim_pos, atol=1e-9)
            np.testing.assert_allclose(palm_rot, quat_to_matrix(sim_quat), atol=1e-9)


def test_joint_count_is_checked(profile):
    with pytest.raises(ValueError, match='expected 24 joint positions'):
        HandKinematics(profile).update(np.zeros(20))
