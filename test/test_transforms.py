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

"""Quaternion order conversions (xyzw in ROS, wxyz in MuJoCo) and rotation helpers."""
from geometry_msgs.msg import Pose
from hypothesis import given, strategies as st
from inhand.messages import MissingNames, msg_to_pose, NameOrder, pose_to_msg
from inhand.transforms import (axis_angle_to_quat, matrix_to_quat, quat_angle, quat_multiply,
                               quat_to_matrix, rotation_between, wxyz_from_xyzw,
                               xyzw_from_wxyz)
import mujoco
import numpy as np
import pytest

unit_quats = st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(
    lambda q: np.linalg.norm(q) > 0.1).map(lambda q: np.array(q) / np.linalg.norm(q))


def test_order_conversion_is_explicit():
    q_wxyz = np.array([0.1, 0.2, 0.3, 0.4])
    assert xyzw_from_wxyz(q_wxyz).tolist() == [0.2, 0.3, 0.4, 0.1]
    assert wxyz_from_xyzw([0.2, 0.3, 0.4, 0.1]).tolist() == [0.1, 0.2, 0.3, 0.4]


@given(unit_quats)
def test_round_trip_and_pose_message(q):
    np.testing.assert_allclose(wxyz_from_xyzw(xyzw_from_wxyz(q)), q)
    msg = pose_to_msg([1.0, 2.0, 3.0], q, Pose())
    assert (msg.orientation.w, msg.orientation.x) == (pytest.approx(q[0]), pytest.approx(q[1]))
    position, back = msg_to_pose(msg)
    np.testing.assert_allclose(back, q)
    np.testing.assert_allclose(position, [1, 2, 3])


@given(unit_quats, unit_quats)
def test_multiply_and_matrix_agree_with_mujoco(a, b):
    expected = np.zeros(4)
    mujoco.mju_mulQuat(expected, a, b)
    np.testing.assert_allclose(quat_multiply(a, b), expected, atol=1e-12)
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, a)
    np.testing.assert_allclose(quat_to_matrix(a), mat.reshape(3, 3), atol=1e-12)
    back = matrix_to_quat(quat_to_matrix(a))
    assert min(np.abs(back - a).max(), np.abs(back + a).max()) < 1e-9


def test_angles():
    q = axis_angle_to_quat([0, 0, 1], 0.7)
    assert quat_angle(q) == pytest.approx(0.7)
    assert quat_angle(-q) == pytest.approx(0.7)
    assert rotation_between(q, quat_multiply(axis_angle_to_quat([1, 0, 0], 0.3), q)) \
        == pytest.approx(0.3)


def test_name_order_finds_the_wanted_names_and_names_the_missing_ones():
    order = NameOrder(['b', 'a'])
    np.testing.assert_array_equal(order.indices(['a', 'x', 'b']), [2, 0])
    np.testing.assert_array_equal(order.indices(('a', 'x', 'b')), [2, 0])    # cached
    np.testing.assert_array_equal(order.indices(['b', 'a']), [0, 1])         # a new order
    with pytest.raises(MissingNames, match='^a$'):
        order.indices(['b', 'c'])
    with pytest.raises(MissingNames, match='^b, a$'):
        order.indices([])
