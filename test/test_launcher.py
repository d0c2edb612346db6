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
import ast
import io
import os
import pathlib
import signal
import subprocess
import sys
import time

from inhand import graph
from inhand.launcher import Launcher, node_command
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = pathlib.Path(__file__).resolve().parent


def spec(name, module, required=True):
    return graph.NodeSpec(name=name, executable=name, module=f'launcher_fixtures.{module}',
                          required=required)


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
    assert 'required node fragile died (code 3)' in out.getvalue()
    assert all(n.poll() is not None for n in launcher.nodes)


def test_optional_node_death_is_reported_but_tolerated():
    launcher, out = make_launcher([spec('steady', 'sleeper'),
                                   spec('extra', 'crasher', required=False)])
    launcher.start()
    assert launcher.wait(duration=2.5) == 0
    assert 'extra exited with code 3' in out.getvalue()


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
    assert command[1:4] == ['-m', 'sim_bridge.node', '--ros-args']
    assert ['-r', '__node:=sim_bridge'] == command[4:6]
    assert command[command.index('-r', 6) + 1] == '/cube/pose:=/cube/pose_gt'
    files = [command[i + 1] for i, a in enumerate(command) if a == '--params-file']
    assert files[0].endswith('config/sim/sim_bridge.yaml')
    assert 'seed: 4' in pathlib.Path(files[1]).read_text()


def test_bad_arguments_are_named():
    with pytest.raises(graph.GraphError, match='unknown launch argument'):
        graph.bringup({'simm': 'true'})
    with pytest.raises(graph.GraphError, match="sim:='maybe'"):
        graph.bringup({'sim': 'maybe'})
    assert graph.resolve_arguments({'sim': 'false'})['use_sim_time'] == 'false'


def test_launch_file_uses_the_shared_graph_description():
    # ros2 launch is not installable here; check statically that the launch file declares
    # every graph argument and builds its nodes from inhand.graph.bringup (no second list).
    source = (ROOT / 'launch' / 'bringup.launch.py').read_text()
    tree = ast.parse(source)
    calls = {node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert 'bringup' in calls and 'resolve_arguments' in calls
    assert 'graph.ARGUMENTS' in source
    assert 'executable=spec.executable' in source
