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

"""Test session setup: DDS stays on loopback in a domain of this run's own; headless GL."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from inhand import dds_env  # noqa: E402, I100

dds_env.isolate()


def pytest_configure(config):
    config.addinivalue_line('markers', 'linter: ament linter tests')
    config.addinivalue_line('markers', 'ros: starts ROS 2 processes (process-level tests)')
    config.addinivalue_line('markers', 'slow: takes more than a few seconds')


@pytest.fixture
def fresh_domain(monkeypatch):
    """Give a test a ROS_DOMAIN_ID not shared with other tests of this run."""
    fresh_domain.counter = getattr(fresh_domain, 'counter', 0) + 1
    domain = dds_env.pick_domain_id(os.getpid() + 7 * fresh_domain.counter)
    monkeypatch.setenv('ROS_DOMAIN_ID', str(domain))
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    return domain
