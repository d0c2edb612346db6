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
The hand_description node in this process: URDF on robot_description, a complete TF tree.

Joint states and commands come from a probe node; what the node publishes must be the URDF's
forward kinematics at those joints, for the measured hand and for the commanded ghost.
"""
import math

from diagnostic_msgs.msg import DiagnosticArray
from hand_control.description import HandDescription
from hand_control.hand_description_node import HandDescriptionNode
from hand_control.hand_profile import load_hand_profile
from inhand import qos
from inhand.hand_model import build_model, load_scene_config
import numpy as np
import pytest
from ros_harness import in_process, NodeHarness
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage
import yourdfpy

pytestmark = pytest.mark.ros
PROFILE = load_hand_profile('shadow')


class Harness(NodeHarness):
    def __init__(self, node):
        super().__init__(node)
        sub = self.probe.create_subscription
        self.descriptions, self.tf, self.tf_static, self.diagnostics = [], [], [], []
        sub(String, 'robot_description', self.descriptions.append, qos.LATCHED)
        sub(TFMessage, '/tf', self.tf.append, qos.TF)
        sub(TFMessage, '/tf_static', self.tf_static.append, qos.TF_STATIC_SUB)
        sub(DiagnosticArray, '/diagnostics', lambda m: self.diagnostics.extend(m.status), 10)
        self.joints = self.probe.create_publisher(JointState, 'joint_states', qos.SENSOR_PUB)
        self.commands = self.probe.create_publisher(JointState, 'hand/command', qos.COMMAND)

    def send(self, publisher, names, positions, stamp_sec):
        msg = JointState(name=list(names), position=[float(v) for v in positions])
        msg.header.stamp.sec = stamp_sec
        publisher.publish(msg)

    def tf_stamped(self, stamp_sec):
        """Return the /tf messages stamped stamp_sec (waits for at least one)."""
        self.spin_until(lambda: any(m.transforms[0].header.stamp.sec == stamp_sec
                                    for m in self.tf), what=f'/tf stamped {stamp_sec}')
        return [m for m in self.tf if m.transforms[0].header.stamp.sec == stamp_sec]

    def status(self):
        statuses = [s for s in self.diagnostics if s.name == 'hand_description']
        return {kv.key: kv.value for kv in statuses[-1].values} if statuses else {}


@pytest.fixture
def harness(tmp_path):
    parameters = {'mesh_dir': str(tmp_path / 'meshes'), 'max_tf_rate': 0.0}
    with in_process(HandDescriptionNode, Harness, parameters) as h:
        yield h


def transform_pose(t):
    """(position, wxyz) of a geometry_msgs/Transform."""
    v, q = t.translation, t.rotation
    return np.array([v.x, v.y, v.z]), np.array([q.w, q.x, q.y, q.z])


def edges_of(messages):
    """Map child frame -> (parent, position, wxyz) of every transform in these messages."""
    edges = {}
    for msg in messages:
        for t in msg.transforms:
            edges[t.child_frame_id] = (t.header.frame_id, *transform_pose(t.transform))
    return edges


def world_pose(edges, frame):
    """Compose the tree from frame up to world; KeyError names a frame that has no parent."""
    pose = np.eye(4)
    while frame != 'world':
        parent, pos, quat = edges[frame]
        step = np.eye(4)
        w, x, y, z = quat
        step[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]]
        step[:3, 3] = pos
        pose, frame = step @ pose, parent
    return pose


def test_urdf_is_latched_and_the_tf_tree_is_complete_for_measured_and_commanded(
        harness, tmp_path):
    h = harness
    h.spin_until(lambda: h.descriptions and h.tf_static, what='robot_description, /tf_static')
    path = tmp_path / 'received.urdf'
    path.write_text(h.descriptions[-1].data)
    urdf = yourdfpy.URDF.load(str(path), load_meshes=True, build_collision_scene_graph=False)
    assert urdf.validate() and len(urdf.scene.geometry) >= 10    # the meshes load from disk
    assert set(urdf.actuated_joint_names) == set(PROFILE.joint_names)

    rng = np.random.default_rng(5)
    measured = rng.uniform(PROFILE.lower, PROFILE.upper)
    commanded_names = PROFILE.actuated_joint_names
    act = PROFILE.actuated_indices
    commanded = rng.uniform(PROFILE.lower[act], PROFILE.upper[act])
    # A driver may publish more joints than the hand's (an arm): those are left out.
    h.send(h.joints, list(PROFILE.joint_names) + ['arm_joint_1'], list(measured) + [0.3], 101)
    h.send(h.commands, commanded_names, commanded, 102)
    edges = edges_of(h.tf_static + h.tf_stamped(101) + h.tf_stamped(102))

    urdf.update_cfg(dict(zip(PROFILE.joint_names, measured)))
    for link in urdf.link_map:                 # every link, measured: connected to world
        assert np.abs(world_pose(edges, link) - urdf.get_transform(link, 'world')).max() < 1e-6
    # The ghost: the commanded joints, the coupled distal joints following their driver.
    ghost = dict(zip(commanded_names, commanded))
    for name, driver in zip(PROFILE.joint_names, PROFILE.coupled_to):
        if driver:
            ghost[name] = ghost[driver]
    urdf.update_cfg(ghost)
    for link in set(urdf.link_map) - {'world'}:
        assert np.abs(world_pose(edges, 'commanded/' + link)
                      - urdf.get_transform(link, 'world')).max() < 1e-6, link
    h.spin_until(lambda: int(h.status().get('unknown_names', 0)) >= 1, what='diagnostics')


def test_unusable_joint_states_are_dropped_and_counted(harness, tmp_path):
    h = harness
    h.spin_until(lambda: h.tf_static, what='/tf_static')
    values = PROFILE.home.copy()
    values[3] = math.nan
    h.send(h.joints, PROFILE.joint_names, values, 201)
    h.send(h.joints, PROFILE.joint_names[:3], [0.0, 0.0], 202)       # names != positions
    h.send(h.joints, PROFILE.joint_names, PROFILE.home, 203)
    h.tf_stamped(203)                                       # the node is alive and publishing
    assert not [m for m in h.tf if m.transforms[0].header.stamp.sec in (201, 202)]
    h.spin_until(lambda: int(h.status().get('rejected', 0)) == 2, what='2 rejected counted')
    expected = HandDescription(PROFILE, build_model(PROFILE, load_scene_config()))
    sent = {t.child_frame_id: transform_pose(t.transform) for t in h.tf_stamped(203)[0].transforms}
    for _, child, pos, _ in expected.transforms(dict(zip(PROFILE.joint_names, PROFILE.home))):
        assert np.abs(sent[child][0] - pos).max() < 1e-9
