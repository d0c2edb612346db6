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

"""Install the inhand ROS 2 package (ament_python): four node packages plus shared tooling."""
from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'inhand'


def tree(src, dst_root):
    """Map every file under src to share/inhand/<dst_root>/..., keeping sub-folders."""
    entries = {}
    for path in glob(os.path.join(src, '**', '*'), recursive=True):
        if os.path.isfile(path):
            rel = os.path.relpath(os.path.dirname(path), src)
            dst = os.path.normpath(os.path.join('share', PACKAGE, dst_root, rel))
            entries.setdefault(dst, []).append(path)
    return sorted(entries.items())


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(include=[
        'inhand', 'inhand.*', 'sim_bridge', 'sim_bridge.*', 'hand_control', 'hand_control.*',
        'policy_node', 'policy_node.*', 'vision_pose', 'vision_pose.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.launch.py')),
        ('share/' + PACKAGE + '/rviz', glob('rviz/*.rviz')),
    ] + tree('config', 'config') + tree('models', 'models'),
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='inhand developers',
    maintainer_email='inhand@example.com',
    description='Learned in-hand manipulation on a dexterous hand, as a ROS 2 graph.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'inhand = inhand.cli:main',
            'sim_bridge = inhand.node_entry:sim_bridge',
            'safety_limiter = inhand.node_entry:safety_limiter',
            'hand_description = inhand.node_entry:hand_description',
            'scene_markers = inhand.node_entry:scene_markers',
            'viewer = inhand.node_entry:viewer',
            'policy_runner = inhand.node_entry:policy_runner',
            'goal_manager = inhand.node_entry:goal_manager',
            'cube_pose = inhand.node_entry:cube_pose',
            'vision_rig_calibration = inhand.node_entry:vision_rig_calibration',
        ],
    },
)
