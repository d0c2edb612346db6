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
Keep DDS on this machine: loopback discovery and a domain id of our own for every run.

Every test, benchmark, demo and launcher run goes through isolate(); it sets
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and, unless the caller chose one, a ROS_DOMAIN_ID
derived from the process id so that concurrent runs on one machine do not see each other.
"""
import os

# Fast DDS's port formula (7400 + 250 * domain + ...) stays valid up to domain 232.
_FIRST, _COUNT = 110, 100


def pick_domain_id(seed: int | None = None) -> int:
    return _FIRST + (os.getpid() if seed is None else seed) % _COUNT


def isolate(env=None, domain_id: int | None = None, keep_existing=True) -> dict:
    """Set loopback-only discovery and a domain id in env (default os.environ); return it."""
    env = os.environ if env is None else env
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.pop('ROS_STATIC_PEERS', None)
    if domain_id is not None:
        env['ROS_DOMAIN_ID'] = str(domain_id)
    elif not (keep_existing and env.get('ROS_DOMAIN_ID')):
        env['ROS_DOMAIN_ID'] = str(pick_domain_id())
    env.setdefault('MUJOCO_GL', 'egl')
    return env
