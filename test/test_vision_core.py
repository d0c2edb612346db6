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
vision_pose building blocks, ROS-free: camera models, the marker layout, detection, sync, TF.

Bad input is the point of most of these: a camera_info that is zero, NaN or the wrong size
must be refused with a message naming the camera and the field, never turned into a camera.
"""
import concurrent.futures
from types import SimpleNamespace

import cv2
from inhand.cube_markers import load_cube_markers
from inhand.transforms import axis_angle_to_quat, quat_to_matrix
import numpy as np
import pytest
from vision_pose.camera_model import (CameraModel, CameraModelError, Extrinsics,
                                      intrinsics_from_camera_info)
from vision_pose.debug_draw import draw_debug
from vision_pose.marker_detector import DetectorConfig, MarkerDetector, to_gray
from vision_pose.marker_layout import (load_cube_layout, MarkerLayout, MarkerLayoutError,
                                       synthetic_cube_layout)
from vision_pose.static_tf import StaticTransforms
from vision_pose.sync import FrameSync

K = [300.0, 0.0, 99.5, 0.0, 300.0, 99.5, 0.0, 0.0, 1.0]


def info(**overrides):
    fields = {'width': 200, 'height': 200, 'k': list(K), 'd': [0.0] * 5,
              'distortion_model': 'plumb_bob'}
    fields.update(overrides)
    return SimpleNamespace(**fields)


# ------------------------------------------------------------------------ camera model

def test_valid_camera_info_gives_intrinsics():
    intr = intrinsics_from_camera_info(info(), 'cam')
    assert (intr.width, intr.height) == (200, 200)
    np.testing.assert_allclose(intr.K, np.array(K).reshape(3, 3))
    assert not intr.has_distortion


@pytest.mark.parametrize('overrides, message', [
    ({'k': [0.0] * 9}, 'all zeros'),
    ({'k': [float('nan')] + K[1:]}, 'non-finite'),
    ({'k': K[:8]}, '9 entries'),
    ({'k': [-300.0] + K[1:]}, 'focal'),
    ({'k': K[:2] + [500.0] + K[3:]}, 'principal point'),
    ({'k': K[:6] + [0.1] + K[7:]}, 'upper-triangular'),
    ({'width': 0}, 'not positive'),
    ({'d': [0.0] * 4}, 'coefficients'),
    ({'d': [float('inf')] * 5}, 'non-finite'),
    ({'distortion_model': 'fisheye_magic', 'd': [0.0] * 4}, 'unsupported distortion_model'),
])
def test_malformed_camera_info_is_refused_with_a_clear_message(overrides, message):
    with pytest.raises(CameraModelError, match=message) as error:
        intrinsics_from_camera_info(info(**overrides), 'vision_cam_top')
    assert 'vision_cam_top' in str(error.value)


def test_extrinsics_must_be_finite_and_unit():
    with pytest.raises(CameraModelError, match='unit length'):
        Extrinsics.from_pose([0, 0, 1], [2.0, 0, 0, 0])
    with pytest.raises(CameraModelError, match='finite'):
        Extrinsics.from_pose([0, float('nan'), 1], [1.0, 0, 0, 0])


def test_projection_and_undistortion_round_trip():
    # A camera at z = 1 m looking down -z of the world (optical z = world -z).
    quat = axis_angle_to_quat([1, 0, 0], np.pi)
    d = [-0.3, 0.08, 0.001, -0.001, 0.0]
    camera = CameraModel('cam', intrinsics_from_camera_info(info(d=d)),
                         Extrinsics.from_pose([0, 0, 1.0], quat))
    ideal = CameraModel('cam', intrinsics_from_camera_info(info()),
                        Extrinsics.from_pose([0, 0, 1.0], quat))
    points = np.array([[0.0, 0.0, 0.0], [0.3, 0.2, 0.0], [-0.2, 0.15, 0.2]])
    pixels, depth = camera.project(points)
    ideal_pixels, _ = ideal.project(points)
    np.testing.assert_allclose(depth, [1.0, 1.0, 0.8])
    np.testing.assert_allclose(ideal_pixels[0], [99.5, 99.5])
    assert np.abs(pixels[1:] - ideal_pixels[1:]).max() > 1.0     # distortion moved them
    np.testing.assert_allclose(camera.undistort_pixels(pixels), ideal_pixels, atol=1e-3)


# ------------------------------------------------------------------------ marker layout

def test_cube_layout_matches_the_cube_config():
    markers = load_cube_markers()
    layout = load_cube_layout()
    assert layout.ids == markers.ids and layout.cube_size == markers.cube_size
    for marker_id in layout.ids:
        corners = layout.corners_of(marker_id)
        np.testing.assert_allclose(corners, markers.corners_in_cube(marker_id))
        normal = layout.normal_of(marker_id)
        # Outward: the normal points from the cube centre through the marker's face.
        np.testing.assert_allclose(normal * layout.cube_size / 2, corners.mean(axis=0),
                                   atol=1e-12)
        R, t = layout.marker_in_cube(marker_id)
        h = layout.marker_size / 2
        square = np.array([[-h, h, 0], [h, h, 0], [h, -h, 0], [-h, -h, 0]])
        np.testing.assert_allclose(square @ R.T + t, corners, atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
    with pytest.raises(KeyError, match='not on the cube'):
        layout.corners_of(42)


def test_layout_rejects_inconsistent_markers():
    good = synthetic_cube_layout()
    with pytest.raises(MarkerLayoutError, match='duplicate'):
        MarkerLayout(good.dictionary, (0, 0, 1, 2, 3, 4), good.corners, good.marker_size,
                     good.cube_size)
    bent = good.corners.copy()
    bent[0, 0] += 0.003
    with pytest.raises(MarkerLayoutError, match='squares'):
        MarkerLayout(good.dictionary, good.ids, bent, good.marker_size, good.cube_size)
    with pytest.raises(MarkerLayoutError, match=r'\(6, 4, 3\)'):
        MarkerLayout(good.dictionary, good.ids, good.corners[:5], good.marker_size,
                     good.cube_size)


# ------------------------------------------------------------------------ detection

def marker_sheet(ids_and_places, size=320):
    """Return a white grey image with 60 px markers at the given top-left corners."""
    image = np.full((size, size), 255, np.uint8)
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    for marker_id, (x, y) in ids_and_places:
        image[y:y + 60, x:x + 60] = cv2.aruco.generateImageMarker(dictionary, marker_id, 60)
    return image


def test_detector_keeps_cube_ids_and_counts_strangers():
    layout = load_cube_layout()
    detector = MarkerDetector(layout.dictionary, layout.ids)
    image = marker_sheet([(3, (30, 30)), (17, (200, 40)), (5, (60, 200))])
    found = detector.detect(np.repeat(image[:, :, None], 3, axis=2))
    assert sorted(found.ids.tolist()) == [3, 5]
    assert found.unknown_ids == [17]
    corners = dict(zip(found.ids.tolist(), found.corners))
    # cv2.aruco order: top-left, top-right, bottom-right, bottom-left (pixel centres at
    # integer coordinates, the black border's outer edge half a pixel out).
    np.testing.assert_allclose(corners[3], [[29.5, 29.5], [89.5, 29.5], [89.5, 89.5],
                                            [29.5, 89.5]], atol=0.6)


def test_one_detector_serves_several_threads_at_once():
    # The node detects markers in several cameras' images at once, with one detector.
    layout = load_cube_layout()
    detector = MarkerDetector(layout.dictionary, layout.ids)
    images = [marker_sheet([(k % 6, (40 + 10 * k, 60))]) for k in range(6)]
    serial = [detector.detect(image) for image in images]
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        for _ in range(5):
            parallel = list(pool.map(detector.detect, images))
            for one, other in zip(serial, parallel):
                assert one.ids.tolist() == other.ids.tolist()
                np.testing.assert_array_equal(one.corners, other.corners)


def test_detector_drops_an_id_seen_twice():
    layout = load_cube_layout()
    detector = MarkerDetector(layout.dictionary, layout.ids)
    found = detector.detect(marker_sheet([(2, (30, 30)), (2, (200, 200)), (4, (30, 200))]))
    assert found.ids.tolist() == [4]
    assert found.duplicate_ids == [2]


def test_roi_search_finds_the_same_corners_and_falls_back_to_the_full_image():
    layout = load_cube_layout()
    detector = MarkerDetector(layout.dictionary, layout.ids)
    image = marker_sheet([(1, (200, 200))])
    full = detector.detect(image)
    inside = detector.detect(image, roi=(170, 170, 300, 300))
    assert inside.used_roi and not full.used_roi
    np.testing.assert_allclose(inside.corners, full.corners, atol=1e-3)
    elsewhere = detector.detect(image, roi=(0, 0, 100, 100))     # stale prediction
    assert elsewhere.ids.tolist() == [1] and not elsewhere.used_roi


def test_detector_input_validation():
    with pytest.raises(ValueError, match='uint8'):
        to_gray(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match='shape'):
        to_gray(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError, match='corner_refinement'):
        DetectorConfig(corner_refinement='magic').validate()


def test_debug_overlay_draws_markers_and_cube():
    layout = load_cube_layout()
    detector = MarkerDetector(layout.dictionary, layout.ids)
    image = marker_sheet([(0, (100, 100))])
    quat = axis_angle_to_quat([1, 0, 0], np.pi)
    camera = CameraModel('cam', intrinsics_from_camera_info(info(width=320, height=320,
                                                                 k=[300, 0, 160, 0, 300, 160,
                                                                    0, 0, 1])),
                         Extrinsics.from_pose([0, 0, 0.5], quat))
    overlay = draw_debug(image, camera, detector.detect(image),
                         (quat_to_matrix([1, 0, 0, 0]), np.zeros(3)), 0.05, 'ok')
    assert overlay.shape == (320, 320, 3)
    assert tuple(overlay[160, 160 + 15]) == (255, 0, 0)       # the cube's x axis, in red
    assert np.any(np.all(overlay == (0, 255, 255), axis=2))   # the marker outline
    mono = draw_debug(image[:, :, None], camera, None, None)     # a mono8 message's array
    assert mono.shape == (320, 320, 3)


# ------------------------------------------------------------------------ sync

def test_sync_emits_when_the_last_camera_of_an_instant_arrives():
    sync = FrameSync(['a', 'b', 'c'], slop=0.004, silence_timeout=0.5)
    assert sync.add('b', 1.000, 'b1') is None
    assert sync.add('a', 1.001, 'a1') is None
    synced = sync.add('c', 0.999, 'c1')
    assert synced.frames == {'a': 'a1', 'b': 'b1', 'c': 'c1'}
    assert synced.stamp == 1.001 and synced.missing == ()
    # Frames further apart than the slop never form a set.
    assert sync.add('a', 1.100, 'a2') is None
    assert sync.add('b', 1.110, 'b2') is None
    assert sync.add('c', 1.120, 'c2') is None
    # A stale frame (older than the last set) is dropped and counted.
    assert sync.add('a', 0.9, 'old') is None and sync.dropped_late == 1


def test_sync_leaves_out_a_silent_camera_and_takes_it_back():
    sync = FrameSync(['a', 'b', 'c'], slop=0.004, silence_timeout=0.2)
    sets = []
    for k in range(10):
        t = 1.0 + k / 15.0
        for name in ('a', 'b') if k >= 3 else ('a', 'b', 'c'):
            synced = sync.add(name, t, name)
            if synced is not None:
                sets.append(synced)
    full = [s for s in sets if not s.missing]
    degraded = [s for s in sets if s.missing]
    assert len(full) == 3
    assert degraded and all(s.missing == ('c',) and set(s.frames) == {'a', 'b'}
                            for s in degraded)
    # While c is within its timeout, sets wait for it: the first frames after it stopped
    # produce nothing, then the timeout expires and a+b sets flow.
    assert len(sets) < 10 and sync.silent() == ['c']
    t = 1.0 + 10 / 15.0
    assert sync.add('a', t, 'a') is None and sync.add('b', t, 'b') is not None
    assert sync.add('c', t + 1 / 15.0, 'c') is None           # c is live again ...
    assert sync.add('a', t + 1 / 15.0, 'a') is None           # ... so a+b wait for it
    assert sync.add('b', t + 1 / 15.0, 'b').missing == ()


def _run_rig(sync, rounds, start, lag_c, order=('a', 'b', 'c')):
    """Feed `rounds` frame instants at 15 Hz; c's stamps lag by lag_c; return the sets."""
    sets = []
    for k in range(rounds):
        t = start + k / 15.0
        for name in order:
            synced = sync.add(name, t - lag_c if name == 'c' else t, name)
            if synced is not None:
                sets.append(synced)
    return sets


def test_sync_leaves_out_a_camera_whose_clock_is_offset_and_reports_the_offset():
    # c delivers every frame, but its stamps lag 0.3 s: more than the slop, less than the
    # silence timeout. It must not hold the other two hostage (no set at all), and it is not
    # silent either: it is left out as out of sync, with its measured offset.
    sync = FrameSync(['a', 'b', 'c'], slop=0.004, silence_timeout=0.5)
    sets = _run_rig(sync, 45, 1.0, 0.3)
    # After the silence timeout (in stamp time) sets of a+b flow, one per instant.
    assert len(sets) >= 45 - 10
    assert all(s.missing == ('c',) and set(s.frames) == {'a', 'b'} for s in sets)
    assert sync.silent() == []
    assert list(sync.out_of_sync()) == ['c']
    assert sync.out_of_sync()['c'] == pytest.approx(-0.3, abs=1e-6)
    offsets = sync.clock_offsets()
    assert offsets['a'] == pytest.approx(0.0, abs=1e-6)
    assert offsets['c'] == pytest.approx(-0.3, abs=1e-6)
    # Whatever order the frames of one instant arrive in, c rejoins once its clock is right.
    for order in (('a', 'b', 'c'), ('c', 'a', 'b')):
        sets = _run_rig(sync, 3, 5.0 if order[0] == 'a' else 6.0, 0.0, order)
        assert sets[-1].missing == () and sync.out_of_sync() == {}
        sets = _run_rig(sync, 20, 7.0 if order[0] == 'a' else 8.0, 0.3, order)
        assert 'c' in sync.out_of_sync() and sets[-1].missing == ('c',)


def test_sync_leaves_out_a_camera_whose_clock_is_off_by_a_whole_frame_period():
    # c's stamps lag exactly one frame period: each of its frames matches a set, but it is an
    # image of the next instant. Its delay (arrival - stamp) gives it away against the other
    # two: it is left out as misstamped, with its offset, and taken back once its clock is right.
    period = 1 / 15.0
    sync = FrameSync(['a', 'b', 'c'], slop=0.004, silence_timeout=0.5)
    sets = _run_rig(sync, 30, 1.0, period)
    assert sync.misstamped()['c'] == pytest.approx(-period, abs=1e-6)
    assert sync.out_of_sync() == {} and sync.silent() == []
    late = sets[-15:]
    assert len(late) == 15 and all(s.missing == ('c',) and set(s.frames) == {'a', 'b'}
                                   for s in late)
    assert sync.clock_offsets()['a'] == pytest.approx(0.0, abs=1e-6)
    # Its frames are not worth detecting markers in; nor is a frame older than the last set.
    t = 1.0 + 30 * period
    assert not sync.will_use('c', t) and sync.will_use('a', t) and not sync.will_use('a', 1.0)
    # Two periods behind: the same.
    sets = _run_rig(sync, 20, 3.0, 2 * period)
    assert sync.misstamped()['c'] == pytest.approx(-2 * period, abs=1e-6)
    assert sets[-1].missing == ('c',)
    sets = _run_rig(sync, 20, 5.0, 0.0)
    assert sync.misstamped() == {} and sets[-1].missing == ()


@pytest.mark.parametrize('render', [0.2, 0.4, 0.5, 0.8, 1.0, 1.3])
def test_sync_does_not_mistake_cameras_rendered_one_after_another_for_misstamped(render):
    # A simulator renders its cameras in turn: each frame arrives `render` periods after the
    # previous camera's, with the right stamp. The delays spread out (up to two renders), but
    # no camera is a whole period away from others that agree among themselves.
    period = 1 / 15.0
    sync = FrameSync(['a', 'b', 'c'], slop=0.004, silence_timeout=0.5)
    sets = []
    for k in range(40):
        t = 1.0 + k * period
        for i, name in enumerate(('a', 'b', 'c')):
            synced = sync.add(name, t, name, arrival=t + 0.002 + i * render * period)
            if synced is not None:
                sets.append(synced)
    assert sync.misstamped() == {}
    assert len(sets) == 40 and all(s.missing == () for s in sets)


def test_a_misstamped_camera_needs_a_clear_sign_to_come_back():
    # c's stamps lag one period; its frames arrive with the others' at first (a delay one
    # period longer), then 0.3 period earlier (0.7 period longer: inside the 0.375-period way
    # back, outside the 0.25-period way in), then 0.5 period earlier (no longer a whole period).
    period = 1 / 15.0
    sync = FrameSync(['a', 'b', 'c'], slop=0.004, silence_timeout=0.5)
    start = 1.0

    def run(rounds, early):
        nonlocal start
        for k in range(rounds):
            t = start + k * period
            for name in ('a', 'b', 'c'):
                stamp = t - period if name == 'c' else t
                sync.add(name, stamp, name, arrival=t + 0.002 - (early if name == 'c' else 0.0))
        start += rounds * period

    run(30, 0.0)
    assert 'c' in sync.misstamped()
    run(30, 0.3 * period)
    assert sync.misstamped()['c'] == pytest.approx(-0.7 * period, abs=1e-6)
    run(30, 0.5 * period)
    assert sync.misstamped() == {}


def test_sync_judges_misstamped_cameras_only_with_a_majority():
    # Two cameras one period apart: either could be wrong, so neither is left out.
    sync = FrameSync(['a', 'c'], slop=0.004, silence_timeout=0.5)
    sets = _run_rig_pair(sync, 30, 1.0, 1 / 15.0)
    assert sync.misstamped() == {} and sets[-1].missing == ()
    # And it can be switched off.
    sync = FrameSync(['a', 'b', 'c'], slop=0.004, silence_timeout=0.5, check_misstamped=False)
    sets = _run_rig(sync, 30, 1.0, 1 / 15.0)
    assert sync.misstamped() == {} and sets[-1].missing == ()


def test_sync_does_not_judge_misstamped_cameras_when_the_slop_spans_most_of_a_period():
    # 30 Hz cameras with a 20 ms slop: frames a period apart could match anyway, so an offset
    # of one period tells nothing; nobody is left out for it.
    sync = FrameSync(['a', 'b', 'c'], slop=0.02, silence_timeout=0.5)
    for k in range(40):
        t = 1.0 + k / 30.0
        for name in ('a', 'b', 'c'):
            sync.add(name, t - (1 / 30.0 if name == 'c' else 0.0), name, arrival=t)
    assert sync.misstamped() == {}


def _run_rig_pair(sync, rounds, start, lag_c):
    sets = []
    for k in range(rounds):
        t = start + k / 15.0
        for name, stamp in (('a', t), ('c', t - lag_c)):
            synced = sync.add(name, stamp, name)
            if synced is not None:
                sets.append(synced)
    return sets


def test_sync_keeps_waiting_for_a_camera_that_is_only_a_few_ms_late():
    # Stamps within the slop, frames arriving last or first: never left out, whatever the
    # duration; sets are all complete.
    sync = FrameSync(['a', 'b', 'c'], slop=0.004, silence_timeout=0.2)
    sets = _run_rig(sync, 30, 1.0, 0.003) + _run_rig(sync, 30, 3.0, -0.003, ('c', 'b', 'a'))
    assert len(sets) == 60 and all(s.missing == () for s in sets)
    assert sync.out_of_sync() == {}
    # Measured over the recent frames: the second run's stamps lead by 3 ms.
    assert sync.clock_offsets()['c'] == pytest.approx(0.003, abs=1e-6)


def test_sync_restarts_when_time_jumps_back():
    sync = FrameSync(['a', 'b'], slop=0.004, silence_timeout=0.5)
    assert sync.add('a', 100.0, 1) is None and sync.add('b', 100.0, 2) is not None
    assert sync.add('a', 5.0, 3) is None and sync.restarts == 1
    assert sync.add('b', 5.0, 4).frames == {'a': 3, 'b': 4}


def test_sync_refuses_bad_settings():
    with pytest.raises(ValueError, match='distinct'):
        FrameSync(['a', 'a'], 0.01, 0.5)
    with pytest.raises(ValueError):
        FrameSync(['a'], -0.01, 0.5)
    with pytest.raises(KeyError, match='unknown stream'):
        FrameSync(['a'], 0.01, 0.5).add('z', 1.0, None)


# ------------------------------------------------------------------------ static TF

def test_static_transforms_compose_chains():
    tf = StaticTransforms()
    turn = axis_angle_to_quat([0, 0, 1], np.pi / 2)
    tf.add('world', 'rig', [1.0, 0.0, 0.0], turn)
    tf.add('rig', 'cam_optical', [0.0, 2.0, 0.0], [1.0, 0, 0, 0])
    R, t = tf.lookup('world', 'cam_optical')
    np.testing.assert_allclose(t, [-1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(R, quat_to_matrix(turn), atol=1e-12)
    assert tf.lookup('world', 'elsewhere') is None
    with pytest.raises(ValueError, match='norm'):
        tf.add('world', 'bad', [0, 0, 0], [0.5, 0, 0, 0])
    with pytest.raises(ValueError, match='non-finite'):
        tf.add('world', 'bad', [0, float('nan'), 0], [1.0, 0, 0, 0])
