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

"""Policy specs: the shipped specs' layouts, and a clear error for every kind of mismatch."""
import copy
import pathlib

from hand_control.hand_profile import load_hand_profile
from inhand.paths import share_dir
import numpy as np
import onnx
from policy_node.actions import ActionProcessor
from policy_node.observation import ObservationBuilder
from policy_node.onnx_build import mlp_model, save
from policy_node.onnx_policy import OnnxPolicy
from policy_node.spec import (load_spec, ModelMismatchError, parse_spec, ProfileMismatchError,
                              read_embedded_spec, resolve_spec_and_model, SizeMismatchError,
                              SPEC_METADATA_KEY, SpecError)
import pytest
import yaml

DATA = pathlib.Path(__file__).parent / 'data'


@pytest.fixture(scope='module')
def shadow():
    return load_hand_profile('shadow')


@pytest.fixture(scope='module')
def hand16():
    return load_hand_profile(str(DATA / 'hand16_profile.yaml'))


@pytest.fixture(scope='module')
def kinematics(shadow):
    from policy_node.kinematics import HandKinematics
    return HandKinematics(shadow)


def spec_dict(name='policies/playground_reorient.yaml') -> dict:
    return yaml.safe_load(load_spec(name).text)


def parse(data: dict, directory=None):
    return parse_spec(copy.deepcopy(data), 'test.yaml', directory, yaml.safe_dump(data))


def layout_sizes(builder):
    return [(name, size) for name, _, _, size in builder.layout()]


# --- the shipped specs ------------------------------------------------------------------

def test_playground_spec_is_69_values_on_the_shadow_hand(shadow, kinematics):
    spec = load_spec('policies/playground_reorient.yaml')
    builder = ObservationBuilder(spec, shadow, kinematics)
    assert layout_sizes(builder) == [('joint_angles', 20), ('joint_error', 20),
                                     ('cube_pos_error', 3), ('cube_ori_error', 6),
                                     ('last_action', 20)]
    assert builder.size == 69
    assert spec.rate_hz == 20.0
    assert (spec.action.mode, spec.action.scale) == ('delta_target', 0.5)
    assert builder.action_joints == shadow.actuated_joint_names


def test_playground_layout_is_57_values_on_a_16_joint_hand(hand16):
    from policy_node.kinematics import HandKinematics
    spec = load_spec(DATA / 'playground_leap16.yaml')
    builder = ObservationBuilder(spec, hand16, HandKinematics(hand16))
    assert len(hand16.actuated_joint_names) == 16
    assert layout_sizes(builder) == [('joint_angles', 16), ('joint_error', 16),
                                     ('cube_pos_error', 3), ('cube_ori_error', 6),
                                     ('last_action', 16)]
    assert builder.size == 57


def test_the_16_joint_copy_differs_from_the_shipped_spec_only_in_hand_joints_and_sizes():
    shipped, copy16 = spec_dict(), yaml.safe_load((DATA / 'playground_leap16.yaml').read_text())
    for data in (shipped, copy16):
        del data['hand'], data['joints']
        for term in data['observation']:
            del term['size']
    assert shipped == copy16


def test_shadow_playground_spec_refuses_the_16_joint_hand(hand16):
    spec = load_spec('policies/playground_reorient.yaml')
    with pytest.raises(ProfileMismatchError, match="written for hand 'shadow_right'"):
        ObservationBuilder(spec, hand16)
    data = spec_dict()
    del data['hand']
    with pytest.raises(ProfileMismatchError, match="joint 'rh_LFJ5' is not in hand profile"):
        ObservationBuilder(parse(data), hand16)


def test_dactyl_spec_is_42_values_with_11_bins(shadow, kinematics):
    spec = load_spec('policies/dactyl2018.yaml')
    builder = ObservationBuilder(spec, shadow, kinematics)
    assert layout_sizes(builder) == [('fingertip_pos', 15), ('cube_pos', 3),
                                     ('relative_goal_quat', 4), ('previous_action', 20)]
    assert builder.size == 42
    assert ActionProcessor(spec, shadow).output_size == 220
    pairs = [(r.input_name, r.output_name) for r in spec.model.recurrent]
    assert pairs == [('h_in', 'h_out'), ('c_in', 'c_out')]
    assert spec.rate_hz == 12.5


def test_demo_spec_and_model_agree_and_the_model_embeds_the_spec(shadow, kinematics):
    spec, model_path = resolve_spec_and_model('policies/inhand_demo.yaml', '')
    assert model_path == (share_dir() / 'models' / 'demo_policy.onnx').resolve()
    assert model_path.stat().st_size < 2_000_000
    builder = ObservationBuilder(spec, shadow, kinematics)
    OnnxPolicy(model_path, spec.model, builder.size, ActionProcessor(spec, shadow).output_size)
    embedded = read_embedded_spec(model_path)
    # make_demo_policy embeds the YAML: a changed spec without a regenerated model fails here.
    assert embedded.text == spec.text


def test_model_only_uses_the_spec_beside_it_else_the_embedded_one(tmp_path):
    model = onnx.load(str(share_dir() / 'models' / 'demo_policy.onnx'))
    path = tmp_path / 'policy.onnx'
    save(model, path)
    spec, resolved = resolve_spec_and_model('', str(path))
    assert resolved == path.resolve() and spec.name == 'inhand_demo'
    assert SPEC_METADATA_KEY in spec.source
    beside = yaml.safe_load(spec.text)
    beside['name'] = 'from_the_yaml_beside'
    (tmp_path / 'policy.yaml').write_text(yaml.safe_dump(beside))
    spec, _ = resolve_spec_and_model('', str(path))
    assert spec.name == 'from_the_yaml_beside'


def test_model_without_any_spec_is_refused(tmp_path):
    path = tmp_path / 'bare.onnx'
    save(mlp_model([(np.zeros((3, 2), np.float32), np.zeros(2, np.float32))]), path)
    with pytest.raises(SpecError, match='no spec given'):
        resolve_spec_and_model('', str(path))
    with pytest.raises(SpecError, match='not found'):
        resolve_spec_and_model('', str(tmp_path / 'missing.onnx'))


# --- every mismatch yields its clear error ----------------------------------------------

def test_declared_term_size_differs_from_the_hand(shadow):
    data = spec_dict()
    data['observation'][0]['size'] = 16       # LEAP-sized term on the 20-joint Shadow hand
    with pytest.raises(SizeMismatchError) as error:
        ObservationBuilder(parse(data), shadow)
    message = str(error.value)
    assert "'joint_angles'" in message and 'expected size 16' in message \
        and 'actual size 20' in message and '20 joints' in message
    assert (error.value.term, error.value.expected, error.value.actual) == \
        ('joint_angles', 16, 20)


def test_history_multiplies_the_size(shadow):
    data = spec_dict()
    data['observation'][0].update(history=3, history_order='newest_first',
                                  history_init='zeros')
    with pytest.raises(SizeMismatchError, match='actual size 60') as error:
        ObservationBuilder(parse(data), shadow)
    assert 'history 3' in str(error.value)
    data['observation'][0]['size'] = 60
    assert ObservationBuilder(parse(data), shadow).size == 69 + 40


def test_history_needs_explicit_order_and_initial_fill():
    data = spec_dict()
    data['observation'][0].update(history=2, size=40)
    with pytest.raises(SpecError, match='history 2 needs history_order'):
        parse(data)
    data['observation'][0]['history_order'] = 'oldest_first'
    with pytest.raises(SpecError, match='history 2 needs history_init'):
        parse(data)


def test_observation_size_differs_from_the_model_input(tmp_path, shadow, kinematics):
    spec = load_spec('policies/playground_reorient.yaml')
    path = tmp_path / 'leap.onnx'
    save(mlp_model([(np.zeros((57, 20), np.float32), np.zeros(20, np.float32))],
                   input_name='obs', output_name='continuous_actions'), path)
    builder = ObservationBuilder(spec, shadow, kinematics)
    with pytest.raises(SizeMismatchError) as error:
        OnnxPolicy(path, spec.model, builder.size, 20)
    assert "'obs'" in str(error.value) and 'expected size 57' in str(error.value) \
        and 'actual size 69' in str(error.value)


def test_action_size_differs_from_the_model_output(tmp_path):
    spec = load_spec('policies/playground_reorient.yaml')
    path = tmp_path / 'leap.onnx'
    save(mlp_model([(np.zeros((69, 16), np.float32), np.zeros(16, np.float32))],
                   input_name='obs', output_name='continuous_actions'), path)
    with pytest.raises(SizeMismatchError, match=r"'continuous_actions' has 16.*"
                       r'expected size 16, actual size 20'):
        OnnxPolicy(path, spec.model, 69, 20)


def test_tensor_names_must_exist_in_the_model(tmp_path):
    spec = load_spec('policies/playground_reorient.yaml')
    path = tmp_path / 'named.onnx'
    save(mlp_model([(np.zeros((69, 20), np.float32), np.zeros(20, np.float32))],
                   input_name='observation', output_name='continuous_actions'), path)
    with pytest.raises(ModelMismatchError, match=r"input 'obs' .*model inputs: observation"):
        OnnxPolicy(path, spec.model, 69, 20)


def test_normalization_vectors_must_match_the_observation():
    data = spec_dict()
    data['normalization'] = {'mean': [0.0] * 57, 'std': [1.0] * 57, 'clip': 5.0}
    with pytest.raises(SizeMismatchError, match='expected size 69, actual size 57'):
        parse(data)
    data['normalization'] = {'mean': [0.0] * 69}
    with pytest.raises(SpecError, match='exactly one of std or var'):
        parse(data)


def test_per_joint_action_scale_must_have_one_value_per_joint(shadow):
    data = spec_dict()
    data['action']['scale'] = [0.5] * 16
    with pytest.raises(SizeMismatchError, match='20 action joints but 16 values'):
        ActionProcessor(parse(data), shadow)


def test_transform_vector_must_match_the_term():
    data = spec_dict()
    data['observation'][2]['transform'] = {'scale': [1.0, 1.0]}
    spec = parse(data)
    with pytest.raises(SizeMismatchError, match="term 'cube_pos_error' has 3 values"):
        ObservationBuilder(spec, load_hand_profile('shadow'))


@pytest.mark.parametrize('edit, error, pattern', [
    (lambda d: d['observation'][0].update(source='joint_angles'), SpecError,
     "unknown source 'joint_angles'"),
    (lambda d: d['observation'][3].pop('product'), SpecError,
     r'\(cube_ori_error\)\.product: expected one of cube_goal_inv'),
    (lambda d: d['observation'][3].update(format='euler'), SpecError,
     r'format: expected one of wxyz, xyzw, matrix'),
    (lambda d: d['observation'][2].update(frame_id='palm'), SpecError,
     r"unknown option\(s\) frame_id for source 'cube_position'"),
    (lambda d: d['observation'][1].update(name='joint_angles'), SpecError,
     'duplicate term name'),
    (lambda d: d['joints'].__setitem__(3, 'rh_FFJ1'), ProfileMismatchError,
     "'rh_FFJ1' is coupled, not actuated"),
    (lambda d: d['joints'].__setitem__(3, 'rh_XXJ9'), ProfileMismatchError,
     "'rh_XXJ9' is not in hand profile"),
    (lambda d: d.update(hand='leap_right'), ProfileMismatchError,
     "written for hand 'leap_right'"),
    (lambda d: d.update(default_pose={'rh_FFJ3': 2.0}), ProfileMismatchError,
     r'rh_FFJ3: 2.0 is outside the joint limits'),
])
def test_spec_errors_name_the_entry(shadow, edit, error, pattern):
    data = spec_dict()
    edit(data)
    with pytest.raises(error, match=pattern):
        ObservationBuilder(parse(data), shadow)
        ActionProcessor(parse(data), shadow)


@pytest.mark.parametrize('edit, pattern', [
    (lambda d: d['action'].pop('scale'), "missing required key 'scale'"),
    (lambda d: d['action'].pop('mode'), "missing required key 'mode'"),
    (lambda d: d['action'].update(mode='relative'), 'mode: expected one of absolute'),
    (lambda d: d['action'].update(mode='absolute'), 'absolute actions need an offset'),
    (lambda d: d['action'].update(offset='default_pose'), 'only absolute actions take'),
    (lambda d: d['action'].update(ema=0.0), r'ema: expected a number in \(0, 1\]'),
    (lambda d: d['action'].update(bins=1), 'bins: expected an integer >= 2'),
    (lambda d: d['action'].update(previous_target='raw'),
     'previous_target: expected one of commanded, policy'),
    (lambda d: d.update(rate_hz=0), 'rate_hz: must be > 0'),
    (lambda d: d.pop('model'), 'model: missing'),
    (lambda d: d['model']['inputs'].pop('observation'), "missing required key 'observation'"),
    (lambda d: d['model'].update(recurrent=[{'input': 'h', 'output': 'h'}]), 'used twice'),
    (lambda d: d.update(joints=['rh_FFJ3', 'rh_FFJ3']), 'listed twice'),
    (lambda d: d.update(observaton=[]), "unknown key.*'observaton'"),
    (lambda d: d['observation'][0].update(transform={'unscale_limits': True,
                                                     'subtract': 'default_pose'}),
     'exclude each other'),
    (lambda d: d['observation'][0].update(transform={'clip': [1.0, -1.0]}),
     r'clip: expected a positive number c or \[lo, hi\]'),
])
def test_malformed_specs_are_refused_at_parse_time(edit, pattern):
    data = spec_dict()
    edit(data)
    with pytest.raises(SpecError, match=pattern):
        parse(data)


@pytest.mark.parametrize('joints', ['actuated', 'list'])
@pytest.mark.parametrize('pose, pattern', [
    ({'rh_BOGUS': 1.0}, r"default_pose: joint\(s\) 'rh_BOGUS' not in hand profile"),
    ({'rh_FFJ1': 0.2}, r"default_pose: joint\(s\) 'rh_FFJ1' are not action joints "
                       r"\(coupled joint\(s\) 'rh_FFJ1' cannot be commanded\)"),
])
def test_default_pose_joints_are_checked_whatever_the_joint_list(shadow, joints, pose, pattern):
    data = spec_dict()
    if joints == 'actuated':
        data['joints'] = 'actuated'
    data['default_pose'] = {'rh_FFJ3': 0.3, **pose}
    for build in (ObservationBuilder, ActionProcessor):
        with pytest.raises(ProfileMismatchError, match=pattern):
            build(parse(data), shadow)


def test_default_pose_of_a_joint_outside_the_action_needs_an_observation_using_it(shadow):
    data = spec_dict()
    data['joints'] = [j for j in data['joints'] if j != 'rh_THJ5']
    data['observation'] = [t for t in data['observation'] if t['name'] != 'last_action']
    for term in data['observation'][:2]:
        term['size'] = 19
    data['default_pose'] = {'rh_THJ5': 0.2}
    with pytest.raises(ProfileMismatchError, match=r"'rh_THJ5' are not action joints \(the "
                       r'policy does not command them\)'):
        ActionProcessor(parse(data), shadow)
    # Observed with the default subtracted, a coupled or uncommanded joint's default is used.
    data['default_pose'] = {'rh_THJ5': 0.2, 'rh_FFJ1': 0.1}
    data['observation'].append({'name': 'all_q', 'source': 'joint_positions', 'joints': 'all',
                                'size': 24, 'transform': {'subtract': 'default_pose'}})
    builder = ObservationBuilder(parse(data), shadow)
    offset = builder.transforms[-1].offset
    assert offset[shadow.index('rh_FFJ1')] == 0.1 and offset[shadow.index('rh_THJ5')] == 0.2
    ActionProcessor(parse(data), shadow)


@pytest.mark.parametrize('edit, pattern', [
    # Every YAML value is type-checked before any float()/int(): a SpecError naming the key.
    (lambda d: d.update(normalization={'mean': [0.0] * 69, 'std': [1.0] * 69,
                                       'epsilon': 'abc'}),
     r"normalization\.epsilon: expected a number >= 0, got 'abc'"),
    (lambda d: d.update(normalization={'mean': [0.0] * 69, 'std': [1.0] * 69,
                                       'epsilon': [1e-8]}),
     r'normalization\.epsilon: expected a number >= 0'),
    (lambda d: d.update(normalization={'mean': [0.0] * 69, 'std': [1.0] * 69, 'clip': 'x'}),
     r"normalization\.clip: expected a positive number, got 'x'"),
    (lambda d: d.update(normalization={'mean': [0.0] * 68 + ['a'], 'std': [1.0] * 69}),
     r'normalization\.mean: expected a list of finite numbers'),
    (lambda d: d.update(rate_hz=10 ** 400), r'rate_hz: (invalid value|expected a finite)'),
    (lambda d: d.update(rate_hz='20'), r'rate_hz: expected a finite number'),
    (lambda d: d.update(default_pose={'rh_FFJ3': 10 ** 400}),
     r'default_pose: expected a mapping joint name -> radians'),
    (lambda d: d.update(default_pose={'rh_FFJ3': 'zero'}),
     r'default_pose: expected a mapping joint name -> radians'),
    (lambda d: d['action'].update(scale='0.5'), r'action\.scale: expected a finite number'),
    (lambda d: d['action'].update(scale=[0.5] * 19 + [10 ** 400]),
     r'action\.scale: expected a finite number'),
    (lambda d: d['action'].update(ema='0.5'), r'action\.ema: expected a number in'),
    (lambda d: d['action'].update(bins=2.5), r'action\.bins: expected an integer >= 2'),
    (lambda d: d['action'].update(clip_action='1'), r'action\.clip_action: expected a'),
    (lambda d: d['observation'][0].update(size='20'), r'\(joint_angles\)\.size: expected an '
                                                      r'integer'),
    (lambda d: d['observation'][0].update(history=1.5), r'history: expected an integer'),
    (lambda d: d['observation'][0].update(transform={'scale': 'big'}),
     r'transform\.scale: expected a finite number'),
    (lambda d: d['model'].update(recurrent={'input': 'h', 'output': 'h2'}),
     r'model\.recurrent: expected a list'),
    (lambda d: d.update({1: 'x'}), r'unknown key 1 \(a decimal comma'),
    (lambda d: d.update({None: 'x'}), r'unknown key None;'),
    (lambda d: d.update({'nmae': 'y'}), r"unknown key 'nmae' \(did you mean name\?\)"),
])
def test_wrong_value_types_are_spec_errors_naming_the_key(edit, pattern):
    data = spec_dict()
    edit(data)
    with pytest.raises(SpecError, match=pattern):
        parse(data)


@pytest.mark.parametrize('option, pattern', [
    ({1: 'x'}, r"unknown option\(s\) 1 for source 'phase'"),
    ({'period_s': 'abc'}, r'period_s: expected a positive number of seconds'),
    ({'period_s': float('nan')}, r'period_s: expected a positive number of seconds'),
    ({'period_s': 10 ** 400}, r'period_s: expected a positive number of seconds'),
])
def test_term_option_values_are_checked_before_use(shadow, option, pattern):
    data = spec_dict()
    data['observation'].append({'name': 'phase', 'source': 'phase', 'size': 2,
                                'period_s': 2.0, **option})
    with pytest.raises(SpecError, match=pattern):
        ObservationBuilder(parse(data), shadow)


def test_normalization_file_must_be_a_readable_npz(tmp_path):
    data = spec_dict()
    np.save(tmp_path / 'stats.npy', np.zeros(69))
    (tmp_path / 'text.npz').write_text('not an archive')
    np.savez(tmp_path / 'strings.npz', mean=np.array(['a'] * 69), std=np.ones(69))
    for name, pattern in (('stats.npy', 'is not an .npz archive'),
                          ('text.npz', 'cannot read'), ('strings.npz', 'cannot read'),
                          ('missing.npz', 'cannot read')):
        data['normalization'] = {'file': name}
        with pytest.raises(SpecError, match=rf'normalization\.file: .*{pattern}'):
            parse(data, tmp_path)
    np.savez(tmp_path / 'good.npz', mean=np.zeros(69), std=np.full(69, 2.0))
    data['normalization'] = {'file': 'good.npz', 'epsilon': 0}
    np.testing.assert_allclose(parse(data, tmp_path).normalization.denominator, 2.0)


def test_a_bad_value_makes_check_spec_exit_2_not_crash(tmp_path, capsys):
    from policy_node.check_spec import main
    data = spec_dict()
    data['normalization'] = {'mean': [0.0] * 69, 'std': [1.0] * 69, 'epsilon': 'abc'}
    path = tmp_path / 'bad.yaml'
    path.write_text(yaml.safe_dump(data))
    assert main(['--spec', str(path)]) == 2
    assert "epsilon: expected a number >= 0, got 'abc'" in capsys.readouterr().err


def test_fingertip_names_are_checked(shadow):
    data = spec_dict('policies/dactyl2018.yaml')
    data['observation'][0]['fingertips'] = ['ff', 'index']
    with pytest.raises(ProfileMismatchError, match="fingertip 'index' is not in hand profile"):
        ObservationBuilder(parse(data), shadow)


def test_unknown_spec_file_is_a_config_error():
    with pytest.raises(SpecError, match='not found'):
        load_spec('policies/does_not_exist.yaml')


def test_check_spec_cli_prints_the_layout_or_exits_2(capsys):
    from policy_node.check_spec import main
    assert main(['--spec', 'policies/inhand_demo.yaml']) == 0
    out = capsys.readouterr().out
    assert '[ 60: 75] fingertips' in out and 'total 112' in out and 'rh_THJ1' in out
    model = str(share_dir() / 'models' / 'demo_policy.onnx')
    assert main(['--spec', 'policies/playground_reorient.yaml', '--model', model]) == 2
    assert 'expected size 112, actual size 69' in capsys.readouterr().err


def test_previous_target_defaults_to_what_the_hand_was_sent():
    data = spec_dict()
    assert parse(data).action.previous_target == 'commanded'
    data['action']['previous_target'] = 'policy'
    assert parse(data).action.previous_target == 'policy'
    # The shipped yaw network was trained on its own targets: its spec says so.
    assert load_spec('policies/inhand_yaw.yaml').action.previous_target == 'policy'
