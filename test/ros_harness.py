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
Process-level test helpers: start nodes as real processes and probe them over DDS.

    with running(bringup_specs) as graph:      # inhand.launcher under the hood
        with Probe() as probe:
            msg = probe.wait_for('/joint_states', JointState, timeout=30)

The caller's environment must already be isolated (test/conftest.py and the `fresh_domain`
fixture do it): the launcher and the probe then share one loopback-only DOMAIN.
"""
import contextlib
import io
import os
import subprocess
import sys
import threading
import time

from inhand.graph import NodeSpec
from inhand.launcher import Launcher
from inhand.qos import SENSOR_SUB
import rclpy
from rclpy.node import Node


class _Tee(io.TextIOBase):
    """Collect launcher output in memory (for assertions and failure messages)."""

    def __init__(self):
        self.lines = []
        self._lock = threading.Lock()

    def write(self, text):
        with self._lock:
            self.lines.append(text)
        return len(text)

    def text(self):
        with self._lock:
            return ''.join(self.lines)


@contextlib.contextmanager
def running(specs, startup_timeout=0.0):
    """Start NodeSpecs as processes; stop them on exit and check they stopped cleanly."""
    output = _Tee()
    launcher = Launcher(specs, env=dict(os.environ), output=output, sigterm_timeout=8.0)
    launcher.start()
    launcher.output_text = output.text
    try:
        yield launcher
    finally:
        code = launcher.shutdown()
        launcher.exit_code = code
        if os.environ.get('INHAND_SHOW_NODE_OUTPUT'):
            print(output.text())


def start_with_parameters(module, arguments, env, timeout=120.0):
    """
    Run `python -m module --ros-args -p <argument> ...` to its end; return the CompletedProcess.

    For nodes that must refuse a configuration at start (exit code 2 and a message).
    """
    parameters = [word for argument in arguments for word in ('-p', argument)]
    return subprocess.run([sys.executable, '-m', module, '--ros-args', *parameters],
                          env=env, capture_output=True, text=True, timeout=timeout)


def node_spec(name, module, parameters=None, remappings=(), param_files=()):
    """Make a NodeSpec for a single test node."""
    return NodeSpec(name=name, executable=name, module=module, param_files=tuple(param_files),
                    parameters=dict(parameters or {}), remappings=tuple(remappings))


class Probe:
    """An rclpy node in the test process that waits for messages and calls services."""

    def __init__(self, name='test_probe'):
        self.name = name

    def __enter__(self):
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context)
        self.node = Node(self.name, context=self.context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._subs = {}
        return self

    def __exit__(self, *exc):
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.05, max(0.0, end - time.monotonic())))

    def subscribe(self, topic, msg_type, qos=SENSOR_SUB):
        """Start recording a topic; return the list that receives its messages."""
        if topic not in self._subs:
            received = []
            self.node.create_subscription(msg_type, topic, received.append, qos)
            self._subs[topic] = received
        return self._subs[topic]

    def wait_for(self, topic, msg_type, timeout=30.0, predicate=None, qos=SENSOR_SUB):
        """Return the first message (after subscribing) that satisfies predicate."""
        received = self.subscribe(topic, msg_type, qos)
        start = len(received)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in received[start:]:
                if predicate is None or predicate(msg):
                    return msg
            start = len(received)
            self.executor.spin_once(timeout_sec=0.05)
        raise TimeoutError(f'no matching message on {topic} within {timeout} s '
                           f'({len(received)} received)')

    def wait_until(self, condition, timeout=30.0, what='condition'):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            self.executor.spin_once(timeout_sec=0.05)
        raise TimeoutError(f'{what} not reached within {timeout} s')

    def publisher(self, topic, msg_type, qos=10):
        return self.node.create_publisher(msg_type, topic, qos)

    def call(self, service, srv_type, request=None, timeout=30.0):
        """Call a service and return its response (waits for the server)."""
        client = self.node.create_client(srv_type, service)
        deadline = time.monotonic() + timeout
        while not client.service_is_ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f'service {service} not available within {timeout} s')
            self.executor.spin_once(timeout_sec=0.05)
        future = client.call_async(request if request is not None else srv_type.Request())
        while not future.done():
            if time.monotonic() > deadline:
                raise TimeoutError(f'service {service} did not answer within {timeout} s')
            self.executor.spin_once(timeout_sec=0.05)
        self.node.destroy_client(client)
        return future.result()


class NodeHarness:
    """The node under test and a probe node on one executor (base of the tests' harnesses)."""

    def __init__(self, node):
        self.node = node
        self.probe = Node('probe')
        self.executor = rclpy.executors.SingleThreadedExecutor()
        for n in (node, self.probe):
            self.executor.add_node(n)

    def spin_until(self, condition, timeout=10.0, what='condition'):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            self.executor.spin_once(timeout_sec=0.01)
        raise TimeoutError(f'{what} not reached within {timeout} s')


@contextlib.contextmanager
def in_process(node_class, harness_class, parameters):
    """
    Run node_class in this process, with `-p name:=value` parameters; yield harness_class(node).

    The harness owns an executor and a probe node; both, the node (after its close(), if it
    has one) and rclpy are torn down whatever happens.
    """
    args = ['--ros-args'] + [a for k, v in parameters.items() for a in ('-p', f'{k}:={v}')]
    rclpy.init(args=args)
    node = harness = None
    try:
        node = node_class()
        harness = harness_class(node)
        yield harness
    finally:
        if harness is not None:
            harness.executor.shutdown()
            harness.probe.destroy_node()
        if node is not None:
            getattr(node, 'close', lambda: None)()
            node.destroy_node()
        rclpy.shutdown()
