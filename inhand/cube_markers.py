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
The ArUco marker cube: one description shared by the simulator and the vision node.

config/cube/aruco_cube.yaml names the dictionary, the cube and marker sizes and which marker id
sits on which face. From it, CubeMarkers gives the 3D corners of every marker in the CUBE body
frame (origin at the centre, axes normal to the faces), in the order cv2.aruco reports image
corners: top-left, top-right, bottom-right, bottom-left of the marker image. It also draws the
texture the simulator puts on its cube and a printable sheet for the physical cube.

Marker orientation on the faces (the "up" of each marker image):

    face   outward normal   marker top edge points to
    +x     +x               +z
    -x     -x               +z
    +y     +y               +z
    -y     -y               +z
    +z     +z               +x
    -z     -z               +x

Seen from outside the face, the marker's right edge then points along up x normal.
"""
from dataclasses import dataclass
import pathlib

import cv2
from inhand.config import ConfigError, Fields, load_yaml
import numpy as np

# Face name -> (outward normal, direction of the marker image's top edge), in the cube frame.
FACE_AXES = {
    '+x': ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    '-x': ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    '+y': ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    '-y': ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    '+z': ((0.0, 0.0, 1.0), (1.0, 0.0, 0.0)),
    '-z': ((0.0, 0.0, -1.0), (1.0, 0.0, 0.0)),
}
FACE_NAMES = tuple(FACE_AXES)

# MuJoCo's cube texture stores six square faces stacked vertically in the order +x, -x, +y,
# -y, +z, -z, and maps each onto the box face with an in-plane rotation of its own. These are
# the quarter turns (np.rot90, counter-clockwise) that make each marker appear upright as
# defined by FACE_AXES. Found by rendering each face head-on and detecting the marker corners;
# test_cube_markers.py proves the result to a pixel at random poses.
MUJOCO_CUBE_FACE_ORDER = ('+x', '-x', '+y', '-y', '+z', '-z')
_MUJOCO_QUARTER_TURNS = {'+x': 1, '-x': 3, '+y': 2, '-y': 0, '+z': 3, '-z': 1}

DEFAULT_CONFIG = 'cube/aruco_cube.yaml'


def face_frame(face: str) -> tuple:
    """Return (normal, up, right) unit vectors of a face in the cube frame."""
    if face not in FACE_AXES:
        raise KeyError(f'unknown cube face {face!r}; faces are {", ".join(FACE_NAMES)}')
    normal, up = (np.array(v) for v in FACE_AXES[face])
    return normal, up, np.cross(up, normal)


@dataclass(frozen=True)
class CubeMarkers:
    """A cube with one ArUco marker centred on each face."""

    dictionary_name: str
    cube_size: float           # edge of the cube [m]
    marker_size: float         # edge of each marker incl. its black border [m]
    quiet_zone: float          # minimum white margin around a marker [m]
    faces: dict                # face name -> marker id
    source: pathlib.Path = None

    @property
    def dictionary(self):
        """Return the cv2.aruco dictionary object."""
        return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary_name))

    @property
    def ids(self) -> tuple:
        """Marker ids, in face order +x, -x, +y, -y, +z, -z."""
        return tuple(self.faces[face] for face in FACE_NAMES)

    def face_of(self, marker_id: int) -> str:
        """Return the face carrying marker_id."""
        for face, face_id in self.faces.items():
            if face_id == marker_id:
                return face
        raise KeyError(f'marker id {marker_id} is not on the cube (ids: {self.ids})')

    def corners_in_cube(self, marker_id: int) -> np.ndarray:
        """
        Return the (4, 3) corners of a marker in the cube frame [m].

        Order as cv2.aruco reports them: top-left, top-right, bottom-right, bottom-left of the
        marker image seen from outside the cube.
        """
        normal, up, right = face_frame(self.face_of(marker_id))
        centre = normal * self.cube_size / 2.0
        half = self.marker_size / 2.0
        return np.array([
            centre - right * half + up * half,
            centre + right * half + up * half,
            centre + right * half - up * half,
            centre - right * half - up * half,
        ])

    def all_corners(self) -> dict:
        """Return {marker_id: (4, 3) corners in the cube frame} for every face."""
        return {marker_id: self.corners_in_cube(marker_id) for marker_id in self.ids}

    def face_image(self, face: str, pixels: int) -> np.ndarray:
        """Return one face as an upright (pixels, pixels) uint8 grey image, marker centred."""
        if pixels < 24:
            raise ValueError(f'pixels per face must be at least 24, got {pixels}')
        marker_px_exact = pixels * self.marker_size / self.cube_size
        margin = int(round((pixels - marker_px_exact) / 2.0))
        marker_px = pixels - 2 * margin
        image = np.full((pixels, pixels), 255, np.uint8)
        image[margin:margin + marker_px, margin:margin + marker_px] = \
            cv2.aruco.generateImageMarker(self.dictionary, self.faces[face], marker_px)
        return image

    def texture_image(self, pixels_per_face: int = 512) -> np.ndarray:
        """
        Return the RGB texture of the simulated cube, shape (6 * pixels_per_face, ppf, 3).

        The layout is MuJoCo's cube texture given as raw data: six square faces stacked top to
        bottom in the order +x, -x, +y, -y, +z, -z, each turned so that it renders upright as
        described in the module docstring.
        """
        faces = [np.rot90(self.face_image(face, pixels_per_face), _MUJOCO_QUARTER_TURNS[face])
                 for face in MUJOCO_CUBE_FACE_ORDER]
        grey = np.ascontiguousarray(np.concatenate(faces, axis=0))
        return np.repeat(grey[:, :, None], 3, axis=2)

    def printable_sheet(self, dpi: int = 300) -> np.ndarray:
        """Return an A4 page (grey uint8) with the six faces at true scale, labelled."""
        if dpi < 72:
            raise ValueError(f'dpi must be at least 72, got {dpi}')
        px_per_m = dpi / 0.0254
        page_w, page_h = int(round(0.210 * px_per_m)), int(round(0.297 * px_per_m))
        page = np.full((page_h, page_w), 255, np.uint8)
        face_px = int(round(self.cube_size * px_per_m))
        font_scale = dpi / 300.0
        thickness = max(1, int(round(dpi / 150.0)))
        margin_x = (page_w - 2 * face_px) // 3
        top = int(round(0.03 * px_per_m))
        text_y = top
        lines = [
            f'ArUco cube {self.dictionary_name}: cube edge {self.cube_size * 1000:.1f} mm, '
            f'marker edge {self.marker_size * 1000:.1f} mm',
            'Print at 100 % (no scaling); check the 50 mm bar. Cut along the grey squares.',
            'Stick each square on the named face, the arrow pointing to the face it names.',
        ]
        for line in lines:
            cv2.putText(page, line, (margin_x, text_y), cv2.FONT_HERSHEY_SIMPLEX,
                        0.9 * font_scale, 0, thickness, cv2.LINE_AA)
            text_y += int(45 * font_scale)
        bar_len = int(round(0.05 * px_per_m))
        bar_bottom = text_y + int(12 * font_scale)
        cv2.rectangle(page, (margin_x, text_y), (margin_x + bar_len, bar_bottom), 0, -1)
        cv2.putText(page, '50 mm', (margin_x + bar_len + 20, text_y + int(12 * font_scale)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.9 * font_scale, 0, thickness, cv2.LINE_AA)
        row_h = face_px + int(160 * font_scale)
        y0 = text_y + int(130 * font_scale)
        for index, face in enumerate(FACE_NAMES):
            col, row = index % 2, index // 2
            x = margin_x + col * (face_px + margin_x)
            y = y0 + row * row_h
            page[y:y + face_px, x:x + face_px] = self.face_image(face, face_px)
            cv2.rectangle(page, (x - 1, y - 1), (x + face_px, y + face_px), 160, 1)
            _, up, _ = face_frame(face)
            toward = _axis_name(up)
            tip = (x + face_px // 2, y - int(50 * font_scale))
            base = y - int(15 * font_scale)
            cv2.fillPoly(page, [np.array([
                tip, (tip[0] - int(15 * font_scale), base), (tip[0] + int(15 * font_scale), base)],
                np.int32)], 0)
            cv2.putText(page, f'to face {toward}', (tip[0] + int(25 * font_scale), base),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.7 * font_scale, 0, thickness, cv2.LINE_AA)
            cv2.putText(page, f'face {face}   id {self.faces[face]}',
                        (x, y + face_px + int(50 * font_scale)), cv2.FONT_HERSHEY_SIMPLEX,
                        1.0 * font_scale, 0, thickness, cv2.LINE_AA)
        return page

    def write_printable_sheet(self, path, dpi: int = 300) -> pathlib.Path:
        """
        Write the printable sheet as PNG or PDF (by suffix), carrying its dpi for true scale.

        Return the path written.
        """
        path = pathlib.Path(path)
        if path.suffix.lower() not in ('.png', '.pdf'):
            raise ValueError(f'printable sheet must be .png or .pdf, got {path.name!r}')
        page = self.printable_sheet(dpi)
        path.parent.mkdir(parents=True, exist_ok=True)
        from PIL import Image  # pillow comes with gymnasium-robotics; only this needs it
        image = Image.fromarray(page)
        if path.suffix.lower() == '.pdf':
            image.save(path, 'PDF', resolution=float(dpi))
        else:
            image.save(path, 'PNG', dpi=(dpi, dpi))
        return path


def _axis_name(vector) -> str:
    axis = int(np.argmax(np.abs(vector)))
    return ('+' if vector[axis] > 0 else '-') + 'xyz'[axis]


def load_cube_markers(name_or_path=DEFAULT_CONFIG) -> CubeMarkers:
    """Load and validate a cube marker config (config/cube/*.yaml or a path)."""
    data, path = load_yaml(name_or_path)
    top = Fields(data, str(path)).allow('dictionary', 'cube_size', 'marker_size', 'quiet_zone',
                                        'faces')
    dictionary_name = top.text('dictionary')
    if not dictionary_name.startswith('DICT_') or not hasattr(cv2.aruco, dictionary_name):
        raise ConfigError(
            f'{path}.dictionary: {dictionary_name!r} is not a cv2.aruco dictionary '
            '(e.g. DICT_4X4_50)')
    cube_size = top.number('cube_size', positive=True)
    marker_size = top.number('marker_size', positive=True)
    quiet_zone = top.number('quiet_zone')
    if quiet_zone < 0:
        raise ConfigError(f'{path}.quiet_zone: must be >= 0, got {quiet_zone}')
    if marker_size + 2.0 * quiet_zone > cube_size + 1e-12:
        raise ConfigError(
            f'{path}.marker_size: marker ({marker_size} m) plus twice the quiet zone '
            f'({quiet_zone} m) does not fit on a cube face of {cube_size} m')
    faces_section = top.section('faces')
    faces_data = faces_section.data
    unknown = sorted(set(map(str, faces_data)) - set(FACE_NAMES))
    if unknown:
        raise ConfigError(
            f'{path}.faces: unknown face(s) {unknown}; faces are {", ".join(FACE_NAMES)}')
    size = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary_name)) \
        .bytesList.shape[0]
    faces = {}
    for face in FACE_NAMES:
        marker_id = faces_section.integer(face)
        if not 0 <= marker_id < size:
            raise ConfigError(
                f'{path}.faces.{face}: id {marker_id} is outside {dictionary_name} '
                f'(0..{size - 1})')
        if marker_id in faces.values():
            raise ConfigError(f'{path}.faces.{face}: id {marker_id} is used on two faces')
        faces[face] = marker_id
    return CubeMarkers(dictionary_name=dictionary_name, cube_size=cube_size,
                       marker_size=marker_size, quiet_zone=quiet_zone, faces=faces,
                       source=path)


def main(argv=None) -> int:
    """Write the printable marker sheet: python -m inhand.cube_markers sheet.pdf [--dpi 300]."""
    import argparse
    parser = argparse.ArgumentParser(description='Write the ArUco cube printable sheet.')
    parser.add_argument('output', help='.png or .pdf file to write')
    parser.add_argument('--dpi', type=int, default=300)
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='cube marker config')
    args = parser.parse_args(argv)
    path = load_cube_markers(args.config).write_printable_sheet(args.output, dpi=args.dpi)
    print(f'wrote {path} ({args.dpi} dpi): print at 100 %')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
