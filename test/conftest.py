"""Test session setup: DDS stays on loopback in a domain of this run's own; headless GL."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from inhand import dds_env  # noqa: E402

dds_env.isolate()


def pytest_configure(config):
    config.addinivalue_line('markers', 'linter: ament linter tests')
    config.addinivalue_line('markers', 'ros: starts ROS 2 processes (process-level tests)')
    config.addinivalue_line('markers', 'slow: takes more than a few seconds')


@pytest.fixture
def fresh_domain(monkeypatch):
    """A ROS_DOMAIN_ID not shared with other tests of this run (for process-level tests)."""
    fresh_domain.counter = getattr(fresh_domain, 'counter', 0) + 1
    domain = dds_env.pick_domain_id(os.getpid() + 7 * fresh_domain.counter)
    monkeypatch.setenv('ROS_DOMAIN_ID', str(domain))
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    return domain
