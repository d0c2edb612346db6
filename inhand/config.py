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

"""Load YAML config files with errors that name the file and the offending key."""
import difflib
import math
import pathlib
from typing import Mapping

from inhand.paths import config_path
import yaml


class ConfigError(ValueError):
    """A config file is missing, unreadable or has an invalid entry."""


def load_yaml(name_or_path) -> tuple[dict, pathlib.Path]:
    """Read a YAML mapping; raise ConfigError naming the file on any problem."""
    try:
        path = config_path(str(name_or_path))
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f'{path}: not valid YAML: {exc}') from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f'{path}: expected a mapping at the top level, got {type(data).__name__}')
    return data, path


def unknown_key_problem(data: Mapping, known, where: str) -> str:
    """
    Describe the first key of data outside known, or return '' when there is none.

    The text names the entry and the nearest known key ("did you mean max_velocity?"); a
    number as a key is most often a decimal comma in a flow map (`upper: 1,571` reads as
    `upper: 1` plus a key 571), which the text says.
    """
    known = sorted(map(str, known))
    for key in sorted(data, key=str):
        if str(key) in known:
            continue
        near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f' (did you mean {near[0]}?)' if near else ''
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            hint = ' (a decimal comma? write numbers with a point, e.g. 1.571)'
        return f'{where}: unknown key {key!r}{hint}; known keys: {", ".join(known)}'
    return ''


def check_known_keys(data: Mapping, known, where: str) -> None:
    """Raise ConfigError when data has a key outside known (see unknown_key_problem)."""
    problem = unknown_key_problem(data, known, where)
    if problem:
        raise ConfigError(problem)


class Fields:
    """Typed accessors over one mapping of a config file, for precise error messages."""

    def __init__(self, data: Mapping, where: str):
        if not isinstance(data, Mapping):
            raise ConfigError(f'{where}: expected a mapping, got {type(data).__name__}')
        self.data = data
        self.where = where

    def _get(self, key, default):
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            raise ConfigError(f'{self.where}: missing required key {key!r}')
        return default

    def text(self, key, default=None) -> str:
        value = self._get(key, default if default is not None else _REQUIRED)
        if not isinstance(value, str) or not value:
            raise ConfigError(f'{self.where}.{key}: expected a non-empty string, got {value!r}')
        return value

    def number(self, key, default=None, positive=False) -> float:
        value = self._get(key, default if default is not None else _REQUIRED)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ConfigError(f'{self.where}.{key}: expected a finite number, got {value!r}')
        if positive and value <= 0:
            raise ConfigError(f'{self.where}.{key}: must be > 0, got {value!r}')
        return float(value)

    def integer(self, key, default=None, positive=False) -> int:
        value = self._get(key, default if default is not None else _REQUIRED)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f'{self.where}.{key}: expected an integer, got {value!r}')
        if positive and value <= 0:
            raise ConfigError(f'{self.where}.{key}: must be > 0, got {value!r}')
        return value

    def items(self, key, default=None) -> list:
        value = self._get(key, default if default is not None else _REQUIRED)
        if not isinstance(value, list):
            raise ConfigError(f'{self.where}.{key}: expected a list, got {value!r}')
        return value

    def vector(self, key, size: int, default=None) -> list:
        value = self.items(key, default)
        if len(value) != size or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in value):
            raise ConfigError(
                f'{self.where}.{key}: expected {size} finite numbers, got {value!r}')
        return [float(v) for v in value]

    def allow(self, *keys) -> 'Fields':
        """Refuse keys other than these (a typo must not load as a default); return self."""
        check_known_keys(self.data, keys, self.where)
        return self

    def section(self, key, default=None) -> 'Fields':
        value = self._get(key, default if default is not None else _REQUIRED)
        return Fields(value, f'{self.where}.{key}')


_REQUIRED = object()
