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

"""The package builds the standard ROS way (colcon, ament_python) and its installed scripts run."""
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope='module')
def install(tmp_path_factory):
    out = tmp_path_factory.mktemp('colcon')
    result = subprocess.run(['bash', str(ROOT / 'scripts' / 'colcon_build.sh'), str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out / 'install'


def sourced(install, command, **kwargs):
    """Run command in a shell that sourced the colcon install, from outside the checkout."""
    script = f'source {install}/setup.bash && {command}'
    return subprocess.Popen(['bash', '-c', script], cwd='/', stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            **kwargs)


def test_install_layout(install):
    share = install / 'inhand' / 'share' / 'inhand'
    for relative in ('package.xml', 'launch/bringup.launch.py', 'config/hands/shadow.yaml',
                     'config/sim/sim_bridge.yaml', 'rviz/inhand.rviz'):
        assert (share / relative).is_file(), relative
    index = install / 'inhand' / 'share' / 'ament_index' / 'resource_index' / 'packages'
    assert (index / 'inhand').is_file()
    scripts = install / 'inhand' / 'lib' / 'inhand'
    for executable in ('inhand', 'sim_bridge', 'safety_limiter', 'policy_runner', 'goal_manager',
                       'cube_pose', 'vision_rig_calibration'):
        assert os.access(scripts / executable, os.X_OK), executable


def test_installed_cli_resolves_config_from_share(install):
    proc = sourced(install, f'{install}/inhand/lib/inhand/inhand graph bringup sim:=true')
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert 'sim_bridge: sim_bridge.node' in out


def test_installed_sim_bridge_starts_and_stops(install, fresh_domain):
    proc = sourced(install, f'exec {install}/inhand/lib/inhand/sim_bridge --ros-args '
                   '-p enable_cameras:=false -p real_time_factor:=0.0')
    deadline = time.monotonic() + 60
    seen = ''
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen += line
        if 'simulating' in line or proc.poll() is not None:
            break
    assert 'simulating' in seen, seen
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, seen + out


def test_installed_graph_runs_from_the_install_share(install, fresh_domain, tmp_path):
    # The whole bringup graph from the colcon install (not the checkout): every node finds its
    # config, hand model, policy spec and ONNX model in share/ and runs until stopped.
    proc = sourced(install, f'exec {install}/inhand/lib/inhand/inhand launch bringup '
                   f'cameras:=false results_file:={tmp_path}/episodes.jsonl --duration 12')
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-4000:]
    for name in ('sim_bridge', 'safety_limiter', 'goal_manager', 'policy_runner'):
        assert f'started {name}' in out
    # ... and that code is the installed copy, not the checkout's.
    proc = sourced(install, f'{sys.executable} -c "import inhand.paths as p, policy_node; '
                   'print(p.__file__, policy_node.__file__, p.share_dir())"')
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert all(path.startswith(str(install)) for path in out.split()), out
