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

"""The geometry behind the rviz markers: cube faces, ellipsoids, frusta, joint flags."""
from inhand import scene_markers as sm
from inhand.transforms import quat_to_matrix, random_quat
import numpy as np
import pytest


def test_cube_faces_cover_the_surface_wound_outward_one_colour_per_face():
    vertices, colours = sm.cube_faces(0.06, alpha=0.5)
    assert vertices.shape == (36, 3) and colours.shape == (36, 4)
    assert np.allclose(np.abs(vertices).max(axis=1), 0.03)        # every vertex on the surface
    triangles = vertices.reshape(12, 3, 3)
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    centroids = triangles.mean(axis=1)
    assert np.all(np.einsum('ij,ij->i', normals, centroids) > 0)   # counter-clockwise outside
    assert np.allclose(np.linalg.norm(normals, axis=1).sum() / 2, 6 * 0.06 ** 2)   # the area
    per_face = colours.reshape(6, 6, 4)
    assert all(np.all(face == face[0]) for face in per_face)
    assert len({tuple(face[0]) for face in per_face}) == 6 and np.all(colours[:, 3] == 0.5)
    # x faces red, y green, z blue: the face whose normal is +y is the brightest green
    plus_y = np.argmax(centroids[::2, 1])
    assert np.argmax(per_face[plus_y, 0, :3]) == 1


def test_cube_edges_are_the_twelve_edges():
    points = sm.cube_edges(0.05)
    assert points.shape == (24, 3)
    assert np.allclose(np.abs(points), 0.025)                      # all end points are corners
    lengths = np.linalg.norm(points[1::2] - points[::2], axis=1)
    assert np.allclose(lengths, 0.05)
    assert len({tuple(sorted(map(tuple, pair))) for pair in points.reshape(12, 2, 3)}) == 12


def test_covariance_ellipsoid_has_the_principal_axes_and_sigmas():
    rng = np.random.default_rng(2)
    for _ in range(20):
        rotation = quat_to_matrix(random_quat(rng))
        sigma = rng.uniform(0.001, 0.02, 3)
        covariance = rotation @ np.diag(sigma ** 2) @ rotation.T
        diameters, quat = sm.covariance_ellipsoid(covariance, sigmas=2.0)
        axes = quat_to_matrix(quat)
        assert np.isclose(np.linalg.det(axes), 1.0)
        for k in range(3):                 # each ellipsoid axis is an eigen-direction
            radius = diameters[k] / 2
            stretched = covariance @ axes[:, k]
            assert np.allclose(stretched, (radius / 2) ** 2 * axes[:, k], atol=1e-12)
        assert np.allclose(sorted(diameters), sorted(4 * sigma))


def test_degenerate_and_bad_covariances():
    diameters, quat = sm.covariance_ellipsoid(np.zeros((3, 3)))
    assert np.all(diameters == 0) and np.isclose(np.linalg.norm(quat), 1)
    nearly = np.diag([1e-4, 1e-4, -1e-12])                        # rounding below zero
    assert sm.covariance_ellipsoid(nearly)[0].min() == 0
    with pytest.raises(ValueError, match='finite 3x3'):
        sm.covariance_ellipsoid(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match='finite 3x3'):
        sm.covariance_ellipsoid(np.eye(2))
    with pytest.raises(ValueError, match='not symmetric'):
        sm.covariance_ellipsoid([[1, 0.5, 0], [0, 1, 0], [0, 0, 1]])


def test_frustum_far_corners_project_to_the_image_corners():
    k = np.array([[300.0, 0, 330], [0, 310.0, 235], [0, 0, 1]])
    points = sm.frustum_lines(k.flatten(), 640, 480, 0.1)
    assert points.shape == (16, 3)
    assert np.all(points[0:8:2] == 0)                              # rays start at the centre
    far = points[1:8:2]
    assert np.allclose(far[:, 2], 0.1)
    pixels = (far / far[:, 2:]) @ k.T
    assert np.allclose(pixels[:, :2], [[0, 0], [640, 0], [640, 480], [0, 480]])
    with pytest.raises(ValueError, match='positive'):
        sm.frustum_lines(np.zeros(9), 640, 480, 0.1)


def test_joint_flags_limits_and_clamps():
    lower, upper = np.zeros(4), np.ones(4)
    commanded = np.array([0.5, 0.01, 0.995, 0.5])
    requested = np.array([0.5, 0.01, 0.995, 0.9])
    states = sm.joint_states(commanded, lower, upper, requested, limit_margin=0.02,
                             clamp_tolerance=0.01)
    assert list(states) == [sm.JOINT_OK, sm.JOINT_AT_LIMIT, sm.JOINT_AT_LIMIT,
                            sm.JOINT_CLAMPED]
    # A joint the raw command did not name (NaN) is not "clamped".
    requested[3] = np.nan
    assert sm.joint_states(commanded, lower, upper, requested)[3] == sm.JOINT_OK
    assert list(sm.joint_states(commanded, lower, upper)) == list(states[:3]) + [sm.JOINT_OK]
