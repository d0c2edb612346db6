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

"""The pip-only launcher: prefixed logs, required-node deaths, signal escalation, one graph."""
import importlib.util
import io
import os
import pathlib
import signal
import subprocess
import sys
import time
import types

from inhand import dds_env, graph
from inhand.launcher import Launcher, node_command
from inhand.paths import config_path
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = pathlib.Path(__file__).resolve().parent


def spec(name, module, required=True, **extra):
    return graph.NodeSpec(name=name, executable=name, module=f'launcher_fixtures.{module}',
                          required=required, **extra)


def make_launcher(specs, timeout=2.0):
    env = dict(os.environ, PYTHONPATH=f'{FIXTURES}{os.pathsep}'
               + os.environ.get('PYTHONPATH', ''))
    out = io.StringIO()
    return Launcher(specs, env=env, output=out, sigterm_timeout=timeout), out


def test_prefixes_output_and_stops_cleanly_on_request():
    launcher, out = make_launcher([spec('alpha', 'sleeper'), spec('beta', 'sleeper')])
    launcher.start()
    deadline = time.monotonic() + 20
    while out.getvalue().count('sleeper up') < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    launcher.request_stop()
    assert launcher.wait() == 0
    text = out.getvalue()
    assert '[alpha] sleeper up' in text and '[beta] sleeper up' in text
    assert '[alpha] sleeper stopping' in text
    assert 'ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST' in text


def test_required_node_death_stops_graph_with_its_code():
    launcher, out = make_launcher([spec('steady', 'sleeper'), spec('fragile', 'crasher')])
    launcher.start()
    started = time.monotonic()
    assert launcher.wait(duration=30) == 3
    assert time.monotonic() - started < 20
    assert 'REQUIRED node fragile exited with code 3: stopping the whole graph' \
        in out.getvalue()
    assert 'stopped because the required node fragile exited with code 3' in out.getvalue()
    assert all(n.poll() is not None for n in launcher.nodes)


def test_a_required_node_killed_by_a_signal_gives_a_readable_exit_code():
    launcher, out = make_launcher([spec('steady', 'sleeper'), spec('limiter', 'sleeper')])
    launcher.start()
    deadline = time.monotonic() + 20
    while out.getvalue().count('sleeper up') < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    launcher.nodes[1].signal(signal.SIGKILL)
    assert launcher.wait(duration=30) == 128 + signal.SIGKILL        # 137, not 247
    assert 'REQUIRED node limiter was killed by SIGKILL' in out.getvalue()


def test_an_optional_node_is_restarted_after_its_delay_a_bounded_number_of_times():
    launcher, out = make_launcher([
        spec('steady', 'sleeper'),
        spec('policy', 'crasher', required=False, respawn_delay=0.3, respawn_max=2)])
    launcher.start()
    assert launcher.wait(duration=6.0) == 0            # the graph ran on, to the duration
    text = out.getvalue()
    assert 'policy exited with code 3; restarting it in 0.3 s (restart 1 of 2)' in text
    assert 'policy exited with code 3; restarting it in 0.3 s (restart 2 of 2)' in text
    assert text.count('restarted policy (pid') == 2
    assert 'policy exited with code 3 (no restarts left); the rest of the graph goes on' in text
    assert '[steady] sleeper stopping' in text          # still running at the end


def test_a_stop_while_nodes_still_import_is_quiet_and_the_cause_is_the_last_line():
    # The others are still importing when the fragile one fails: no traceback may bury it.
    launcher, out = make_launcher([spec('slow', 'slow_import'),
                                   spec('fragile', 'config_refuser', required=False),
                                   spec('slow_too', 'slow_import', required=False)])
    launcher.start()
    deadline = time.monotonic() + 20
    while out.getvalue().count('slow import started') < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert launcher.wait(duration=30) == 2
    text = out.getvalue()
    assert 'Traceback' not in text and 'KeyboardInterrupt' not in text, text
    assert 'fragile refused its configuration (exit 2): stopping the whole graph' in text
    assert all(n.poll() == 128 + signal.SIGINT for n in launcher.nodes if n.spec.name != 'fragile')
    assert text.rstrip().splitlines()[-1].endswith(
        'stopped because the node fragile exited with code 2')


def test_a_node_that_refused_its_configuration_is_not_restarted():
    launcher, out = make_launcher([
        spec('steady', 'sleeper'),
        spec('policy', 'config_refuser', required=False, respawn_delay=0.2, respawn_max=3)])
    launcher.start()
    assert launcher.wait(duration=3.0) == 2
    text = out.getvalue()
    assert 'restarted policy' not in text
    assert text.count('[FATAL] configuration error') == 1


def test_optional_node_death_is_reported_but_tolerated():
    launcher, out = make_launcher([spec('steady', 'sleeper'),
                                   spec('extra', 'crasher', required=False)])
    launcher.start()
    assert launcher.wait(duration=2.5) == 0
    assert 'extra exited with code 3; the rest of the graph goes on' in out.getvalue()


def test_escalates_to_sigterm_for_a_node_ignoring_sigint():
    launcher, out = make_launcher([spec('mule', 'stubborn')], timeout=1.0)
    launcher.start()
    deadline = time.monotonic() + 20
    while 'stubborn up' not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    launcher.request_stop()
    assert launcher.wait() == 0
    assert 'escalating to SIGTERM for mule' in out.getvalue()


def test_cli_launch_stops_all_on_sigint(tmp_path):
    # The real command line, as a user runs it: Ctrl-C (SIGINT) stops it and its nodes.
    env = dict(os.environ, PYTHONPATH=f'{FIXTURES}{os.pathsep}{ROOT}')
    code = ('import sys\nfrom inhand import cli, graph\n'
            'graph_specs = [graph.NodeSpec("a", "a", "launcher_fixtures.sleeper")]\n'
            'cli.GRAPHS["fixture"] = lambda args: graph_specs\n'
            'sys.exit(cli.main(["launch", "fixture"]))\n')
    proc = subprocess.Popen([sys.executable, '-c', code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = ''
    deadline = time.monotonic() + 20
    while 'sleeper up' not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert '[a] sleeper stopping' in out


def test_node_command_carries_parameters_and_remappings(tmp_path):
    node = graph.NodeSpec('sim_bridge', 'sim_bridge', 'sim_bridge.node',
                          param_files=('sim/sim_bridge.yaml',), parameters={'seed': 4},
                          remappings=(('/cube/pose', '/cube/pose_gt'),))
    command = node_command(node, tmp_path)
    assert command[1:5] == ['-m', 'inhand.node_entry', 'sim_bridge.node', '--ros-args']
    assert ['-r', '__node:=sim_bridge'] == command[5:7]
    assert command[command.index('-r', 7) + 1] == '/cube/pose:=/cube/pose_gt'
    files = [command[i + 1] for i, a in enumerate(command) if a == '--params-file']
    assert files[0].endswith('config/sim/sim_bridge.yaml')
    assert 'seed: 4' in pathlib.Path(files[1]).read_text()


def test_the_fast_dds_profile_is_given_only_where_it_applies(tmp_path):
    profile = str(ROOT / 'config' / 'dds' / 'fastdds_large_images.xml')
    GL = {'MUJOCO_GL': 'egl'}     # a backend chosen: only the DDS variables are at stake
    assert graph.node_environment({}, GL) == {'FASTDDS_DEFAULT_PROFILES_FILE': profile}
    # Jazzy's Fast DDS 2 reads the older name (Kilted's warns about it).
    assert graph.node_environment({}, {**GL, 'ROS_DISTRO': 'jazzy'}) == {
        'FASTRTPS_DEFAULT_PROFILES_FILE': profile}
    assert graph.node_environment({}, {**GL, 'RMW_IMPLEMENTATION': 'rmw_fastrtps_dynamic_cpp'})
    # The user's own profile, another middleware, or an empty argument: nothing changes.
    assert graph.node_environment({}, {**GL, 'FASTRTPS_DEFAULT_PROFILES_FILE': '/x.xml'}) == {}
    assert graph.node_environment({}, {**GL, 'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'}) == {}
    assert graph.node_environment({'dds_profile': ''}, GL) == {}
    own = tmp_path / 'mine.xml'
    own.write_text('<dds/>')
    assert graph.node_environment({'dds_profile': str(own)}, GL)[
        'FASTDDS_DEFAULT_PROFILES_FILE'] == str(own)
    with pytest.raises(graph.GraphError, match='dds_profile.*missing.xml'):
        graph.node_environment({'dds_profile': 'dds/missing.xml'}, GL)
    # Every run of ours (tests, benchmarks) gets it through isolate(); profile='' gives none
    # (the demo with dds_profile:=''), None leaves the environment's as it is (the launcher).
    assert dds_env.isolate({})['FASTDDS_DEFAULT_PROFILES_FILE'] == profile
    assert not set(dds_env.isolate({}, profile='')) & set(dds_env.PROFILE_VARIABLES)
    assert dds_env.isolate({'FASTDDS_DEFAULT_PROFILES_FILE': '/x.xml'}, profile=None)[
        'FASTDDS_DEFAULT_PROFILES_FILE'] == '/x.xml'


def test_bad_arguments_are_named():
    with pytest.raises(graph.GraphError, match='unknown launch argument'):
        graph.bringup({'simm': 'true'})
    with pytest.raises(graph.GraphError, match="sim:='maybe'"):
        graph.bringup({'sim': 'maybe'})
    assert graph.resolve_arguments({'sim': 'false'})['use_sim_time'] == 'false'


def test_the_simulator_waits_for_late_renders_only_with_vision_in_the_loop():
    def camera_wait(values):
        return {n.name: n for n in graph.bringup(values)}['sim_bridge'].parameters['camera_wait']
    assert camera_wait({'pose_source': 'vision'}) == 0.25     # a lost frame would hold the hand
    assert camera_wait({}) == 0.0                             # ground truth: keep real time


def test_goals_follow_the_task_the_policy_was_trained_for(tmp_path):
    goal_manager = {n.name: n for n in graph.bringup({})}['goal_manager']
    assert goal_manager.parameters['goal_mode'] == 'yaw'          # inhand_yaw: extra.task
    args = graph.resolve_arguments({'policy': 'policies/inhand_reorient.yaml'})
    assert args['goal_mode'] == 'reorient'
    args = graph.resolve_arguments({'policy': 'policies/inhand_demo.yaml'})
    assert args['goal_mode'] == 'sequence'                        # no task: the default
    assert graph.resolve_arguments({'goal_mode': 'random'})['goal_mode'] == 'random'
    spec = tmp_path / 'spec.yaml'
    spec.write_text('name: x\nextra: {task: spin}\n')
    with pytest.raises(graph.GraphError, match="extra.task 'spin'"):
        graph.resolve_arguments({'policy': str(spec)})
    with pytest.raises(graph.GraphError, match='policy:=.*missing.yaml'):
        graph.resolve_arguments({'policy': str(tmp_path / 'missing.yaml')})


def test_the_limiter_parameter_file_follows_the_hand(tmp_path):
    def limiter_files(**values):
        return {n.name: n for n in graph.bringup(values)}['safety_limiter'].param_files

    # The Shadow hand ships none of its own: the project-wide file, tuned for it.
    assert limiter_files() == ('safety_limiter.yaml',)
    # A hand profile given by path brings the limiter file beside it, if it has one.
    profile = tmp_path / 'lab_hand.yaml'
    profile.write_text(config_path('hands/shadow.yaml').read_text())
    assert limiter_files(hand=str(profile)) == ('safety_limiter.yaml',)
    own = tmp_path / 'lab_hand.safety_limiter.yaml'
    own.write_text(config_path('safety_limiter.yaml').read_text())
    assert limiter_files(hand=str(profile)) == (str(own),)
    # An explicit file wins, by config name or by path; a missing one is named.
    assert limiter_files(hand=str(profile), limiter_params='safety_limiter.yaml') == \
        ('safety_limiter.yaml',)
    with pytest.raises(graph.GraphError, match="limiter_params:='nope.yaml'.*not found"):
        graph.bringup({'limiter_params': 'nope.yaml'})


def test_a_hand_brings_its_scene_policy_and_limiter_file(tmp_path):
    shadow = graph.resolve_arguments({})
    assert (shadow['scene'], shadow['policy']) == ('sim/scene.yaml', 'policies/inhand_yaw.yaml')
    leap = graph.resolve_arguments({'hand': 'leap'})
    assert leap['scene'] == 'hands/leap.scene.yaml'
    assert leap['policy'] == 'policies/leap_demo.yaml'
    assert leap['limiter_params'] == 'hands/leap.safety_limiter.yaml'
    assert leap['goal_mode'] == 'sequence'                  # the demo names no task
    nodes = {n.name: n for n in graph.bringup({'hand': 'leap'})}
    assert {nodes[n].parameters['scene'] for n in ('sim_bridge', 'policy_runner',
                                                   'goal_manager')} == {'hands/leap.scene.yaml'}
    # What the launch names wins over the hand's defaults.
    chosen = graph.resolve_arguments({'hand': 'leap',
                                      'policy': 'policies/playground_leap_reorient.yaml'})
    assert chosen['policy'] == 'policies/playground_leap_reorient.yaml'
    assert chosen['goal_mode'] == 'reorient'
    # A profile given by path: its launch defaults beside it, files relative to them.
    profile = tmp_path / 'lab_hand.yaml'
    profile.write_text(config_path('hands/leap.yaml').read_text())
    scene = tmp_path / 'lab_scene.yaml'
    scene.write_text(config_path('hands/leap.scene.yaml').read_text())
    (tmp_path / 'lab_hand.launch.yaml').write_text(
        'scene: lab_scene.yaml\npolicy: policies/leap_demo.yaml\n')
    assert graph.resolve_arguments({'hand': str(profile)})['scene'] == str(scene)
    # A policy written for another hand is refused before any node starts.
    with pytest.raises(graph.GraphError, match="written for hand 'shadow_right'.*'leap_right'"):
        graph.resolve_arguments({'hand': 'leap', 'policy': 'policies/inhand_yaw.yaml'})
    (tmp_path / 'lab_hand.launch.yaml').write_text('scene: lab_scene.yaml\npolicyy: x.yaml\n')
    with pytest.raises(graph.GraphError, match="hand:=.*unknown key 'policyy'"):
        graph.resolve_arguments({'hand': str(profile)})


class _Recorder:
    """Stand-in for a launch class: records its constructor arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _stub_launch_modules(share):
    """Minimal launch / launch_ros / ament_index_python modules for executing the launch file."""
    def module(name, **attrs):
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        return mod

    return {
        'launch': module('launch', LaunchDescription=_Recorder),
        'launch.actions': module('launch.actions', DeclareLaunchArgument=_Recorder,
                                 OpaqueFunction=_Recorder),
        'launch_ros': module('launch_ros'),
        'launch_ros.actions': module('launch_ros.actions', Node=_Recorder),
        'ament_index_python': module('ament_index_python'),
        'ament_index_python.packages': module(
            'ament_index_python.packages', get_package_share_directory=lambda pkg: share),
    }


def _load_launch_file(monkeypatch):
    for name, stub in _stub_launch_modules(str(ROOT)).items():
        monkeypatch.setitem(sys.modules, name, stub)
    spec = importlib.util.spec_from_file_location('bringup_launch',
                                                  ROOT / 'launch' / 'bringup.launch.py')
    launch_file = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch_file)
    return launch_file


def _launch_nodes(launch_file, **given):
    """Run the launch file's OpaqueFunction as ros2 launch would with name:=value arguments."""
    opaque = launch_file.generate_launch_description().args[0][-1]
    context = types.SimpleNamespace(launch_configurations={
        **{a.name: a.default for a in graph.ARGUMENTS}, **given})
    return opaque.kwargs['function'](context)


def test_the_launch_file_refuses_what_the_pip_launcher_refuses(monkeypatch):
    launch_file = _load_launch_file(monkeypatch)
    for given in ({'simm': 'false'}, {'sim': 'maybe'}, {'real_time_factor': 'fast'}):
        with pytest.raises(graph.GraphError) as pip_error:
            graph.resolve_arguments(given)
        with pytest.raises(graph.GraphError) as launch_error:
            _launch_nodes(launch_file, **given)
        assert str(launch_error.value) == str(pip_error.value)
    with pytest.raises(graph.GraphError, match='unknown launch argument.*simm'):
        _launch_nodes(launch_file, simm='false')


def test_none_gives_the_empty_values_ros2_launch_refuses(monkeypatch):
    launch_file = _load_launch_file(monkeypatch)
    nodes = _launch_nodes(launch_file, results_file='none', dds_profile='none')
    goal_manager = next(n for n in nodes if n.kwargs['name'] == 'goal_manager')
    assert goal_manager.kwargs['parameters'][-1]['results_file'] == ''
    assert 'FASTDDS_DEFAULT_PROFILES_FILE' not in goal_manager.kwargs['additional_env']
    assert graph.resolve_arguments({'results_file': 'None'})['results_file'] == ''


def test_a_required_node_that_dies_fails_the_launch_naming_it(monkeypatch):
    launch_file = _load_launch_file(monkeypatch)
    nodes = {n.kwargs['name']: n for n in _launch_nodes(launch_file)}
    on_exit = nodes['safety_limiter'].kwargs['on_exit']
    running = types.SimpleNamespace(is_shutdown=False)
    with pytest.raises(RuntimeError, match='REQUIRED node safety_limiter was killed by SIGKILL: '
                       'stopping the whole graph'):
        on_exit(types.SimpleNamespace(returncode=-signal.SIGKILL), running)
    with pytest.raises(RuntimeError, match='REQUIRED node safety_limiter exited with code 2'):
        on_exit(types.SimpleNamespace(returncode=2), running)
    # Stopped by the launch itself (Ctrl-C): no failure.
    assert on_exit(types.SimpleNamespace(returncode=0),
                   types.SimpleNamespace(is_shutdown=True)) is None
    assert nodes['policy_runner'].kwargs['on_exit'] is None
    assert nodes['policy_runner'].kwargs['respawn'] is True


@pytest.mark.parametrize('values', [{}, {'sim': 'false'}, {'pose_source': 'vision'},
                                    {'rviz': 'true', 'hand': 'shadow'}])
def test_launch_file_builds_the_same_nodes_as_the_pip_launcher(monkeypatch, values):
    # ros2 launch is not installable here: run the launch file against stub launch modules
    # and compare the Node actions it creates with inhand.graph.bringup.
    for name, stub in _stub_launch_modules(str(ROOT)).items():
        monkeypatch.setitem(sys.modules, name, stub)
    for name in dds_env.PROFILE_VARIABLES:       # as on a lab robot: no profile named yet
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv('RMW_IMPLEMENTATION', raising=False)
    monkeypatch.delenv('ROS_DISTRO', raising=False)
    spec = importlib.util.spec_from_file_location('bringup_launch',
                                                  ROOT / 'launch' / 'bringup.launch.py')
    launch_file = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch_file)
    description = launch_file.generate_launch_description()
    actions = description.args[0]
    declared = {a.args[0]: a.kwargs for a in actions[:-1]}
    assert list(declared) == [a.name for a in graph.ARGUMENTS]
    assert declared['sim']['default_value'] == 'true'
    assert declared['sim']['choices'] == ['true', 'false']
    opaque = actions[-1]
    # As ros2 launch fills them: every declared argument, at its default unless given.
    context = types.SimpleNamespace(launch_configurations={
        **{a.name: a.default for a in graph.ARGUMENTS}, **values})
    nodes = opaque.kwargs['function'](context)
    expected = graph.bringup(values)
    ros_nodes = [n for n in nodes if n.kwargs['package'] == 'inhand']
    assert [n.kwargs['name'] for n in ros_nodes] == [s.name for s in expected]
    for node, spec_ in zip(ros_nodes, expected):
        assert node.kwargs['executable'] == spec_.executable
        files, overrides = node.kwargs['parameters'][:-1], node.kwargs['parameters'][-1]
        assert files == [str(ROOT / 'config' / f) for f in spec_.param_files]
        assert all(pathlib.Path(f).is_file() for f in files)
        assert overrides == spec_.parameters
        assert node.kwargs['remappings'] == list(spec_.remappings)
        profile = str(ROOT / 'config' / 'dds' / 'fastdds_large_images.xml')
        assert node.kwargs['additional_env'] == {'FASTDDS_DEFAULT_PROFILES_FILE': profile}
        assert (node.kwargs['on_exit'] is not None) == spec_.required
    # Every executable the graph names is a console script of setup.py, which starts the
    # node's module through inhand.node_entry (a quiet stop while importing).
    from inhand import node_entry
    setup_py = (ROOT / 'setup.py').read_text()
    for spec_ in expected:
        assert f"'{spec_.executable} = inhand.node_entry:{spec_.executable}'" in setup_py
        assert node_entry.NODE_MODULES[spec_.executable] == spec_.module
    rviz = [n for n in nodes if n.kwargs['package'] == 'rviz2']
    assert len(rviz) == (1 if values.get('rviz') == 'true' else 0)


def test_a_headless_machine_gets_a_gl_backend_that_needs_no_display(monkeypatch):
    from inhand import headless
    monkeypatch.setattr(headless.ctypes.util, 'find_library',
                        lambda name: 'libEGL.so.1' if name == 'EGL' else None)
    assert headless.gl_backend({})[0] == 'egl'
    assert headless.gl_backend({'DISPLAY': ':0'})[0] is None         # windows work there
    assert headless.gl_backend({'MUJOCO_GL': 'osmesa'})[0] is None    # the user's choice
    env = graph.node_environment({}, {'RMW_IMPLEMENTATION': 'rmw_fastrtps_cpp'})
    assert env['MUJOCO_GL'] == 'egl'
    monkeypatch.setattr(headless.ctypes.util, 'find_library',
                        lambda name: 'libOSMesa.so.8' if name == 'OSMesa' else None)
    assert headless.gl_backend({})[0] == 'osmesa'
    monkeypatch.setattr(headless.ctypes.util, 'find_library', lambda name: None)
    value, why = headless.gl_backend({})
    assert value is None and 'libegl1' in why


def test_robot_state_publisher_gets_the_generated_urdf_and_ours_keeps_the_ghost(
        monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))            # the meshes go to ~/.cache/inhand
    launch_file = _load_launch_file(monkeypatch)
    nodes = {n.kwargs['name']: n for n in _launch_nodes(launch_file, rviz='true')}
    assert 'robot_state_publisher' not in nodes          # ours by default
    assert 'publish_tf' not in nodes['hand_description'].kwargs['parameters'][-1]
    nodes = {n.kwargs['name']: n for n in _launch_nodes(
        launch_file, rviz='true', state_publisher='robot_state_publisher')}
    urdf = nodes['robot_state_publisher'].kwargs['parameters'][0]['robot_description']
    assert '<joint name="rh_FFJ3" type="revolute">' in urdf
    meshes = [line.split('file://')[1].split('"')[0] for line in urdf.splitlines()
              if 'file://' in line]
    assert meshes and all(pathlib.Path(m).is_file() for m in meshes)
    ours = nodes['hand_description'].kwargs['parameters'][-1]
    assert ours['publish_tf'] is False and ours['publish_description'] is False
    # The pip launcher cannot start it, and says what to do instead.
    result = subprocess.run([sys.executable, '-m', 'inhand', 'launch', 'bringup',
                             'state_publisher:=robot_state_publisher'],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert 'state_publisher:=robot_state_publisher needs a ROS install' in result.stderr


def test_rviz_and_the_viewer_get_the_detection_images():
    def cube_pose(**given):
        specs = graph.bringup({'pose_source': 'vision', **given})
        return next(s for s in specs if s.name == 'cube_pose').parameters
    assert 'publish_debug_images' not in cube_pose()            # the file's false stands
    assert cube_pose(rviz='true')['publish_debug_images'] is True
    assert cube_pose(viewer='true')['publish_debug_images'] is True
    assert 'viewer' in [s.name for s in graph.bringup({'viewer': 'true'})]
    assert 'viewer' not in [s.name for s in graph.bringup({})]


def test_the_visualization_helpers_start_only_when_asked():
    def names(**given):
        return [s.name for s in graph.bringup(given)]
    helpers = {'hand_description', 'scene_markers'}
    assert not helpers & set(names())
    assert helpers <= set(names(rviz='true'))
    assert helpers <= set(names(visualization='true'))
    assert not helpers & set(names(rviz='true', visualization='false'))
