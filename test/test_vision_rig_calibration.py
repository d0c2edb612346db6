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
Extrinsic calibration with a ChArUco board, on synthetic views of a board at a known pose.

The board image is warped into a pinhole camera through the exact homography of a known
camera pose (supersampled, then averaged down), so the recovered camera pose is checked
against the truth.
"""
import cv2
from inhand.config import ConfigError
from inhand.transforms import axis_angle_to_quat, quat_multiply, quat_to_matrix, wxyz_from_xyzw
import numpy as np
import pytest
from vision_pose.camera_model import Extrinsics, intrinsics_from_matrix
from vision_pose.rig_calibration import (board_in_camera, BoardSpec, camera_in_world,
                                         load_intrinsics, main, rig_entry,
                                         static_transform_command)

K = np.array([[700.0, 0.0, 319.5], [0.0, 700.0, 239.5], [0.0, 0.0, 1.0]])
SPEC = BoardSpec()
FACE_UP = np.array([0.0, 1.0, 0.0, 0.0])      # wxyz: half a turn about x


def look_at(position, target, up=(0.0, 0.0, 1.0)):
    z = np.asarray(target, float) - position
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


def render_board(camera: Extrinsics, board: Extrinsics, size=(640, 480), oversample=4):
    """Return the grey image of the board seen by a pinhole camera (K) at camera."""
    columns, rows = SPEC.squares
    ppm = 4000.0                                   # board image pixels per metre
    board_image = SPEC.board().generateImage((int(columns * SPEC.square_size * ppm),
                                              int(rows * SPEC.square_size * ppm)))
    # Board point (x, y, 0) in the camera: R_cb [x y 0] + t_cb.
    R_cb = camera.R.T @ board.R
    t_cb = camera.R.T @ (board.t - camera.t)
    to_board = np.array([[1 / ppm, 0, 0.5 / ppm], [0, 1 / ppm, 0.5 / ppm], [0, 0, 1]])
    scale = np.diag([oversample, oversample, 1.0])
    shift = np.array([[1, 0, (oversample - 1) / 2], [0, 1, (oversample - 1) / 2], [0, 0, 1]])
    H = shift @ scale @ K @ np.column_stack([R_cb[:, 0], R_cb[:, 1], t_cb]) @ to_board
    big = cv2.warpPerspective(board_image, H, (size[0] * oversample, size[1] * oversample),
                              flags=cv2.INTER_LINEAR, borderValue=190)
    return cv2.resize(big, size, interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize('position', [(0.12, 0.0, 0.68), (0.16, -0.34, 0.46),
                                      (0.16, 0.34, 0.46)])
def test_camera_pose_is_recovered_from_a_board_at_a_known_pose(position):
    # The board lies face up (its z, into the page, points down), its centre where the cube
    # rests, turned by 20 degrees.
    board = Extrinsics.from_pose([-0.075, 0.105, 0.25], quat_multiply(
        axis_angle_to_quat([0, 0, 1], np.radians(20)), FACE_UP))
    centre = board.R @ np.array([0.075, 0.105, 0.0]) + board.t
    up = (1.0, 0.0, 0.0) if position[2] > 0.6 else (0.0, 0.0, 1.0)
    truth = Extrinsics(R=look_at(np.array(position), centre, up), t=np.array(position))
    intrinsics = intrinsics_from_matrix(640, 480, K)
    image = render_board(truth, board)
    pose = board_in_camera(image, intrinsics)
    assert pose is not None and pose.corners >= 20 and pose.rms_px < 0.3
    found = camera_in_world(board, pose)
    assert np.linalg.norm(found.t - truth.t) < 2e-3
    dR = found.R @ truth.R.T
    assert np.degrees(np.arccos(np.clip((np.trace(dR) - 1) / 2, -1, 1))) < 0.2
    entry = rig_entry('cam', found, intrinsics)
    R = quat_to_matrix(wxyz_from_xyzw(entry['orientation_xyzw']))
    np.testing.assert_allclose(R, found.R, atol=1e-6)
    assert entry['intrinsics']['fx'] == 700.0
    assert '--child-frame-id cam_optical' in static_transform_command('cam', found)


def test_no_board_no_pose_and_calibration_file_errors(tmp_path):
    intrinsics = intrinsics_from_matrix(640, 480, K)
    assert board_in_camera(np.full((480, 640), 128, np.uint8), intrinsics) is None
    bad = tmp_path / 'ost.yaml'
    bad.write_text('image_width: 640\nimage_height: 480\n')
    with pytest.raises(ConfigError, match='not a camera calibration file'):
        load_intrinsics(str(bad))


def test_command_line_prints_the_rig_entry(tmp_path, capsys):
    ost = tmp_path / 'ost.yaml'
    ost.write_text(
        'image_width: 640\nimage_height: 480\ncamera_name: top\n'
        'camera_matrix: {rows: 3, cols: 3, data: [700, 0, 319.5, 0, 700, 239.5, 0, 0, 1]}\n'
        'distortion_model: plumb_bob\n'
        'distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n')
    board = Extrinsics.from_pose([-0.075, 0.105, 0.25], FACE_UP)
    position = np.array([0.12, 0.0, 0.68])
    truth = Extrinsics(R=look_at(position, [0.0, 0.0, 0.25], (1.0, 0.0, 0.0)), t=position)
    image = tmp_path / 'top.png'
    cv2.imwrite(str(image), render_board(truth, board))
    code = main(['--camera', 'vision_cam_top', '--intrinsics', str(ost), '--image', str(image),
                 '--board-position', '-0.075', '0.105', '0.25',
                 '--board-orientation-xyzw', '1', '0', '0', '0'])
    out = capsys.readouterr().out
    assert code == 0
    assert 'name: vision_cam_top' in out and 'orientation_xyzw' in out
    assert 'static_transform_publisher' in out
    assert main(['--write-board', str(tmp_path / 'board.png')]) == 0
    printed = cv2.imread(str(tmp_path / 'board.png'), cv2.IMREAD_GRAYSCALE)
    square_px = round(SPEC.square_size * 300 / 0.0254)
    columns, rows = SPEC.squares
    assert printed.shape == ((rows + 1) * square_px, (columns + 1) * square_px)
