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
The `inhand` command: the graph and tools for checkouts without ROS' own command line.

    inhand launch bringup sim:=true [hand:=shadow] [--duration 30]
    inhand graph bringup sim:=true          # print the nodes, parameters and remappings
    inhand demo [--duration 40]             # bounded run on the simulator with a summary
    inhand evaluate --policy SPEC --episodes N [--task yaw|reorient] [pose_source:=vision]
    inhand record [--out DIR] [--topics ...] [--per-episode] [--launch name:=value ...]
    inhand play RECORDING [--rate R] [--topics ...]
    inhand report SOURCE... [--out report.html]   # recordings, evaluations, training runs
"""
import argparse
import sys

from inhand import graph


GRAPHS = {'bringup': graph.bringup}


def _resolve(name, tokens):
    if name not in GRAPHS:
        raise graph.GraphError(f'unknown graph {name!r} (known: {", ".join(GRAPHS)})')
    return GRAPHS[name](graph.parse_cli_arguments(tokens))


def cmd_launch(options) -> int:
    import os
    from inhand import dds_env, launcher
    specs = _resolve(options.graph, options.arguments)
    args = graph.resolve_arguments(graph.parse_cli_arguments(options.arguments))
    if args['state_publisher'] != 'inhand':
        raise graph.GraphError('state_publisher:=robot_state_publisher needs a ROS install: '
                               'ros2 launch inhand bringup.launch.py state_publisher:='
                               'robot_state_publisher (here: state_publisher:=inhand)')
    env = dict(os.environ)
    if args['sim'] == 'true':
        # Everything runs on this machine: default to loopback discovery and a domain of
        # this run's own, unless the user chose them (e.g. to watch from another host).
        env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        if not env.get('ROS_DOMAIN_ID'):
            env['ROS_DOMAIN_ID'] = str(dds_env.pick_domain_id())
    # On the real hand the drivers live elsewhere: the user's DDS settings stay as they are.
    from inhand import headless
    print(f'[inhand] rendering: {headless.gl_backend(env)[1]}', flush=True)
    env.update(graph.node_environment(args, env))
    return launcher.run(specs, duration=options.duration, env=env, isolate=False)


def cmd_graph(options) -> int:
    for spec in _resolve(options.graph, options.arguments):
        print(f'{spec.name}: {spec.module} (executable {spec.executable}, '
              f'{"required" if spec.required else "optional"})')
        for name in spec.param_files:
            print(f'  params file: {name}')
        for key, value in sorted(spec.parameters.items()):
            print(f'  {key}: {value!r}')
        for source, target in spec.remappings:
            print(f'  remap {source} -> {target}')
    return 0


def cmd_markers(options) -> int:
    from inhand.config import ConfigError
    from inhand.cube_markers import load_cube_markers
    try:
        markers = load_cube_markers(options.cube)
        path = markers.write_printable_sheet(options.out, dpi=options.dpi)
    except (ConfigError, OSError, ValueError) as exc:
        print(f'inhand markers: {exc}', file=sys.stderr)
        return 2
    print(f'wrote {path}: print at {options.dpi} dpi with no scaling ("actual size"), then '
          f'check that each marker measures {markers.marker_size * 1000:.1f} mm')
    return 0


def cmd_evaluate(options) -> int:
    from inhand import evaluate
    return evaluate.main(options.rest)


def cmd_record(options) -> int:
    from inhand import record
    return record.main(options.rest)


def cmd_play(options) -> int:
    from inhand import play
    return play.main(options.rest)


def cmd_report(options) -> int:
    from inhand import report
    return report.main(options.rest)


# Commands whose options are their own (inhand <command> --help): handed over unparsed.
PASS_THROUGH = {'evaluate': cmd_evaluate, 'record': cmd_record, 'play': cmd_play,
                'report': cmd_report}


def cmd_demo(options) -> int:
    from inhand import demo
    return demo.main(options.arguments + ['--duration', str(options.duration)]
                     + (['--out', options.out] if options.out else []))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='inhand', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    launch = sub.add_parser('launch', help='start a graph of nodes (like ros2 launch)')
    launch.add_argument('graph', help='graph name, e.g. bringup')
    launch.add_argument('arguments', nargs='*', help='launch arguments name:=value')
    launch.add_argument('--duration', type=float, default=None,
                        help='stop everything after this many seconds')
    launch.set_defaults(func=cmd_launch)
    show = sub.add_parser('graph', help='print the nodes a graph would start')
    show.add_argument('graph')
    show.add_argument('arguments', nargs='*')
    show.set_defaults(func=cmd_graph)
    demo = sub.add_parser('demo', help='run the bringup graph on the simulator and summarise')
    demo.add_argument('arguments', nargs='*', help='launch arguments name:=value')
    demo.add_argument('--duration', type=float, default=40.0)
    demo.add_argument('--out', default=None,
                      help='folder for the recording and report (none: neither)')
    demo.set_defaults(func=cmd_demo)
    evaluate = sub.add_parser('evaluate', add_help=False,
                              help='N episodes of a policy through the graph, with a summary '
                                   '(inhand evaluate --help)')
    evaluate.add_argument('rest', nargs=argparse.REMAINDER)
    evaluate.set_defaults(func=cmd_evaluate)
    for name, text in (('record', 'record graph topics to MCAP (inhand record --help)'),
                       ('play', 'play a recording into a graph (inhand play --help)'),
                       ('report', 'write an HTML report (inhand report --help)')):
        command = sub.add_parser(name, add_help=False, help=text)
        command.add_argument('rest', nargs=argparse.REMAINDER)
        command.set_defaults(func=PASS_THROUGH[name])
    markers = sub.add_parser('markers', help='write the printable marker sheet of the cube')
    markers.add_argument('--out', default='cube_markers.png', help='output image path')
    markers.add_argument('--cube', default='cube/aruco_cube.yaml', help='cube marker config')
    markers.add_argument('--dpi', type=int, default=300)
    markers.set_defaults(func=cmd_markers)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in PASS_THROUGH:
        options = argparse.Namespace(func=PASS_THROUGH[argv[0]], rest=argv[1:])
    else:
        options = parser.parse_args(argv)
    try:
        return options.func(options)
    except graph.GraphError as exc:
        print(f'inhand: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
