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
Bring up the inhand graph: `ros2 launch inhand bringup.launch.py sim:=true|false`.

The nodes, their parameters and remappings come from inhand.graph.bringup(), the same
description the pip-only launcher (`inhand launch bringup`) uses, and the arguments pass the
same checks (inhand.graph.resolve_arguments): an unknown or misspelt argument (`simm:=false`)
or a bad value stops the launch with the pip launcher's message. Give `none` where the pip
launcher takes an empty value (`results_file:=none`): `ros2 launch` refuses empty values.
A required node (the limiter; the simulator) that dies ends the launch with a non-zero code
and says which node and how. To include this file from another launch file, put the include
in a `GroupAction(scoped=True, forwarding=False)` and pass its arguments as launch_arguments:
every launch configuration in scope is taken as an argument of this file.
"""
import os

from ament_index_python.packages import get_package_share_directory
from hand_control.description import hand_urdf
from inhand import graph
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch_ros.actions import Node


def _required_node_exited(name):
    """Return an on_exit handler that fails the launch when a required node dies unasked."""
    from inhand.launcher import describe_exit

    def on_exit(event, context):
        if context.is_shutdown:
            return None          # stopped by the launch itself (Ctrl-C, another node's death)
        # An exception ends `ros2 launch` with code 1 and stops every node; a Shutdown event
        # alone would end it with 0, as if nothing had gone wrong.
        raise RuntimeError(f'REQUIRED node {name} {describe_exit(event.returncode)}: '
                           'stopping the whole graph')
    return on_exit


def _nodes(context):
    # Every launch configuration in scope, so that a misspelt argument is refused as the pip
    # launcher refuses it (ros2 launch itself accepts any name:=value silently).
    values = graph.resolve_arguments(dict(context.launch_configurations))
    share = get_package_share_directory('inhand')
    config_dir = os.path.join(share, 'config')
    environment = graph.node_environment(values, os.environ)
    actions = []
    if values['rviz'] == 'true':
        actions.append(Node(
            package='rviz2', executable='rviz2', name='rviz2', output='screen',
            arguments=['-d', os.path.join(share, 'rviz', 'inhand.rviz')],
            parameters=[{'use_sim_time': values['use_sim_time'] == 'true'}]))
    if values['state_publisher'] == 'robot_state_publisher':
        # The stock node from the same generated URDF (meshes written where it names them).
        actions.append(Node(
            package='robot_state_publisher', executable='robot_state_publisher',
            name='robot_state_publisher', output='screen',
            parameters=[{'robot_description': hand_urdf(values['hand'], values['scene']),
                         'use_sim_time': values['use_sim_time'] == 'true'}],
            additional_env=environment))
    for spec in graph.bringup(values):
        actions.append(Node(
            package='inhand', executable=spec.executable, name=spec.name, output='screen',
            parameters=[os.path.join(config_dir, f) for f in spec.param_files]
            + [spec.parameters],
            remappings=list(spec.remappings),
            additional_env=environment,
            # The limiter (and the simulator) must outlive the rest: their death ends the
            # launch; a policy, goal manager or vision node is restarted instead.
            on_exit=_required_node_exited(spec.name) if spec.required else None,
            **({'respawn': True, 'respawn_delay': spec.respawn_delay,
                'respawn_max_retries': spec.respawn_max} if spec.respawn_delay > 0 else {})))
    return actions


def generate_launch_description():
    arguments = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                                       **({'choices': list(a.choices)} if a.choices else {}))
                 for a in graph.ARGUMENTS]
    return LaunchDescription(arguments + [OpaqueFunction(function=_nodes)])
