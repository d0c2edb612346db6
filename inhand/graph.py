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
The bringup graph, described once.

Both `launch/bringup.launch.py` (ROS installs, `ros2 launch inhand bringup.launch.py`) and the
project launcher (`inhand launch bringup`, pip-only installs) turn the list of NodeSpec that
bringup() returns into processes, so the two cannot drift: same nodes, same names, same
parameter files and overrides, same remappings. This module is plain Python (no launch or rclpy
imports) so both sides and the tests can use it.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Argument:
    name: str
    default: str
    description: str
    choices: tuple = ()


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph: where its code is and how it is configured."""

    name: str                       # node name (also the log prefix)
    executable: str                 # console script, installed to lib/inhand/ by colcon
    module: str                     # Python module whose main() runs it (pip-only launcher)
    param_files: tuple = ()         # config files relative to share/inhand/config
    parameters: dict = field(default_factory=dict)   # overrides, applied after the files
    remappings: tuple = ()          # (from, to) topic pairs
    required: bool = True           # the whole graph stops when a required node dies


ARGUMENTS = (
    Argument('sim', 'true', 'Run the MuJoCo simulator in place of the real hand and cameras.',
             ('true', 'false')),
    Argument('hand', 'shadow', 'Hand profile: config/hands/<hand>.yaml or a path.'),
    Argument('rviz', 'false', 'Start rviz2 with rviz/inhand.rviz.', ('true', 'false')),
    Argument('use_sim_time', '',
             'Use /clock for time. Empty follows sim (true with the simulator).',
             ('', 'true', 'false')),
    Argument('real_time_factor', '1.0',
             'Simulator speed relative to the wall clock; 0 runs as fast as possible.'),
    Argument('cameras', 'true', 'Simulate and publish the camera images.', ('true', 'false')),
)


class GraphError(ValueError):
    """A launch argument is unknown or has an invalid value."""


def resolve_arguments(overrides: dict) -> dict:
    """Fill defaults, validate choices and derive use_sim_time from sim when left empty."""
    known = {a.name: a for a in ARGUMENTS}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise GraphError(f'unknown launch argument(s): {", ".join(unknown)} '
                         f'(known: {", ".join(known)})')
    args = {name: str(overrides.get(name, arg.default)) for name, arg in known.items()}
    for name, arg in known.items():
        if arg.choices and args[name] not in arg.choices:
            raise GraphError(f'{name}:={args[name]!r} is not one of {list(arg.choices)}')
    if not args['use_sim_time']:
        args['use_sim_time'] = args['sim']
    try:
        if float(args['real_time_factor']) < 0:
            raise ValueError
    except ValueError:
        raise GraphError(f'real_time_factor:={args["real_time_factor"]!r} must be a number '
                         '>= 0') from None
    return args


def _flag(value: str) -> bool:
    return value == 'true'


def bringup(args: dict) -> list:
    """Return the NodeSpecs of the bringup graph for resolved arguments."""
    args = resolve_arguments(args)
    sim_time = _flag(args['use_sim_time'])
    nodes = []
    if _flag(args['sim']):
        nodes.append(NodeSpec(
            name='sim_bridge', executable='sim_bridge', module='sim_bridge.node',
            param_files=('sim/sim_bridge.yaml',),
            parameters={'hand': args['hand'], 'use_sim_time': False,
                        'real_time_factor': float(args['real_time_factor']),
                        'enable_cameras': _flag(args['cameras'])}))
    # Later nodes (limiter, policy, vision) join here with 'use_sim_time': sim_time.
    del sim_time
    return nodes


def parse_cli_arguments(tokens) -> dict:
    """Parse `name:=value` tokens as ros2 launch does."""
    overrides = {}
    for token in tokens:
        name, sep, value = token.partition(':=')
        if not sep or not name:
            raise GraphError(f'expected name:=value, got {token!r}')
        overrides[name] = value
    return overrides
