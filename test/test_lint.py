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

"""The ament linters over the whole package: flake8, pep257, copyright, xmllint."""
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = ['inhand', 'sim_bridge', 'hand_control', 'policy_node', 'vision_pose', 'training',
           'launch', 'test', 'bench', 'scripts', 'setup.py']
HEADER = (ROOT / 'scripts' / 'copyright_header.txt').read_text()


def python_files():
    for entry in SOURCES:
        path = ROOT / entry
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(path.rglob('*.py'))


@pytest.mark.linter
def test_flake8():
    from ament_flake8.main import main_with_errors
    rc, errors = main_with_errors(argv=[str(ROOT / s) for s in SOURCES if (ROOT / s).exists()])
    assert rc == 0, f'flake8 found {len(errors)} problem(s):\n' + '\n'.join(errors)


@pytest.mark.linter
def test_pep257():
    from ament_pep257.main import main
    rc = main(argv=[str(ROOT / s) for s in SOURCES if (ROOT / s).exists()])
    assert rc == 0, 'pep257 found problems (see captured output)'


@pytest.mark.linter
def test_copyright():
    # ament_copyright has no wheel; this checks the same thing for our one license: every
    # Python file starts (after an optional shebang) with the project's Apache-2.0 header.
    missing = []
    for path in python_files():
        text = path.read_text()
        if text.startswith('#!'):
            text = text.split('\n', 1)[1]
        if not text.startswith(HEADER):
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, 'missing the Apache-2.0 header (run scripts/add_copyright.py): ' \
        + ', '.join(missing)


@pytest.mark.linter
def test_xmllint():
    # ament_xmllint has no wheel either: check well-formedness with xmllint when installed and
    # validate package.xml with catkin_pkg, the parser colcon itself uses.
    from catkin_pkg.package import parse_package
    xml_files = [ROOT / 'package.xml'] + sorted((ROOT / 'third_party').rglob('package.xml'))
    if shutil.which('xmllint'):
        for path in xml_files:
            result = subprocess.run(['xmllint', '--noout', str(path)], capture_output=True,
                                    text=True)
            assert result.returncode == 0, result.stderr
    for path in xml_files:
        package = parse_package(str(path))
        package.validate()
    assert parse_package(str(ROOT / 'package.xml')).get_build_type() == 'ament_python'
