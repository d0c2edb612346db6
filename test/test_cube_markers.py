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
The ArUco cube model: config validation, marker geometry, and the proof of the sim texture.

The texture test renders the simulated cube at known poses, detects the markers with cv2.aruco
and checks every detected corner against the projection of corners_in_cube(id) through the
ground-truth cube pose and the camera model: this is what ties the sim's texture layout to the
geometry the vision node relies on.
"""
import math

import cv2
from inhand.config import ConfigError
from inhand.cube_markers import CubeMarkers, face_frame, FACE_NAMES, load_cube_markers
from inhand.hand_model import CameraConfig, CameraRig, look_at_quat
from inhand.transforms import axis_angle_to_quat, quat_multiply, quat_to_matrix
import numpy as np
from PIL import Image
import pytest

GOOD = """
dictionary: DICT_4X4_50
cube_size: 0.057
marker_size: 0.045
quiet_zone: 0.005
faces: {"+x": 0, "-x": 1, "+y": 2, "-y": 3, "+z": 4, "-z": 5}
"""


@pytest.fixture(scope='module')
def cube() -> CubeMarkers:
    return load_cube_markers()


def write(tmp_path, text, name='cube.yaml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_default_config_loads(cube):
    assert cube.dictionary_name == 'DICT_4X4_50'
    assert cube.marker_size < cube.cube_size
    assert sorted(cube.ids) == sorted(set(cube.ids)) and len(cube.ids) == 6
    assert set(cube.faces) == set(FACE_NAMES)


@pytest.mark.parametrize('change, message', [
    (('DICT_4X4_50', 'DICT_NOPE'), 'dictionary'),
    (('cube_size: 0.057', 'cube_size: -1'), 'cube_size'),
    (('marker_size: 0.045', 'marker_size: 0.055'), 'marker_size'),
    (('"-z": 5', '"-z": 4'), 'used on two faces'),
    (('"-z": 5', '"-z": 50'), 'outside DICT_4X4_50'),
    (('"-z": 5', '"-w": 5'), 'unknown face'),
    ((', "-z": 5', ''), "missing required key '-z'"),
    (('quiet_zone: 0.005', 'quiet_zone: -0.001'), 'quiet_zone'),
])
def test_config_errors_name_file_and_key(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_cube_markers(path)
    assert message in str(err.value)
    assert 'cube.yaml' in str(err.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match='not found'):
        load_cube_markers(str(tmp_path / 'nope.yaml'))


def test_corners_lie_on_their_face_as_a_square(cube):
    half = cube.cube_size / 2
    for face in FACE_NAMES:
        marker_id = cube.faces[face]
        corners = cube.corners_in_cube(marker_id)
        assert corners.shape == (4, 3)
        axis = 'xyz'.index(face[1])
        sign = 1.0 if face[0] == '+' else -1.0
        np.testing.assert_allclose(corners[:, axis], sign * half)
        edges = np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)
        np.testing.assert_allclose(edges, cube.marker_size)
        np.testing.assert_allclose(corners.mean(axis=0)[axis], sign * half)
        # cv2.aruco order (TL, TR, BR, BL) runs clockwise seen from outside the cube, so
        # (TR - TL) x (BL - TL) points into the cube: against the outward normal.
        inward = np.cross(corners[1] - corners[0], corners[3] - corners[0])
        assert inward[axis] * sign < 0


def test_all_corners_and_face_lookup(cube):
    corners = cube.all_corners()
    assert sorted(corners) == sorted(cube.ids)
    for face, marker_id in cube.faces.items():
        assert cube.face_of(marker_id) == face
    with pytest.raises(KeyError):
        cube.corners_in_cube(49)


def test_texture_layout(cube):
    texture = cube.texture_image(96)
    assert texture.shape == (6 * 96, 96, 3) and texture.dtype == np.uint8
    detector = cv2.aruco.ArucoDetector(cube.dictionary)
    found = []
    for i in range(6):
        face = np.pad(texture[i * 96:(i + 1) * 96, :, 0], 20, constant_values=255)
        _, ids, _ = detector.detectMarkers(face)
        assert ids is not None and len(ids) == 1
        found.append(int(ids.ravel()[0]))
    # MuJoCo's cube texture order: +x, -x, +y, -y, +z, -z.
    assert found == [cube.faces[f] for f in ('+x', '-x', '+y', '-y', '+z', '-z')]
    with pytest.raises(ValueError):
        cube.texture_image(8)


def test_printable_sheet_is_true_scale(cube, tmp_path):
    dpi = 150
    path = cube.write_printable_sheet(tmp_path / 'sheet.png', dpi=dpi)
    with Image.open(path) as image:
        assert image.info['dpi'][0] == pytest.approx(dpi, abs=0.5)
        page = np.asarray(image.convert('L'))
    assert page.shape == (round(0.297 * dpi / 0.0254), round(0.210 * dpi / 0.0254))
    corners, ids, _ = cv2.aruco.ArucoDetector(cube.dictionary).detectMarkers(page)
    assert ids is not None and sorted(ids.ravel()) == sorted(cube.ids)
    expected_px = cube.marker_size * dpi / 0.0254
    for quad in corners:
        side = np.linalg.norm(np.roll(quad[0], -1, axis=0) - quad[0], axis=1)
        np.testing.assert_allclose(side, expected_px, atol=2.0)
        # printed upright: the top edge is horizontal and above the bottom edge
        assert quad[0][0][1] < quad[0][3][1]
    pdf = cube.write_printable_sheet(tmp_path / 'sheet.pdf', dpi=dpi)
    assert pdf.read_bytes().startswith(b'%PDF')
    with pytest.raises(ValueError):
        cube.write_printable_sheet(tmp_path / 'sheet.jpg')


# ---------------------------------------------------------------- the proof through the sim

CUBE_CENTRE = np.array([0.0, 0.0, 0.36])    # floating above the hand: nothing occludes it
TEST_CAMERA_POSITION = (0.25, -0.12, 0.52)


@pytest.fixture(scope='module')
def sim(cube):
    from sim_bridge.simulator import HandSim
    camera = CameraConfig(
        name='marker_cam', position=TEST_CAMERA_POSITION,
        optical_quat=tuple(look_at_quat(TEST_CAMERA_POSITION, CUBE_CENTRE)),
        width=480, height=480, rate_hz=15.0, fovy_deg=25.0)
    simulator = HandSim(rig=CameraRig(source=None, cameras=(camera,)), cube=cube)
    yield simulator
    simulator.close()


def face_towards(normal, direction) -> np.ndarray:
    """Return the wxyz rotation taking a cube-frame normal onto a world direction."""
    a = np.asarray(normal, float)
    b = np.asarray(direction, float) / np.linalg.norm(direction)
    if a @ b < -0.999:      # opposite: any axis normal to a does
        return axis_angle_to_quat(np.cross(a, [0.6, 0.8, 0.0] if abs(a[2]) > 0.5 else
                                           [0.0, 0.0, 1.0]), math.pi)
    quat = np.concatenate([[1.0 + a @ b], np.cross(a, b)])
    return quat / np.linalg.norm(quat)


def test_rendered_marker_corners_match_the_model(sim, cube):
    """Every detected corner lies within 1.5 px of its projected model corner."""
    detector = cv2.aruco.ArucoDetector(cube.dictionary)
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    detector.setDetectorParameters(params)
    rng = np.random.default_rng(7)
    to_camera = np.asarray(TEST_CAMERA_POSITION) - CUBE_CENTRE
    checked = {}
    for face in FACE_NAMES:
        normal, _, _ = face_frame(face)
        for _ in range(2):
            # Face the camera, then tilt by up to ~35 deg and spin about the view axis.
            quat = face_towards(normal, to_camera)
            spin = axis_angle_to_quat(to_camera, rng.uniform(-math.pi, math.pi))
            tilt_axis = np.cross(to_camera, rng.normal(size=3))
            tilt = axis_angle_to_quat(tilt_axis, rng.uniform(0.0, 0.6))
            quat = quat_multiply(tilt, quat_multiply(spin, quat))
            sim.set_cube_pose(CUBE_CENTRE, quat)
            position, quat_true = sim.cube_pose()
            image = sim.render('marker_cam')
            camera = sim.camera('marker_cam')
            corners, ids, _ = detector.detectMarkers(image)
            assert ids is not None, f'no marker detected with face {face} towards the camera'
            rotation = quat_to_matrix(quat_true)
            world_to_optical = quat_to_matrix(camera.quat_wxyz).T
            for quad, marker_id in zip(corners, ids.ravel()):
                model = cube.corners_in_cube(int(marker_id))
                marker_normal = rotation @ (model.mean(axis=0) / np.linalg.norm(
                    model.mean(axis=0)))
                view = camera.position - (position + rotation @ model.mean(axis=0))
                incidence = math.degrees(math.acos(marker_normal @ view / np.linalg.norm(view)))
                assert incidence < 90, f'marker {marker_id} detected on a hidden face'
                if incidence > 60:      # grazing views localise corners poorly; skip them
                    continue
                world = position + model @ rotation.T
                optical = (world - camera.position) @ world_to_optical.T
                projected = optical @ camera.K.T
                projected = projected[:, :2] / projected[:, 2:]
                error = np.linalg.norm(projected - quad[0], axis=1)
                assert error.max() < 1.5, (
                    f'marker {marker_id} (face {cube.face_of(int(marker_id))}): corner errors '
                    f'{np.round(error, 2)} px')
                checked[int(marker_id)] = checked.get(int(marker_id), 0) + 1
    assert sorted(checked) == sorted(cube.ids), f'markers checked: {checked}'
