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
The one way every inhand node starts and stops (the ros2/demos idiom, made shared).

run_node() initialises rclpy with the command line (so --ros-args, --params-file and remaps
work), builds the node, spins it, and returns an exit code: 0 after SIGINT/SIGTERM, 2 when the
node refused its configuration (a ConfigError: bad profile, missing file, wrong model shape,
a parameter the node does not declare), 1 on any other crash, including a worker thread
that set `node.fatal_error` and asked for shutdown.

Shutdown order matters for nodes with worker threads (the simulator's physics and camera
threads publish from outside the executor): rclpy's own signal handlers would shut the context
down at once, under a thread that is publishing, which can crash the process. So SIGINT and
SIGTERM only request a stop here; the spin loop then ends, node.close() stops the workers, the
node is destroyed and only then is the context shut down.
"""
import signal
import sys
import threading
import time
import traceback

from inhand.config import ConfigError, unknown_key_problem
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions


def run_node(node_factory, args=None) -> int:
    """Create the node with node_factory(), spin until a stop is requested, return the code."""
    stop = threading.Event()
    rclpy.init(args=sys.argv if args is None else args,
               signal_handler_options=SignalHandlerOptions.NO)
    previous = {s: signal.signal(s, lambda *_: stop.set())
                for s in (signal.SIGINT, signal.SIGTERM)}
    node = None
    code = 0
    try:
        node = node_factory()
        refuse_unknown_parameters(node)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        code = 0
    except ConfigError as exc:
        print(f'[FATAL] configuration error: {exc}', file=sys.stderr, flush=True)
        code = 2
    except Exception:  # noqa: B902 - a crashed node must say why and exit non-zero
        if stop.is_set() or _context_going_down():
            # A stop that lands while the executor converts a message can surface as an
            # error from take_message. A requested stop, not a crash.
            print('[INFO] stopped while taking a message', file=sys.stderr, flush=True)
            code = 0
        else:
            traceback.print_exc()
            code = 1
    finally:
        if node is not None and getattr(node, 'fatal_error', None):
            print(f'[FATAL] {node.fatal_error}', file=sys.stderr, flush=True)
            code = 1
        if node is not None:
            close = getattr(node, 'close', None)
            if close is not None:
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


def _context_going_down(wait=1.0) -> bool:
    """Return whether the default context shuts down within `wait` seconds."""
    deadline = time.monotonic() + wait
    while rclpy.ok():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def refuse_unknown_parameters(node) -> None:
    """
    Raise ConfigError for a parameter given to the node that it does not declare.

    rclpy ignores a parameter in a --params-file (or -p) that no code declares, so a misspelt
    `comand_timeout: 0.1` left the limiter at its default without a word. The text names the
    node and the nearest declared parameter.
    """
    # rclpy has no public list of the overrides; _parameter_overrides (Jazzy and Kilted) is
    # the dict declare_parameter reads them from.
    overrides = getattr(node, '_parameter_overrides', {})
    declared = set(node._parameters)
    unknown = {name: None for name in overrides if name not in declared}
    if unknown:
        raise ConfigError(unknown_key_problem(
            unknown, declared, f'parameters of node {node.get_fully_qualified_name()}'))


def declare(node, name, default, description, read_only=False):
    """Declare a parameter with a description (visible in `ros2 param describe`); return value."""
    from rcl_interfaces.msg import ParameterDescriptor
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    return node.declare_parameter(name, default, descriptor).value


def watch_clock(node, on_change, default_timeout=1.0):
    """
    Declare `clock_timeout` and, on sim time, watch /clock from a steady (wall) timer.

    on_change(state, watch) is called when the clock stalls or moves again (inhand.clock_watch
    states). Returns the ClockWatch, or None when the node is not on sim time or the parameter
    is 0 (off). Stalls are logged as errors here; what to hold is the node's business.
    """
    from inhand.clock_watch import MOVING, STALLED, ClockWatch
    from rclpy.clock import Clock, ClockType
    timeout = declare(node, 'clock_timeout', default_timeout,
                      'With use_sim_time: wall seconds without /clock progress that count as '
                      'a stalled clock (diagnostics ERROR; the limiter refuses commands until '
                      'the clock moves again). 0 turns the watch off.', read_only=True)
    if not node.get_parameter('use_sim_time').value or timeout == 0:
        return None
    watch = ClockWatch(timeout)
    clock = node.get_clock()
    logger = node.get_logger()

    def check():
        wall = time.monotonic()
        change = watch.update(clock.now().nanoseconds * 1e-9, wall)
        if change == STALLED:
            logger.error(f'clock stalled: {watch.describe(wall)}')
        elif change == MOVING and watch.stalls:
            logger.info('clock moving again')
        if change is not None:
            on_change(change, watch)
    node.create_timer(min(0.1, timeout / 4.0), check,
                      clock=Clock(clock_type=ClockType.STEADY_TIME))
    return watch
