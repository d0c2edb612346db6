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

"""Find the package's data files in a source checkout and in a ROS install alike."""
import os
import pathlib

PACKAGE = 'inhand'
_SOURCE_ROOT = pathlib.Path(__file__).resolve().parent.parent


def share_dir() -> pathlib.Path:
    """Return the folder holding config/, launch/, rviz/ (checkout, else ament index)."""
    if (_SOURCE_ROOT / 'config').is_dir() and (_SOURCE_ROOT / 'package.xml').is_file():
        return _SOURCE_ROOT
    try:
        from ament_index_python.packages import get_package_share_directory
        return pathlib.Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError) as exc:
        raise FileNotFoundError(
            f'cannot find the {PACKAGE} share folder (not a checkout, not installed)') from exc


def config_path(name: str) -> pathlib.Path:
    """Resolve a config file: an existing path as given, else relative to share/config."""
    candidate = pathlib.Path(os.path.expanduser(name))
    if candidate.is_file():
        return candidate.resolve()
    resolved = share_dir() / 'config' / name
    if not resolved.is_file():
        raise FileNotFoundError(f'config file not found: {name!r} (looked in {resolved.parent})')
    return resolved


def python_package_dir(package: str) -> pathlib.Path:
    """Return the folder of an installed Python package without importing it."""
    import importlib.util
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f'Python package {package!r} is not installed')
    return pathlib.Path(list(spec.submodule_search_locations)[0])
