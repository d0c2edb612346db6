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
Extrinsic calibration of a real camera rig with a ChArUco board at a known pose in the world.

Each camera sees the board; PnP on the board's ChArUco corners gives the board in the camera's
optical frame; with the board's pose in the world (a jig on the hand mount, or a board laid on
the palm) that is the camera's pose in the world: T_world_cam = T_world_board T_board_cam.

    .venv/bin/python -m vision_pose.rig_calibration --camera vision_cam_top \
        --intrinsics ost.yaml --image top.png --board-position 0 0 0.25 \
        --board-orientation-xyzw 0 0 0 1

prints the rig-file entry (config/cameras/*.yaml) and the equivalent static transform. The
intrinsics file is the camera_calibration / camera_info_manager YAML (`ost.yaml`). The board
(defaults: 5 x 7 squares of 30 mm, 22 mm markers, DICT_5X5_100 so that it cannot be confused
with the cube's DICT_4X4_50 markers) is written by --write-board for printing.
"""
import argparse
from dataclasses import dataclass
import sys

import cv2
from inhand.config import ConfigError, load_yaml
from inhand.transforms import matrix_to_quat, xyzw_from_wxyz
import numpy as np
from vision_pose.camera_model import Extrinsics, Intrinsics, intrinsics_from_camera_info
import yaml


@dataclass(frozen=True)
class BoardSpec:
    """A ChArUco board: squares (columns, rows), square and marker edge (m), dictionary."""

    squares: tuple = (5, 7)
    square_size: float = 0.030
    marker_size: float = 0.022
    dictionary: int = cv2.aruco.DICT_5X5_100

    def board(self):
        return cv2.aruco.CharucoBoard(self.squares, self.square_size, self.marker_size,
                                      cv2.aruco.getPredefinedDictionary(self.dictionary))


@dataclass(frozen=True)
class BoardPose:
    """The board in a camera's optical frame: p_cam = R @ p_board + t; corner RMS (px)."""

    R: np.ndarray
    t: np.ndarray
    rms_px: float
    corners: int


def board_in_camera(image, intrinsics: Intrinsics, spec: BoardSpec = BoardSpec(),
                    min_corners: int = 8) -> BoardPose | None:
    """Detect the board and solve its pose; None when fewer than min_corners are seen."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    board = spec.board()
    corners, ids, _, _ = cv2.aruco.CharucoDetector(board).detectBoard(gray)
    if ids is None or len(ids) < min_corners:
        return None
    object_points, image_points = board.matchImagePoints(corners, ids)
    object_points = object_points.reshape(-1, 3).astype(np.float64)
    image_points = image_points.reshape(-1, 2).astype(np.float64)
    ok, rvec, tvec = cv2.solvePnP(object_points, image_points, intrinsics.K, intrinsics.dist,
                                  flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(object_points, image_points, intrinsics.K,
                                      intrinsics.dist, rvec, tvec)
    projected, _ = cv2.projectPoints(object_points, rvec, tvec, intrinsics.K, intrinsics.dist)
    rms = float(np.sqrt(np.mean(np.sum((projected.reshape(-1, 2) - image_points) ** 2,
                                       axis=1))))
    return BoardPose(R=cv2.Rodrigues(rvec)[0], t=tvec.ravel(), rms_px=rms,
                     corners=len(object_points))


def camera_in_world(board_in_world: Extrinsics, board_pose: BoardPose) -> Extrinsics:
    """Return the camera optical frame's pose in the world from the board's two poses."""
    R_cam_board, t_cam_board = board_pose.R, board_pose.t
    R_board_cam, t_board_cam = R_cam_board.T, -R_cam_board.T @ t_cam_board
    R_wb, t_wb = board_in_world.R, board_in_world.t
    return Extrinsics(R=R_wb @ R_board_cam, t=R_wb @ t_board_cam + t_wb)


def load_intrinsics(path: str, name='camera') -> Intrinsics:
    """Read a camera_calibration / camera_info_manager YAML (ost.yaml) into Intrinsics."""
    data, where = load_yaml(path)

    class _Info:
        pass

    info = _Info()
    try:
        info.width, info.height = data['image_width'], data['image_height']
        info.k = data['camera_matrix']['data']
        info.d = data['distortion_coefficients']['data']
        info.distortion_model = data.get('distortion_model', 'plumb_bob')
    except (KeyError, TypeError) as exc:
        raise ConfigError(f'{where}: not a camera calibration file (missing {exc})') from exc
    return intrinsics_from_camera_info(info, name)


def rig_entry(name: str, extrinsics: Extrinsics, intrinsics: Intrinsics) -> dict:
    """Return a camera entry for a rig file (config/cameras/*.yaml) with these calibrations."""
    K = intrinsics.K
    return {
        'name': name,
        'position': [round(float(v), 6) for v in extrinsics.t],
        'orientation_xyzw': [round(float(v), 8)
                             for v in xyzw_from_wxyz(matrix_to_quat(extrinsics.R))],
        'intrinsics': {'fx': float(K[0, 0]), 'fy': float(K[1, 1]), 'cx': float(K[0, 2]),
                       'cy': float(K[1, 2])},
        'width': intrinsics.width, 'height': intrinsics.height,
    }


def static_transform_command(name: str, extrinsics: Extrinsics, world='world') -> str:
    """Return the tf2_ros static_transform_publisher command publishing this camera pose."""
    x, y, z = extrinsics.t
    qx, qy, qz, qw = xyzw_from_wxyz(matrix_to_quat(extrinsics.R))
    return (f'ros2 run tf2_ros static_transform_publisher --x {x:.6f} --y {y:.6f} '
            f'--z {z:.6f} --qx {qx:.8f} --qy {qy:.8f} --qz {qz:.8f} --qw {qw:.8f} '
            f'--frame-id {world} --child-frame-id {name}_optical')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('--camera', help='camera name (frame <name>_optical)')
    parser.add_argument('--intrinsics', help='camera calibration YAML (ost.yaml)')
    parser.add_argument('--image', help='image of the board from this camera')
    parser.add_argument('--board-position', type=float, nargs=3, default=[0.0, 0.0, 0.0],
                        metavar=('X', 'Y', 'Z'), help='board origin in the world [m]')
    parser.add_argument('--board-orientation-xyzw', type=float, nargs=4,
                        default=[0.0, 0.0, 0.0, 1.0], metavar=('X', 'Y', 'Z', 'W'))
    parser.add_argument('--write-board', metavar='PNG',
                        help='write the printable board (300 dpi) and exit')
    options = parser.parse_args(argv)
    spec = BoardSpec()
    if options.write_board:
        columns, rows = spec.squares
        px = int(round(spec.square_size * 300 / 0.0254))
        margin = px // 2           # white margin: detection needs contrast at the edge
        image = spec.board().generateImage((columns * px + 2 * margin, rows * px + 2 * margin),
                                           marginSize=margin)
        cv2.imwrite(options.write_board, image)
        print(f'wrote {options.write_board}: print at 300 dpi (no scaling), squares must '
              f'measure {spec.square_size * 1000:.1f} mm; the board frame is at the top-left '
              'corner of the squares, x right, y down the page, z into the page')
        return 0
    if not (options.camera and options.intrinsics and options.image):
        parser.error('--camera, --intrinsics and --image are required')
    try:
        intrinsics = load_intrinsics(options.intrinsics, options.camera)
        x, y, z, w = options.board_orientation_xyzw
        board_world = Extrinsics.from_pose(options.board_position, [w, x, y, z], 'board')
    except (ConfigError, ValueError) as exc:
        print(f'rig_calibration: {exc}', file=sys.stderr)
        return 2
    image = cv2.imread(options.image, cv2.IMREAD_GRAYSCALE)
    if image is None:
        print(f'rig_calibration: cannot read {options.image}', file=sys.stderr)
        return 2
    pose = board_in_camera(image, intrinsics, spec)
    if pose is None:
        print('rig_calibration: board not found (fewer than 8 corners)', file=sys.stderr)
        return 1
    camera = camera_in_world(board_world, pose)
    print(f'# board: {pose.corners} corners, reprojection RMS {pose.rms_px:.3f} px')
    print(yaml.safe_dump([rig_entry(options.camera, camera, intrinsics)], sort_keys=False))
    print(static_transform_command(options.camera, camera))
    return 0


if __name__ == '__main__':
    sys.exit(main())
