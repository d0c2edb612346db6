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
Start a graph of nodes as separate processes where `ros2 launch` does not exist.

Each NodeSpec becomes `python -m <module> --ros-args -r __node:=<name> --params-file ...`, with
its parameter files and overrides (written to one generated YAML per node) and remappings. The
launcher prefixes every output line with the node name, exits non-zero as soon as a required
node dies (128 + N when signal N killed it), restarts an optional node that dies after its
respawn_delay (at most respawn_max times; never one that refused its configuration, which
stops the graph when it happens at start-up), and on SIGINT/SIGTERM (or when --duration runs
out) stops every node: SIGINT first, SIGTERM after `sigterm_timeout`, SIGKILL after as long
again. Nodes start through inhand.node_entry, so a stop during their imports is quiet.
"""
import collections
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time

from inhand import dds_env
from inhand.paths import config_path
import yaml


class NodeProcess:
    """One running node: its process, its log pump and its exit status."""

    def __init__(self, spec, command, env, output):
        self.spec = spec
        self.command = command
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        self._pump = threading.Thread(target=self._forward, args=(output,), daemon=True)
        self._pump.start()

    def _forward(self, output):
        prefix = f'[{self.spec.name}] '
        for raw in iter(self.process.stdout.readline, b''):
            output.write(prefix + raw.decode(errors='replace'))
            output.flush()

    def poll(self):
        return self.process.poll()

    def signal(self, signum):
        if self.process.poll() is None:
            try:
                self.process.send_signal(signum)
            except ProcessLookupError:
                pass

    def join_output(self, timeout=1.0):
        self._pump.join(timeout)


def describe_exit(code: int) -> str:
    """Say how a process ended: 'exited with code 2', 'was killed by SIGKILL'."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f'signal {-code}'
        return f'was killed by {name}'
    return f'exited with code {code}'


def node_command(spec, param_dir: pathlib.Path, python=sys.executable) -> list:
    """Build the command line that runs one NodeSpec like launch_ros would."""
    # inhand.node_entry: a stop while the node is still importing ends it without a traceback.
    command = [python, '-m', 'inhand.node_entry', spec.module,
               '--ros-args', '-r', f'__node:={spec.name}']
    for name in spec.param_files:
        command += ['--params-file', str(config_path(name))]
    if spec.parameters:
        override = param_dir / f'{spec.name}.params.yaml'
        override.write_text(yaml.safe_dump({spec.name: {'ros__parameters': spec.parameters}}))
        command += ['--params-file', str(override)]
    for source, target in spec.remappings:
        command += ['-r', f'{source}:={target}']
    return command


# run_node's exit code for a node that refused its configuration: restarting cannot help.
CONFIG_REFUSED = 2


class Launcher:
    """Run NodeSpecs until stopped, a required node dies, or the duration elapses."""

    def __init__(self, specs, env=None, output=sys.stdout, sigterm_timeout=5.0, isolate=True):
        self.specs = list(specs)
        self.env = dict(os.environ if env is None else env)
        if isolate:   # tests, benchmarks, demos: loopback only, a domain of this run's own
            # The Fast DDS profile is the graph's business (graph.node_environment): a caller
            # that wants none must not get the default back here.
            dds_env.isolate(self.env, profile=None)
        self.output = output
        self.sigterm_timeout = sigterm_timeout
        self.nodes = []
        self._stop = threading.Event()
        self._param_dir = tempfile.TemporaryDirectory(prefix='inhand-launch-')
        self.failed = None
        self.restarts = collections.Counter()

    def log(self, text):
        self.output.write(f'[launcher] {text}\n')
        self.output.flush()

    def request_stop(self, *_):
        self._stop.set()

    def start(self):
        self.log(f'ROS_DOMAIN_ID={self.env.get("ROS_DOMAIN_ID", "0 (default)")} '
                 'ROS_AUTOMATIC_DISCOVERY_RANGE='
                 f'{self.env.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "(default: SUBNET)")}')
        param_dir = pathlib.Path(self._param_dir.name)
        for spec in self.specs:
            command = node_command(spec, param_dir)
            self.nodes.append(NodeProcess(spec, command, self.env, self.output))
            self.log(f'started {spec.name} (pid {self.nodes[-1].process.pid})')

    def check(self) -> bool:
        """
        Report nodes that exited, restart those due; return whether the graph is stopping.

        A required node's death stops everything. An optional node with respawn_delay is
        started again that long after it died, at most respawn_max times per run.
        """
        now = time.monotonic()
        for index, node in enumerate(self.nodes):
            code = node.poll()
            if code is None:
                continue
            spec = node.spec
            if not getattr(node, 'reported', False):
                node.reported = True
                node.died = now
                if spec.required:
                    self.log(f'REQUIRED node {spec.name} {describe_exit(code)}: stopping the '
                             'whole graph')
                    self.failed = node
                    self._stop.set()
                elif code == CONFIG_REFUSED and not self.restarts[spec.name]:
                    # Found at start-up: stop, so that the cause stays the last thing on screen.
                    self.log(f'{spec.name} refused its configuration (exit {code}): stopping '
                             'the whole graph; fix it and launch again')
                    self.failed = node
                    self._stop.set()
                elif code == CONFIG_REFUSED:
                    self.log(f'{spec.name} refused its configuration (exit {code}): not '
                             'restarted (it would be refused again); the rest of the graph '
                             'goes on')
                elif spec.respawn_delay > 0 and self.restarts[spec.name] < spec.respawn_max:
                    self.log(f'{spec.name} {describe_exit(code)}; restarting it in '
                             f'{spec.respawn_delay:g} s (restart {self.restarts[spec.name] + 1}'
                             f' of {spec.respawn_max})')
                else:
                    left = ' (no restarts left)' if spec.respawn_delay > 0 else ''
                    self.log(f'{spec.name} {describe_exit(code)}{left}; the rest of the graph '
                             'goes on')
            elif (not spec.required and spec.respawn_delay > 0 and not self._stop.is_set()
                  and code != CONFIG_REFUSED and self.restarts[spec.name] < spec.respawn_max
                  and now - node.died >= spec.respawn_delay):
                self.restarts[spec.name] += 1
                self.nodes[index] = NodeProcess(spec, node.command, self.env, self.output)
                self.log(f'restarted {spec.name} (pid {self.nodes[index].process.pid})')
        return self._stop.is_set()

    def wait(self, duration=None, shutdown=True):
        """
        Block until a stop request, the duration, or a required node's death.

        Then shut everything down and return the exit code; with shutdown=False return None
        and leave the nodes running (the caller inspects them, then calls shutdown()).
        """
        deadline = None if duration is None else time.monotonic() + duration
        while not self.check():
            if deadline is not None and time.monotonic() >= deadline:
                self.log(f'duration of {duration:g} s reached')
                break
            self._stop.wait(0.1)
        return self.shutdown() if shutdown else None

    def shutdown(self) -> int:
        """Stop all nodes with escalating signals; return the launcher's exit code."""
        stopping = [n for n in self.nodes if n.poll() is None]
        for signum, label in ((signal.SIGINT, 'SIGINT'), (signal.SIGTERM, 'SIGTERM'),
                              (signal.SIGKILL, 'SIGKILL')):
            alive = [n for n in self.nodes if n.poll() is None]
            if not alive:
                break
            if signum != signal.SIGINT:
                self.log(f'escalating to {label} for ' + ', '.join(n.spec.name for n in alive))
            for node in alive:
                node.signal(signum)
            deadline = time.monotonic() + self.sigterm_timeout
            while time.monotonic() < deadline and any(n.poll() is None for n in alive):
                time.sleep(0.05)
        for node in self.nodes:
            node.join_output()
        self._param_dir.cleanup()
        if self.failed is not None:
            code = self.failed.poll()
            kind = 'required node' if self.failed.spec.required else 'node'
            self.log(f'stopped because the {kind} {self.failed.spec.name} '
                     f'{describe_exit(code)}')
            # A shell's convention, readable: 128 + N for a death by signal N (SIGKILL: 137).
            return 128 - code if code and code < 0 else (code or 1)
        # Nodes that had already exited were reported (and judged) while running.
        # 128 + SIGINT: stopped while still importing (inhand.node_entry), also a clean stop.
        clean = (0, -signal.SIGINT, 128 + signal.SIGINT)
        unclean = [n.spec.name for n in stopping if n.poll() not in clean]
        if unclean:
            self.log('not stopped cleanly: ' + ', '.join(unclean))
            return 1
        return 0


def run(specs, duration=None, env=None, isolate=True) -> int:
    """Start specs, stop on SIGINT/SIGTERM or after duration seconds; return the exit code."""
    launcher = Launcher(specs, env=env, isolate=isolate)
    previous = {s: signal.signal(s, launcher.request_stop)
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        launcher.start()
        return launcher.wait(duration)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
