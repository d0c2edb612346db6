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

"""Hand profile loading, validation errors and the joint-name mapping to the MuJoCo model."""
from hand_control.hand_profile import load_hand_profile, ProfileError
from inhand.config import ConfigError
from inhand.paths import config_path
import mujoco
import numpy as np
import pytest
import yaml


@pytest.fixture(scope='module')
def profile():
    return load_hand_profile('shadow')


@pytest.fixture(scope='module')
def model(profile):
    return mujoco.MjModel.from_xml_path(str(profile.model_path()))


def test_shadow_counts(profile):
    assert len(profile.joint_names) == 24
    assert len(profile.actuated_joint_names) == 20
    coupled = [n for n, c in zip(profile.joint_names, profile.coupled_to) if c]
    assert coupled == ['rh_FFJ1', 'rh_MFJ1', 'rh_RFJ1', 'rh_LFJ1']
    assert [t.name for t in profile.fingertips] == ['ff', 'mf', 'rf', 'lf', 'th']


def test_every_joint_maps_to_the_model_and_limits_match_it(profile, model):
    for i, name in enumerate(profile.joint_names):
        joint = model.joint(profile.mujoco_joints[i])
        assert joint.type == mujoco.mjtJoint.mjJNT_HINGE, name
        np.testing.assert_allclose(joint.range, [profile.lower[i], profile.upper[i]],
                                   atol=1e-6, err_msg=name)
        if profile.actuators[i]:
            actuator = model.actuator(profile.actuators[i])
            assert actuator.trnid[0] == joint.id, f'{name}: actuator drives another joint'
            np.testing.assert_allclose(actuator.ctrlrange, joint.range, atol=1e-6)


def test_real_hand_names_follow_shadow_numbering(profile):
    # The model numbers finger joints from 0 (distal); the real hand from 1. The wrist pair
    # is swapped: rh_WRJ1 (flexion) is the model's WRJ0.
    mapping = dict(zip(profile.joint_names, profile.mujoco_joints))
    assert mapping['rh_FFJ1'] == 'robot0:FFJ0'
    assert mapping['rh_FFJ4'] == 'robot0:FFJ3'
    assert mapping['rh_LFJ5'] == 'robot0:LFJ4'
    assert mapping['rh_THJ5'] == 'robot0:THJ4'
    assert mapping['rh_WRJ1'] == 'robot0:WRJ0'
    assert profile.index('rh_FFJ2') == profile.joint_names.index('rh_FFJ2')
    with pytest.raises(KeyError, match='rh_XXJ9'):
        profile.index('rh_XXJ9')


def test_home_inside_limits(profile):
    assert np.all(profile.home >= profile.lower) and np.all(profile.home <= profile.upper)


def _write(tmp_path, data):
    path = tmp_path / 'hand.yaml'
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _shadow_data(profile):
    return yaml.safe_load(profile.source.read_text())


@pytest.mark.parametrize('mutate, message', [
    (lambda d: d['joints'][0].pop('lower'), "joint rh_WRJ2: missing required key 'lower'"),
    (lambda d: d['joints'][0].update(lower=1.0, upper=0.0), 'must be below upper'),
    (lambda d: d['joints'][0].update(home=5.0), 'home 5.0 is outside'),
    (lambda d: d['joints'][1].update(name='rh_WRJ2'), 'duplicate joint name'),
    (lambda d: d['joints'][5].update(coupled_to='rh_NOPE'), "coupled_to 'rh_NOPE'"),
    (lambda d: d['joints'][5].update(actuator='x'), 'exactly one of'),
    (lambda d: d['joints'][0].update(upper=float('nan')), 'finite number'),
    (lambda d: d.pop('frames'), "missing required key 'frames'"),
    (lambda d: d['model'].update(file='nope.xml'), None),
])
def test_broken_profiles_name_the_problem(tmp_path, profile, mutate, message):
    data = _shadow_data(profile)
    mutate(data)
    path = _write(tmp_path, data)
    if message is None:   # a missing model file surfaces when the model is needed
        with pytest.raises(ProfileError, match='nope.xml'):
            load_hand_profile(path).model_path()
        return
    with pytest.raises(ProfileError, match=message):
        load_hand_profile(path)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ProfileError, match='not found'):
        load_hand_profile('no_such_hand')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('joints: [unclosed')
    with pytest.raises(ProfileError, match='not valid YAML'):
        load_hand_profile(str(bad))


def test_a_misspelt_optional_key_is_refused_not_defaulted(tmp_path):
    # The limiter trusts these numbers: a typo must not leave the wrist at the default speed.
    text = config_path('hands/shadow.yaml').read_text()
    path = tmp_path / 'hand.yaml'
    path.write_text(text.replace('home: 0.0, max_velocity: 1.0}',
                                 'home: 0.0, max_velocty: 1.0}', 1))
    with pytest.raises(ConfigError, match=r"joint rh_WRJ2: unknown key 'max_velocty' "
                                          r'\(did you mean max_velocity\?\)'):
        load_hand_profile(str(path))


def test_a_decimal_comma_in_a_flow_map_is_refused(tmp_path):
    # `upper: 1,571` reads as upper: 1 plus a key 571: refused, with the likely cause named.
    text = config_path('hands/shadow.yaml').read_text()
    path = tmp_path / 'hand.yaml'
    path.write_text(text.replace('lower: 0.0, upper: 1.571', 'lower: 0.0, upper: 1,571', 1))
    with pytest.raises(ConfigError, match=r'joint rh_FFJ3: unknown key 571 \(a decimal comma'):
        load_hand_profile(str(path))


def _copied_hand_model(tmp_path, profile):
    """Copy the gymnasium Shadow MJCF with its meshes and textures to tmp_path/assets."""
    import shutil
    assets = profile.model_path().parent.parent
    for part in ('hand', 'stls/hand', 'textures'):
        shutil.copytree(assets / part, tmp_path / 'assets' / part)
    return tmp_path / 'assets' / 'hand' / profile.model_path().name


def _profile_at(tmp_path, profile, model_file, **model):
    data = _shadow_data(profile)
    data['model'].pop('package')
    data['model'].update(file=str(model_file), **model)
    (tmp_path / 'hands').mkdir(exist_ok=True)
    path = tmp_path / 'hands' / 'copy.yaml'
    path.write_text(yaml.safe_dump(data))
    return load_hand_profile(str(path))


def test_a_model_file_relative_to_the_profile_builds_the_same_hand(tmp_path, profile):
    from inhand.hand_model import build_model, load_scene_config
    scene = load_scene_config()
    model_file = _copied_hand_model(tmp_path, profile)
    copy = _profile_at(tmp_path, profile, '../assets/hand/' + model_file.name)
    assert copy.model_path() == model_file.resolve()
    ours, shipped = build_model(copy, scene), build_model(profile, scene)
    assert (ours.ngeom, ours.nmesh, ours.nq) == (shipped.ngeom, shipped.nmesh, shipped.nq)
    missing = _profile_at(tmp_path, profile, 'nowhere/hand.xml')
    with pytest.raises(ProfileError, match=r"'nowhere/hand.xml' not found .*relative to the "
                                           'profile file'):
        missing.model_path()
    with pytest.raises(ProfileError, match='missing_meshes: expected one of refuse, '
                                           'drop_visual'):
        _profile_at(tmp_path, profile, model_file, missing_meshes='ignore')


def test_missing_visual_meshes_are_refused_or_dropped_keeping_the_physics(tmp_path, profile):
    from inhand.hand_model import build_model, load_scene_config
    scene = load_scene_config()
    model_file = _copied_hand_model(tmp_path, profile)
    stls = tmp_path / 'assets' / 'stls' / 'hand'
    (stls / 'F1.stl').unlink()              # the four distal phalanges' visual mesh
    (stls / 'palm.stl').unlink()
    refusing = _profile_at(tmp_path, profile, model_file)
    with pytest.raises(ConfigError, match=r'2 mesh file\(s\) that are not on disk: .*F1.stl'):
        build_model(refusing, scene)
    dropping = _profile_at(tmp_path, profile, model_file, missing_meshes='drop_visual')
    ours, shipped = build_model(dropping, scene), build_model(profile, scene)
    assert ours.ngeom == shipped.ngeom - 5 and ours.nmesh == shipped.nmesh - 2
    np.testing.assert_allclose(ours.body_mass, shipped.body_mass)
    np.testing.assert_allclose(ours.body_inertia, shipped.body_inertia)
    # The palm's and distal phalanges' collision geometry is drawn instead (group 2).
    palm = mujoco.mj_name2id(ours, mujoco.mjtObj.mjOBJ_BODY, 'robot0:palm')
    palm_geoms = [g for g in range(ours.ngeom) if ours.geom_bodyid[g] == palm]
    assert palm_geoms and all(ours.geom_group[g] == 2 for g in palm_geoms)
    # A collision mesh is never dropped.
    (stls / 'forearm_electric_cvx.stl').unlink()
    with pytest.raises(ConfigError, match=r'collision geom\(s\) robot0:C_forearm'):
        build_model(dropping, scene)
