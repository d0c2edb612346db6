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
description the pip-only launcher (`inhand launch bringup`) uses.
"""
import os

from ament_index_python.packages import get_package_share_directory
from inhand import graph
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _nodes(context):
    values = graph.resolve_arguments(
        {a.name: LaunchConfiguration(a.name).perform(context) for a in graph.ARGUMENTS})
    share = get_package_share_directory('inhand')
    config_dir = os.path.join(share, 'config')
    environment = graph.node_environment(values, os.environ)
    actions = []
    if values['rviz'] == 'true':
        actions.append(Node(
            package='rviz2', executable='rviz2', name='rviz2', output='screen',
            arguments=['-d', os.path.join(share, 'rviz', 'inhand.rviz')],
            parameters=[{'use_sim_time': values['use_sim_time'] == 'true'}]))
    for spec in graph.bringup(values):
        actions.append(Node(
            package='inhand', executable=spec.executable, name=spec.name, output='screen',
            parameters=[os.path.join(config_dir, f) for f in spec.param_files]
            + [spec.parameters],
            remappings=list(spec.remappings),
            additional_env=environment,
            # The limiter (and the simulator) must outlive the rest: their death ends the
            # launch; a policy, goal manager or vision node is restarted instead.
            on_exit=EmitEvent(event=Shutdown(reason=f'required node {spec.name} exited'))
            if spec.required else None,
            **({'respawn': True, 'respawn_delay': spec.respawn_delay,
                'respawn_max_retries': spec.respawn_max} if spec.respawn_delay > 0 else {})))
    return actions


def generate_launch_description():
    arguments = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                                       **({'choices': list(a.choices)} if a.choices else {}))
                 for a in graph.ARGUMENTS]
    return LaunchDescription(arguments + [OpaqueFunction(function=_nodes)])
