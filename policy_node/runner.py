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
The policy runner without ROS: spec + model + hand -> one control step at a time.

load_runner() does all the start-up checks (spec against the hand profile, term sizes, model
tensors) and warms the model up; PolicyRunner.start() begins an episode (history, recurrent
state and last action zeroed, targets seeded) and step() turns the newest measurements into
the next joint targets for the spec's action joints.
"""
import numpy as np
from policy_node.actions import ActionProcessor
from policy_node.observation import ObservationBuilder, ObservationInputs
from policy_node.onnx_policy import OnnxPolicy
from policy_node.spec import PolicySpec, resolve_spec_and_model


class PolicyStepper:
    """
    Everything of a control step but the network: observation in, decoded targets out.

    The runner wraps one around its ONNX model; the trainer (training/) drives one per
    simulated environment with its torch network, so both build observations and turn actions
    into targets with the same code.
    """

    def __init__(self, spec: PolicySpec, profile, kinematics=None, scene_config=None):
        """Check spec and hand against each other; FK per kinematics or scene_config."""
        self.spec = spec
        self.profile = profile
        self.builder = ObservationBuilder(spec, profile, kinematics, scene_config)
        self.actions = ActionProcessor(spec, profile)
        self.joint_names = self.actions.joint_names
        self.joint_indices = self.actions.profile_indices
        self.last_target = None
        self.last_action = np.zeros(len(self.joint_names))
        self.last_observation = None
        self.steps = 0

    @property
    def needs_cube(self) -> bool:
        return self.builder.needs_cube

    @property
    def needs_goal(self) -> bool:
        return self.builder.needs_goal

    @property
    def default_pose(self) -> np.ndarray:
        return self.actions.default_pose

    def start(self, initial_target) -> None:
        """Begin an episode from these targets (action joints, e.g. the measured pose)."""
        self.builder.reset()
        self.actions.reset()
        self.last_action = np.zeros(len(self.joint_names))
        self.last_target = self.actions.clip_to_limits(np.asarray(initial_target, dtype=float))
        self.steps = 0

    def observe(self, joint_positions, joint_velocities, cube_position=None, cube_quat=None,
                goal_quat=None) -> np.ndarray:
        """Return the observation (float32) for the newest measurements."""
        if self.last_target is None:
            raise RuntimeError('step before start()')
        self._joint_positions = np.asarray(joint_positions, dtype=float)
        inputs = ObservationInputs(
            joint_positions=self._joint_positions,
            joint_velocities=np.asarray(joint_velocities, dtype=float),
            last_target=self.last_target, last_action=self.last_action, step=self.steps,
            cube_position=cube_position, cube_quat=cube_quat, goal_quat=goal_quat)
        self.last_observation = self.builder.build(inputs)
        return self.last_observation

    @property
    def follows_commanded(self) -> bool:
        """Whether the previous target is what the hand was sent (spec previous_target)."""
        return self.spec.action.previous_target == 'commanded'

    def follow(self, commanded) -> None:
        """
        Take the targets the hand was actually sent (action joints) as the previous ones.

        With previous_target: commanded the limiter's output replaces the policy's own last
        target, so delta_target builds on what the hand got and joint_position_error describes
        it, rather than drifting from it whenever the limiter clamps.
        """
        if self.last_target is None:
            raise RuntimeError('follow before start()')
        commanded = np.asarray(commanded, dtype=float)
        if commanded.shape != self.last_target.shape or not np.all(np.isfinite(commanded)):
            raise ValueError(f'commanded targets must be {self.last_target.size} finite values')
        self.last_target = self.actions.clip_to_limits(commanded)

    def act(self, network_output) -> np.ndarray:
        """Decode the network's output for the last observation; return the new targets."""
        action = self.actions.decode(network_output)
        target = self.actions.targets(action, self.last_target, self._joint_positions)
        self.last_action = action
        self.last_target = target
        self.steps += 1
        return target


class PolicyRunner(PolicyStepper):
    """Observation -> ONNX inference -> joint targets, with the episode state in between."""

    def __init__(self, spec: PolicySpec, model_path, profile, kinematics=None, threads=1,
                 scene_config=None):
        """Check spec, model and hand against each other; FK per kinematics or scene_config."""
        super().__init__(spec, profile, kinematics, scene_config)
        self.model_path = model_path
        self.policy = OnnxPolicy(model_path, spec.model, self.builder.size,
                                 self.actions.output_size, threads)
        self.policy.warm_up()

    def start(self, initial_target) -> None:
        """Begin an episode from these targets (action joints, e.g. the measured pose)."""
        super().start(initial_target)
        self.policy.reset()

    def step(self, joint_positions, joint_velocities, cube_position=None, cube_quat=None,
             goal_quat=None) -> np.ndarray:
        """Return the next targets of the action joints (spec order, radians)."""
        observation = self.observe(joint_positions, joint_velocities, cube_position,
                                   cube_quat, goal_quat)
        return self.act(self.policy.run(observation))


def load_runner(profile, spec_name='', model_name='', kinematics=None, threads=1,
                scene_config=None):
    """
    Resolve the spec and model (see spec.resolve_spec_and_model) and build the runner.

    Forward kinematics uses kinematics when given, else the hand mounted as scene_config (a
    inhand.hand_model.SceneConfig; None: the default scene) says.
    """
    spec, model_path = resolve_spec_and_model(spec_name, model_name)
    return PolicyRunner(spec, model_path, profile, kinematics=kinematics, threads=threads,
                        scene_config=scene_config)
