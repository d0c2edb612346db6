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
`inhand demo`: run the bringup graph on the simulator for a bounded time and summarise it.

It starts the same graph as `inhand launch bringup sim:=true`, watches the topics of the
contract from an in-process monitor node (subscribing also makes the cameras render), and
prints which nodes ran, the rates achieved and anything abnormal. Exit code: 0 when every
node ran to the end and the core topics flowed, 1 otherwise.
"""
import argparse
import collections
import os
import pathlib
import signal
import sys
import threading
import time

from inhand import dds_env, graph
from inhand.launcher import Launcher
import numpy as np

# (topic, type path, expected when) — types are imported lazily after DDS isolation.
WATCHED = (
    ('/clock', 'rosgraph_msgs.msg:Clock', 'sim'),
    ('/joint_states', 'sensor_msgs.msg:JointState', 'always'),
    ('/hand/command_raw', 'sensor_msgs.msg:JointState', 'policy'),
    ('/hand/command', 'sensor_msgs.msg:JointState', 'policy'),
    ('/cube/pose_gt', 'geometry_msgs.msg:PoseWithCovarianceStamped', 'sim'),
    ('/cube/pose', 'geometry_msgs.msg:PoseWithCovarianceStamped', 'vision'),
    ('/goal/pose', 'geometry_msgs.msg:PoseStamped', 'policy'),
    ('/tf', 'tf2_msgs.msg:TFMessage', 'always'),
    ('/cameras/vision_cam_top/image_raw', 'sensor_msgs.msg:Image', 'cameras'),
    ('/cameras/vision_cam_left/image_raw', 'sensor_msgs.msg:Image', 'cameras'),
    ('/cameras/vision_cam_right/image_raw', 'sensor_msgs.msg:Image', 'cameras'),
)


# s: an estimate is compared with the ground-truth sample closest in stamp, if this close.
MAX_POSE_GAP = 0.005


def _import(path):
    module, name = path.split(':')
    return getattr(__import__(module, fromlist=[name]), name)


class Monitor:
    """Count messages per topic, track sim time and the worst diagnostics per status."""

    def __init__(self, watched=WATCHED):
        """Subscribe to /diagnostics and the watched (topic, type path, when) entries."""
        import rclpy
        from inhand.qos import SENSOR_SUB, LATCHED
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context)
        self.node = rclpy.create_node('inhand_demo_monitor', context=self.context)
        self.counts = collections.Counter()
        self.first_clock = self.last_clock = None
        self.first_wall = self.last_wall = None
        self.diagnostics = {}
        self.latest_values = {}        # status name -> its last values {key: text}
        self.limiter_modes = collections.Counter()   # the limiter's state per diagnostics
        self.estimator_values = {}     # the cube_pose estimator's last diagnostics values
        self.truth = collections.OrderedDict()    # stamp -> (position, quat) of /cube/pose_gt
        self.estimates = collections.deque(maxlen=5000)   # (stamp, position, quat)
        self.lock = threading.Lock()
        for topic, type_path, _ in watched:
            qos = LATCHED if topic == '/goal/pose' else SENSOR_SUB
            # Images are only counted: raw (serialized) messages spare this process the
            # conversion to Python, which would take CPU from the graph it watches.
            self.node.create_subscription(_import(type_path), topic,
                                          lambda m, t=topic: self._count(t, m), qos,
                                          raw=type_path.endswith(':Image'))
        self.node.create_subscription(_import('diagnostic_msgs.msg:DiagnosticArray'),
                                      '/diagnostics', self._on_diagnostics, 50)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.running = True
        self.thread.start()

    def _spin(self):
        while self.running:
            self.executor.spin_once(timeout_sec=0.1)

    def _count(self, topic, msg):
        with self.lock:
            self.counts[topic] += 1
            if topic in ('/cube/pose_gt', '/cube/pose'):
                self._record_pose(topic, msg)
            if topic == '/clock':
                now = msg.clock.sec + msg.clock.nanosec * 1e-9
                wall = time.monotonic()
                if self.first_clock is None:
                    self.first_clock, self.first_wall = now, wall
                self.last_clock, self.last_wall = now, wall

    def _record_pose(self, topic, msg):
        from inhand.messages import msg_to_pose, stamp_to_sec
        stamp = stamp_to_sec(msg.header.stamp)
        pose = msg_to_pose(msg.pose.pose)
        if topic == '/cube/pose':
            self.estimates.append((stamp, *pose))
            return
        self.truth[stamp] = pose
        while len(self.truth) > 20000:
            self.truth.popitem(last=False)

    def vision_errors(self, max_gap=MAX_POSE_GAP):
        """Return (position errors m, rotation errors rad) of /cube/pose vs /cube/pose_gt."""
        from inhand.transforms import rotation_between
        stamps = np.array(list(self.truth))
        if not len(stamps):
            return np.zeros(0), np.zeros(0)
        order = np.argsort(stamps)
        stamps = stamps[order]
        truths = [self.truth[s] for s in stamps]
        position_errors, rotation_errors = [], []
        for stamp, position, quat in self.estimates:
            after = int(np.searchsorted(stamps, stamp))
            k = min((i for i in (after - 1, after) if 0 <= i < len(stamps)),
                    key=lambda i: abs(stamps[i] - stamp))
            if abs(stamps[k] - stamp) > max_gap:
                continue
            true_position, true_quat = truths[k]
            position_errors.append(np.linalg.norm(position - true_position))
            rotation_errors.append(rotation_between(quat, true_quat))
        return np.array(position_errors), np.array(rotation_errors)

    def _on_diagnostics(self, msg):
        with self.lock:
            for status in msg.status:
                values = {kv.key: kv.value for kv in status.values}
                self.latest_values[status.name] = values
                if status.name == 'cube_pose: estimator':
                    self.estimator_values = values
                if status.name == 'safety_limiter: state':
                    self.limiter_modes[values.get('mode', '?')] += 1
                if status.name == 'safety_limiter: joints':
                    # How long the wear budget slowed joints down (samples at 1 Hz).
                    self.limiter_modes['joints_samples'] += 1
                    if status.message.startswith('wear throttle'):
                        self.limiter_modes['wear_throttled'] += 1
                level = status.level[0] if isinstance(status.level, bytes) else status.level
                worst = self.diagnostics.get(status.name, (-1, ''))
                if level >= worst[0]:
                    self.diagnostics[status.name] = (level, status.message)

    def close(self):
        self.running = False
        self.thread.join(2.0)
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.shutdown(context=self.context)


def summarize(launcher, monitor, seconds, args) -> list:
    """Print the summary; return the list of problems found."""
    problems = []
    print('\n=== inhand demo summary ===')
    print(f'graph: bringup {" ".join(f"{k}:={v}" for k, v in sorted(args.items()))}')
    print('nodes:')
    for node in launcher.nodes:
        code = node.poll()
        state = 'ran to the end' if code is None else f'EXITED early with code {code}'
        print(f'  {node.spec.name:<16} {state}')
        if code is not None:
            problems.append(f'{node.spec.name} exited early (code {code})')
    names = {n.spec.name for n in launcher.nodes}
    active = {'always', 'sim'} if args['sim'] == 'true' else {'always'}
    if args['cameras'] == 'true':
        active.add('cameras')
    if 'policy_runner' in names:
        active.add('policy')
    if 'cube_pose' in names:
        active.add('vision')
    print(f'topics (messages per wall second over {seconds:.0f} s):')
    with monitor.lock:
        for topic, _, when in WATCHED:
            count = monitor.counts[topic]
            note = ''
            if when in active and count == 0:
                note = '  <- expected, none received'
                problems.append(f'no messages on {topic}')
            if count or when in active:
                print(f'  {topic:<40} {count / seconds:8.1f} Hz  ({count} messages){note}')
        if monitor.first_clock is not None and monitor.last_wall > monitor.first_wall:
            factor = (monitor.last_clock - monitor.first_clock) / (
                monitor.last_wall - monitor.first_wall)
            print(f'sim time: {monitor.last_clock:.1f} s, real-time factor {factor:.2f}')
        if 'policy' in active:
            _summarize_episodes(monitor, args, getattr(monitor, 'results_before', 0))
        if 'vision' in active:
            _summarize_vision(monitor)
        bad = {k: v for k, v in monitor.diagnostics.items() if v[0] >= 1}
        print('diagnostics: ' + ('all OK' if not bad else ''))
        for name, (level, message) in sorted(bad.items()):
            label = {1: 'WARN', 2: 'ERROR', 3: 'STALE'}.get(level, str(level))
            print(f'  {label:<5} {name}: {message}')
            if level >= 2:
                problems.append(f'{name}: {message}')
    print('result: ' + ('OK' if not problems else 'PROBLEMS: ' + '; '.join(problems)))
    return problems


def _results_lines(args) -> int:
    """Return how many episode records the results file holds now (0 when none)."""
    path = os.path.expanduser(args.get('results_file') or '')
    try:
        with open(path) as stream:
            return sum(1 for line in stream if line.strip())
    except OSError:
        return 0


def _summarize_episodes(monitor, args, before):
    """Print consecutive successes: episodes ended during the run, and the running one."""
    from policy_node.goals import read_jsonl
    records = []
    path = os.path.expanduser(args.get('results_file') or '')
    if path and os.path.exists(path):
        records = read_jsonl(path)[before:]
    goal = monitor.latest_values.get('goal_manager', {})
    running = goal.get('successes')
    parts = [f'{r["successes"]} ({r["reason"]})' for r in records]
    if running is not None:
        parts.append(f'{running} so far (episode {goal.get("episode", "?")} running)')
    counts = [r['successes'] for r in records] + ([int(running)] if running is not None else [])
    print(f'consecutive successes ({args["goal_mode"]} goals, policy {args["policy"]}): '
          + (', '.join(parts) if parts else 'no episode started')
          + (f'; best {max(counts)}' if counts else ''))


def _summarize_vision(monitor):
    """Print how /cube/pose compared with /cube/pose_gt, and the node's own latency."""
    position, rotation = monitor.vision_errors()
    if len(position):
        print(f'vision vs ground truth ({len(position)} of {len(monitor.estimates)} poses matched '
              f'to a /cube/pose_gt within {MAX_POSE_GAP * 1e3:g} ms): position '
              f'{np.median(position) * 1e3:.2f} mm '
              f'median, {position.max() * 1e3:.2f} mm max; rotation '
              f'{np.degrees(np.median(rotation)):.2f} deg median, '
              f'{np.degrees(rotation.max()):.2f} deg max')
    values = monitor.estimator_values
    if values:
        print(f'cube_pose: {values.get("published", "?")} poses published, '
              f'{values.get("lost", "?")} sets without a pose; last image received -> pose out '
              f'(last 200 sets): {values.get("latency_ms_median", "?")} ms median, '
              f'{values.get("latency_ms_p90", "?")} ms p90, {values.get("latency_ms_max", "?")} '
              f'ms max, of which CPU in its callback {values.get("callback_cpu_ms_median", "?")} '
              'ms median')


def _start_recorder(options, args):
    """Record the run (images at 2 Hz) with `inhand record`, for the report."""
    if options.out == 'none':
        return None, None
    import datetime
    import subprocess
    out = pathlib.Path(options.out or os.path.join(
        'results', 'demo-' + datetime.datetime.now().strftime('%Y%m%d-%H%M%S')))
    command = [sys.executable, '-m', 'inhand', 'record', '--out', str(out / 'recording'),
               '--image-rate', '2', '--duration', str(options.duration + 30)] + [
        f'{k}:={v}' for k, v in sorted(args.items())]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, env=dict(os.environ)), out


def _finish_report(recorder, out) -> str:
    """Stop the recording and write the report; return the line that says where it is."""
    if recorder is None:
        return ''
    import subprocess
    recorder.send_signal(signal.SIGINT)
    try:
        recorder.wait(timeout=60)
    except subprocess.TimeoutExpired:
        recorder.kill()
    from inhand.config import ConfigError
    from inhand.report import write_report
    try:
        path = write_report([out / 'recording'], out / 'report.html', title='inhand demo')
    except ConfigError as exc:
        return f'report: not written ({exc})'
    return f'report: {path.resolve()}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='inhand demo', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('arguments', nargs='*', help='bringup arguments name:=value')
    parser.add_argument('--duration', type=float, default=40.0, help='seconds to run')
    parser.add_argument('--out', default=None,
                        help='folder for the recording and the HTML report (default '
                        'results/demo-<date-time>); none: neither')
    options = parser.parse_args(argv)
    overrides = graph.parse_cli_arguments(options.arguments)
    overrides.setdefault('sim', 'true')
    args = graph.resolve_arguments(overrides)
    # A fresh loopback domain for every demo run; the Fast DDS profile of the dds_profile
    # argument for the nodes and for the monitor in this process.
    dds_env.isolate(keep_existing=False, profile=None)
    os.environ.update(graph.node_environment(args, os.environ))
    specs = graph.bringup(args)
    monitor = Monitor()
    monitor.results_before = _results_lines(args)
    launcher = Launcher(specs, env=dict(os.environ))
    launcher.start()
    recorder, out = _start_recorder(options, args)
    started = time.monotonic()
    signal.signal(signal.SIGINT, launcher.request_stop)
    signal.signal(signal.SIGTERM, launcher.request_stop)
    launcher.wait(duration=options.duration, shutdown=False)
    elapsed = time.monotonic() - started
    # Judge liveness before stopping anything, then check that everything stops cleanly.
    problems = summarize(launcher, monitor, elapsed, args)
    monitor.close()
    report_line = _finish_report(recorder, out)
    code = launcher.shutdown()
    if code:
        print(f'result: the graph did not stop cleanly (launcher exit {code})')
    # Last, after the nodes' shutdown logs, so that the path is the last line on screen.
    if report_line:
        print(report_line, flush=True)
    return 1 if code or problems else 0


if __name__ == '__main__':
    sys.exit(main())
