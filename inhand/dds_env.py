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

It also gives Fast DDS the project's profile for large images (config/dds/, see
transport_profile()), as both launchers do for the graph's nodes.
"""
import os

# A shared-memory segment that fits 640x480 images (the default 512 kB does not): see the XML.
LARGE_IMAGES_PROFILE = 'dds/fastdds_large_images.xml'
# Fast DDS 3 (Kilted) reads the first and warns about the second; Fast DDS 2 (Jazzy and
# older) reads only the second.
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
_FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')

# Fast DDS's port formula (7400 + 250 * domain + ...) stays valid up to domain 232.
_FIRST, _COUNT = 110, 100


def pick_domain_id(seed: int | None = None) -> int:
    return _FIRST + (os.getpid() if seed is None else seed) % _COUNT


def isolate(env=None, domain_id: int | None = None, keep_existing=True,
            profile: str | None = LARGE_IMAGES_PROFILE) -> dict:
    """
    Set loopback-only discovery and a domain id in env (default os.environ); return it.

    profile: the Fast DDS profile to give (see transport_profile(); '' gives none, None leaves
    the environment's as it is).
    """
    env = os.environ if env is None else env
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.pop('ROS_STATIC_PEERS', None)
    if domain_id is not None:
        env['ROS_DOMAIN_ID'] = str(domain_id)
    elif not (keep_existing and env.get('ROS_DOMAIN_ID')):
        env['ROS_DOMAIN_ID'] = str(pick_domain_id())
    env.setdefault('MUJOCO_GL', 'egl')
    if profile is not None:
        env.update(transport_profile(profile, env))
    return env


def transport_profile(profile: str, environ) -> dict:
    """
    Return the environment variables that give the nodes this Fast DDS XML profile.

    Empty when there is nothing to do: no profile asked for (''), another middleware than
    Fast DDS, or a profile already named in environ (the user's own wins). profile is a file
    under config/ or a path; a missing file is an error, not a silent fallback.
    """
    if not profile or any(environ.get(name) for name in PROFILE_VARIABLES):
        return {}
    rmw = environ.get('RMW_IMPLEMENTATION', '')
    if rmw and not rmw.startswith('rmw_fastrtps'):
        return {}
    from inhand.paths import config_path
    path = config_path(profile)
    if not path.is_file():
        raise FileNotFoundError(f'Fast DDS profile not found: {profile} ({path})')
    fast_dds_2 = environ.get('ROS_DISTRO', '') in _FAST_DDS_2_DISTROS
    return {PROFILE_VARIABLES[1 if fast_dds_2 else 0]: str(path)}
