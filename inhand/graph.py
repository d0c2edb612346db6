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
import dataclasses
from dataclasses import dataclass, field
import math
import os
import pathlib

from inhand.paths import config_path

# The limiter's project-wide parameter file, tuned for the Shadow hand's motors.
DEFAULT_LIMITER_PARAMS = 'safety_limiter.yaml'


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
    respawn_delay: float = 0.0      # s before a dead optional node is restarted; 0: never
    respawn_max: int = 0            # restarts allowed per run (then it stays down)


ARGUMENTS = (
    Argument('sim', 'true', 'Run the MuJoCo simulator in place of the real hand and cameras.',
             ('true', 'false')),
    Argument('hand', 'shadow', 'Hand profile: config/hands/<hand>.yaml or a path.'),
    Argument('rviz', 'false', 'Start rviz2 with rviz/inhand.rviz.', ('true', 'false')),
    Argument('viewer', 'false',
             'Start a web viewer of the graph (Rerun, no ROS tools needed) and print its URL.',
             ('true', 'false')),
    Argument('visualization', '',
             'Start hand_description (URDF, hand TF, commanded ghost) and scene_markers. '
             'Empty: with rviz:=true. true: also for an rviz elsewhere on the network.',
             ('', 'true', 'false')),
    Argument('state_publisher', 'inhand',
             "Who puts the hand's links on TF: inhand (the hand_description node, MuJoCo "
             'forward kinematics, also in a pip-only install) or robot_state_publisher (the '
             'stock node of a ROS install, from the same generated URDF; ros2 launch only).',
             ('inhand', 'robot_state_publisher')),
    Argument('use_sim_time', '',
             'Use /clock for time. Empty follows sim (true with the simulator).',
             ('', 'true', 'false')),
    Argument('real_time_factor', '1.0',
             'Simulator speed relative to the wall clock; 0 runs as fast as possible.'),
    Argument('cameras', 'true', 'Simulate and publish the camera images.', ('true', 'false')),
    Argument('pose_source', '',
             "Cube pose for the policy and the limiter: gt (the simulator's /cube/pose_gt) or "
             'vision (the cube_pose node). Empty: gt with the simulator, vision without.',
             ('', 'gt', 'vision')),
    Argument('policy', '',
             'Policy spec (config/policies/*.yaml or a path); the spec names its ONNX model. '
             "Empty: the hand's default (config/hands/<hand>.launch.yaml), else "
             'policies/inhand_yaw.yaml.'),
    Argument('policy_mode', '',
             'Policy runner mode at start: idle, home or run. Empty: run with the simulator, '
             'idle on the real hand (start it with the ~/run service).',
             ('', 'idle', 'home', 'run')),
    Argument('goal_mode', '',
             'Goals: sequence or reorient (arbitrary, seeded, reproducible), random, or yaw '
             '(90 degree turns about the vertical, the cube face-up). Empty: the task the '
             "policy was trained for (its spec's extra.task), else sequence.",
             ('', 'sequence', 'reorient', 'random', 'yaw')),
    Argument('limiter_params', '',
             "The safety limiter's parameter file (config/ name or a path): wear budget, "
             'tracking window, speed limits. Empty: config/hands/<hand>.safety_limiter.yaml '
             'when the hand ships one, else safety_limiter.yaml (tuned for the Shadow hand).'),
    Argument('scene', '',
             'Rig description: the hand mount in world (sim and kinematics) and the cube. '
             "Empty: the hand's scene (config/hands/<hand>.launch.yaml), else sim/scene.yaml."),
    Argument('results_file', '~/.ros/inhand/episodes.jsonl',
             'Episode results are appended here (JSON lines); none (or empty): not written.'),
    Argument('dds_profile', 'dds/fastdds_large_images.xml',
             'Fast DDS XML profile for the nodes (config/dds/*.xml or a path): the default '
             'fits 640x480 images in shared memory. none (or empty), another middleware, or a '
             'profile already named in the environment: left as it is.'),
)


class GraphError(ValueError):
    """A launch argument is unknown or has an invalid value."""


# Arguments whose empty value means "none"; the word none gives it under `ros2 launch`.
NONE_MEANS_EMPTY = ('results_file', 'dds_profile')


def resolve_arguments(overrides: dict) -> dict:
    """Fill defaults, validate choices and derive use_sim_time from sim when left empty."""
    known = {a.name: a for a in ARGUMENTS}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise GraphError(f'unknown launch argument(s): {", ".join(unknown)} '
                         f'(known: {", ".join(known)})')
    args = {name: str(overrides.get(name, arg.default)) for name, arg in known.items()}
    # `ros2 launch` refuses an empty value on its command line: 'none' says "no file".
    for name in NONE_MEANS_EMPTY:
        if args[name].strip().lower() == 'none':
            args[name] = ''
    for name, arg in known.items():
        if arg.choices and args[name] not in arg.choices:
            raise GraphError(f'{name}:={args[name]!r} is not one of {list(arg.choices)}')
    if not args['use_sim_time']:
        args['use_sim_time'] = args['sim']
    if not args['visualization']:
        args['visualization'] = args['rviz']
    if not args['pose_source']:
        args['pose_source'] = 'gt' if args['sim'] == 'true' else 'vision'
    if args['pose_source'] == 'gt' and args['sim'] != 'true':
        raise GraphError('pose_source:=gt needs the simulator (sim:=true): the real cube has '
                         'no ground truth')
    if args['pose_source'] == 'vision' and args['sim'] == 'true' and args['cameras'] != 'true':
        raise GraphError('pose_source:=vision needs the camera images (cameras:=true)')
    # What the hand ships for the arguments left empty (hands/<hand>.launch.yaml), then the
    # project's defaults (made for the Shadow hand).
    defaults = hand_launch_defaults(args['hand'])
    for name, fallback in HAND_DEFAULTS.items():
        if not args[name]:
            args[name] = defaults.get(name) or fallback
    check_policy_hand(args['policy'], args['hand'])
    if not args['goal_mode']:
        args['goal_mode'] = policy_task(args['policy']) or 'sequence'
    if not args['policy_mode']:
        args['policy_mode'] = 'run' if args['sim'] == 'true' else 'idle'
    try:
        factor = float(args['real_time_factor'])
        if not math.isfinite(factor) or factor < 0:
            raise ValueError
    except ValueError:
        raise GraphError(f'real_time_factor:={args["real_time_factor"]!r} must be a finite '
                         'number >= 0') from None
    if not args['limiter_params']:
        args['limiter_params'] = defaults.get('limiter_params') \
            or hand_limiter_params(args['hand'])
    try:
        # A file named by path becomes absolute: the ROS launcher joins the others to config/.
        found = config_path(args['limiter_params'])
        if pathlib.Path(os.path.expanduser(args['limiter_params'])).is_file():
            args['limiter_params'] = str(found)
    except FileNotFoundError as exc:
        raise GraphError(f'limiter_params:={args["limiter_params"]!r}: {exc}') from None
    if args['sim'] == 'true' and args['use_sim_time'] != 'true':
        raise GraphError('use_sim_time:=false with sim:=true: every node would judge the '
                         "simulator's sim-time stamps as stale; leave use_sim_time empty")
    return args


# Arguments a hand may set the default of, and the project's default when it does not.
HAND_DEFAULTS = {'policy': 'policies/inhand_yaw.yaml', 'scene': 'sim/scene.yaml'}


def hand_companion(hand: str, role: str) -> str | None:
    """
    Return the file a hand ships beside its profile for role, or None: hands/<hand>.<role>.yaml.

    A hand given as a profile path looks beside it (<stem>.<role>.yaml, returned as that path);
    a hand given by name looks in config/ (returned as the config name).
    """
    profile = pathlib.Path(os.path.expanduser(hand))
    if profile.suffix in ('.yaml', '.yml'):
        candidate = profile.with_name(f'{profile.stem}.{role}.yaml')
        return str(candidate) if candidate.is_file() else None
    name = f'hands/{hand}.{role}.yaml'
    try:
        config_path(name)
    except FileNotFoundError:
        return None
    return name


def hand_launch_defaults(hand: str) -> dict:
    """
    Return the launch argument defaults a hand ships: hands/<hand>.launch.yaml.

    A hand given as a profile path looks beside it (<stem>.launch.yaml). The file maps argument
    names (policy, scene, limiter_params) to values; anything else is refused by name. No
    file: no hand-specific defaults.
    """
    from inhand.config import ConfigError, Fields, load_yaml
    name = hand_companion(hand, 'launch')
    if name is None:
        return {}
    try:
        data, path = load_yaml(name)
        fields = Fields(data or {}, str(path)).allow(*HAND_DEFAULTS, 'limiter_params')
        values = {key: fields.text(key) for key in fields.data}
    except ConfigError as exc:
        raise GraphError(f'hand:={hand}: {exc}') from None
    # Beside a profile given by path, a file named relative to the launch file becomes absolute.
    if pathlib.Path(os.path.expanduser(hand)).suffix in ('.yaml', '.yml'):
        for key, value in values.items():
            beside = pathlib.Path(path).parent / os.path.expanduser(value)
            if not pathlib.Path(value).is_absolute() and beside.is_file():
                values[key] = str(beside)
    return values


def hand_limiter_params(hand: str) -> str:
    """
    Return the limiter parameter file a hand ships (hands/<name>.safety_limiter.yaml).

    A hand given as a profile path looks beside it (<stem>.safety_limiter.yaml); without one
    the project-wide safety_limiter.yaml applies.
    """
    return hand_companion(hand, 'safety_limiter') or DEFAULT_LIMITER_PARAMS


def check_policy_hand(policy: str, hand: str) -> None:
    """Refuse a policy spec written for another hand than hand:= (before any node starts)."""
    from inhand.config import ConfigError, load_yaml
    profile = hand if hand.endswith(('.yaml', '.yml')) else f'hands/{hand}.yaml'
    try:
        spec, _ = load_yaml(policy)
    except ConfigError as exc:
        raise GraphError(f'policy:={policy!r}: {exc}') from None
    try:
        data, _ = load_yaml(profile)
    except ConfigError as exc:
        raise GraphError(f'hand:={hand!r}: {exc}') from None
    written_for = spec.get('hand') if isinstance(spec, dict) else None
    name = data.get('name') if isinstance(data, dict) else None
    if written_for and name and written_for != name:
        raise GraphError(f'policy:={policy} is written for hand {written_for!r}, but hand:={hand} '
                         f'is {name!r}: name a policy for this hand (or leave policy empty for '
                         "the hand's default)")


def policy_task(policy: str) -> str:
    """Return the goal mode a policy spec was trained for (extra.task), or '' if it names none."""
    from inhand.config import ConfigError, load_yaml
    try:
        data, path = load_yaml(policy)
    except ConfigError as exc:
        raise GraphError(f'policy:={policy!r}: {exc}') from None
    extra = data.get('extra') or {}
    task = extra.get('task', '') if isinstance(extra, dict) else ''
    if task not in ('', 'sequence', 'reorient', 'random', 'yaw'):
        raise GraphError(f'{path}: extra.task {task!r} is not a goal mode')
    return task


def node_environment(args: dict, environ) -> dict:
    """Return the environment variables both launchers add for the graph's nodes."""
    from inhand import dds_env, headless
    args = resolve_arguments(args)
    try:
        env = dds_env.transport_profile(args['dds_profile'], environ)
    except FileNotFoundError as exc:
        raise GraphError(f'dds_profile:={args["dds_profile"]!r}: {exc}') from None
    # A headless machine must not crash the simulator's cameras (or a node rendering later).
    backend, _ = headless.gl_backend(environ)
    if backend:
        env['MUJOCO_GL'] = backend
    return env


def _flag(value: str) -> bool:
    return value == 'true'


# What the hand cannot do without stops the graph: the safety limiter (the last line before the
# motors: its e-stop, watchdogs and diagnostics must outlive everything else) and, in
# simulation, the simulator. A policy, goal manager or vision node that dies leaves the limiter
# holding (its command timeout) and is restarted after a delay, a bounded number of times;
# commands then ramp in again.
RESTARTABLE = {'required': False, 'respawn_delay': 2.0, 'respawn_max': 5}


def bringup(args: dict) -> list:
    """Return the NodeSpecs of the bringup graph for resolved arguments."""
    args = resolve_arguments(args)
    sim_time = _flag(args['use_sim_time'])
    nodes = []
    if _flag(args['sim']):
        nodes.append(NodeSpec(
            name='sim_bridge', executable='sim_bridge', module='sim_bridge.node',
            param_files=('sim/sim_bridge.yaml',),
            parameters={'hand': args['hand'], 'scene': args['scene'], 'use_sim_time': False,
                        'real_time_factor': float(args['real_time_factor']),
                        'enable_cameras': _flag(args['cameras']),
                        # With the camera pose in the loop, the world waits for a late render
                        # rather than lose a frame (the policy would hold); on ground truth the
                        # images are only watched or recorded: drop a late set, keep real time.
                        'camera_wait': 0.25 if args['pose_source'] == 'vision' else 0.0}))
    # Which cube pose the consumers read: remapped to the simulator's ground truth, or left on
    # /cube/pose where the cube_pose node publishes its estimate.
    cube_remap = (('cube/pose', 'cube/pose_gt'),) if args['pose_source'] == 'gt' else ()
    common = {'hand': args['hand'], 'use_sim_time': sim_time}
    if args['pose_source'] == 'vision':
        nodes.append(NodeSpec(
            name='cube_pose', executable='cube_pose', module='vision_pose.cube_pose_node',
            param_files=('vision/cube_pose.yaml',),
            # rviz and the web viewer show the images with the detections drawn on them.
            parameters={'use_sim_time': sim_time, 'scene': args['scene'],
                        **({'publish_debug_images': True}
                           if _flag(args['rviz']) or _flag(args['viewer']) else {})},
            **RESTARTABLE))
    nodes.append(NodeSpec(
        name='safety_limiter', executable='safety_limiter',
        module='hand_control.safety_limiter_node', param_files=(args['limiter_params'],),
        parameters=dict(common), remappings=cube_remap))
    # The hand in rviz: URDF, TF of the measured hand and the commanded ghost; and the markers
    # (cube estimate / truth / goal, camera frusta, limiter state, joint flags). Not required:
    # they only show, so they restart like the policy. Only when asked for (rviz:=true or
    # visualization:=true): on 2 cores they cost about 45 % of one core, which vision needs.
    if _flag(args['visualization']):
        nodes += _visualization_nodes(args, common)
    if _flag(args['viewer']):
        nodes.append(NodeSpec(
            name='viewer', executable='viewer', module='inhand.viewer_node',
            param_files=('viewer.yaml',), parameters=dict(common, scene=args['scene']),
            **RESTARTABLE))
    nodes.append(NodeSpec(
        name='goal_manager', executable='goal_manager', module='policy_node.goal_manager_node',
        param_files=('policies/goal_manager.params.yaml',),
        parameters=dict(common, scene=args['scene'], goal_mode=args['goal_mode'],
                        results_file=args['results_file'],
                        # In the simulator a finished episode resets the cube into the palm.
                        reset_service='/sim_bridge/reset_random'
                        if _flag(args['sim']) else ''),
        remappings=cube_remap, **RESTARTABLE))
    nodes.append(NodeSpec(
        name='policy_runner', executable='policy_runner',
        module='policy_node.policy_runner_node',
        param_files=('policies/policy_runner.params.yaml',),
        parameters=dict(common, scene=args['scene'], spec=args['policy'],
                        initial_mode=args['policy_mode']),
        remappings=cube_remap, **RESTARTABLE))
    return nodes


def _visualization_nodes(args, common) -> list:
    """Return the rviz helpers: hand_description (URDF, hand TF, ghost) and scene_markers."""
    nodes = []
    nodes.append(NodeSpec(
        name='hand_description', executable='hand_description',
        module='hand_control.hand_description_node', param_files=('hand_description.yaml',),
        parameters=dict(common, scene=args['scene'],
                        # robot_state_publisher publishes the URDF and the measured hand's
                        # TF itself; the ghost stays ours.
                        **({'publish_tf': False, 'publish_description': False}
                           if args['state_publisher'] == 'robot_state_publisher' else {})),
        **RESTARTABLE))
    nodes.append(NodeSpec(
        name='scene_markers', executable='scene_markers', module='inhand.scene_markers_node',
        param_files=('scene_markers.yaml',),
        parameters=dict(common, scene=args['scene']), **RESTARTABLE))
    return nodes


def with_parameters(spec: NodeSpec, **parameters) -> NodeSpec:
    """Return a copy of a node spec with these parameters added (or replaced)."""
    return dataclasses.replace(spec, parameters={**spec.parameters, **parameters})


def parse_cli_arguments(tokens) -> dict:
    """Parse `name:=value` tokens as ros2 launch does."""
    overrides = {}
    for token in tokens:
        name, sep, value = token.partition(':=')
        if not sep or not name:
            raise GraphError(f'expected name:=value, got {token!r}')
        overrides[name] = value
    return overrides
