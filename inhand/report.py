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
`inhand report`: a self-contained HTML report of a run, with its plots and camera snapshots.

    inhand report recordings/run1                        # a recording (make demo writes one)
    inhand report results/evaluation                      # an `inhand evaluate --out` folder
    inhand report runs/yaw                                # a training run folder
    inhand report recordings/run1 runs/yaw --out report.html   # several sources, one page

From a recording: the run's configuration (its metadata), episodes and their consecutive
successes, the vision pose error against the simulator's truth, the joint trajectories
against their limits with the limiter's interventions marked, the age of each stamped topic
on arrival (the latency of each hop), and one snapshot per camera with the detected markers
and the estimated cube drawn. From an evaluation: its summary and success histogram. From a
training run: its record and learning curves. Images are embedded (base64 PNG), so the file
opens anywhere without a network.
"""
import argparse
import base64
import collections
import datetime
import html
import io
import json
import pathlib
import sys

from inhand.config import ConfigError
import numpy as np

STAMPED_TOPICS = ('/joint_states', '/hand/command_raw', '/hand/command', '/cube/pose',
                  '/cube/pose_gt')


# rad: a command the limiter moved further than this from the policy's is marked. Smaller
# differences are its rate limits smoothing every move, which would mark nearly all of them.
CHANGED = 0.05


class ReportError(ConfigError):
    """A source cannot be reported; the message says which and why."""


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _figure_html(fig, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=90, bbox_inches='tight')
    _pyplot().close(fig)
    return _png_html(buffer.getvalue(), alt)


def _png_html(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(rows) -> str:
    cells = ''.join(f'<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>'
                    for k, v in rows)
    return f'<table>{cells}</table>'


def _stamp(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def successes_histogram(successes, title: str) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    top = max(list(successes) + [1])
    ax.hist(successes, bins=np.arange(-0.5, top + 1.5, 1 if top <= 20 else max(1, top // 20)),
            color='#3b6fb6')
    ax.set_xlabel('consecutive successes per episode')
    ax.set_ylabel('episodes')
    ax.set_title(title)
    return _figure_html(fig, title)


# ---------------------------------------------------------------------------- recordings


class RecordingData:
    """The messages of a recording that the report uses, deserialized."""

    def __init__(self, path):
        from inhand.recording import find_message_class, RecordingReader
        from rclpy.serialization import deserialize_message
        self.reader = RecordingReader(path)
        self.metadata = self.reader.custom_data
        self.topics = self.reader.topics
        self.messages = {}                       # topic -> [(log time s, msg)]
        wanted = [t for t in self.topics if not t.endswith(('/image_raw', '/debug_image'))]
        classes = {t: find_message_class(self.topics[t][0]) for t in self.topics}
        for message in self.reader.messages(wanted):
            self.messages.setdefault(message.topic, []).append(
                (message.time_ns * 1e-9, deserialize_message(message.data,
                                                             classes[message.topic])))
        # One image per camera from the middle of the run (snapshots).
        self.images = {}
        for topic in [t for t in self.topics if t.endswith('/image_raw')]:
            count = self.topics[topic][1]
            for k, message in enumerate(self.reader.messages([topic])):
                if k >= count // 2:
                    self.images[topic] = deserialize_message(message.data, classes[topic])
                    break
        self.reader.close()

    def clock_at(self, log_times) -> tuple:
        """
        Return (the recorded clock at these log times, whether /clock was recorded).

        Interpolated between the /clock messages, so a simulator that ran slower or faster
        than real time is followed; without /clock the log times are the clock (wall time).
        """
        clocks = self.messages.get('/clock', [])
        log_times = np.asarray(log_times, dtype=float)
        if len(clocks) < 2:
            return log_times, False
        t = np.array([t for t, _ in clocks])
        value = np.array([m.clock.sec + m.clock.nanosec * 1e-9 for _, m in clocks])
        return np.interp(log_times, t, value), True


def configuration_section(data: RecordingData, path) -> str:
    rows = [('recording', path)] + sorted(data.metadata.items())
    rows.append(('topics', ', '.join(f'{t} ({n})' for t, (_, n) in sorted(data.topics.items()))))
    return '<h2>Configuration</h2>' + _table(rows)


def episodes_section(data: RecordingData) -> str:
    records = [json.loads(m.data) for _, m in data.messages.get('/goal/results', [])]
    if not records:
        return ('<h2>Episodes</h2><p>No episode ended during the recording '
                '(<code>/goal/results</code> empty).</p>')
    successes = [r.get('successes', 0) for r in records]
    rows = [('episodes', len(records)),
            ('consecutive successes median / mean / max',
             f'{np.median(successes):g} / {np.mean(successes):.2f} / {max(successes)}'),
            ('ended by', ', '.join(f'{k} {v}' for k, v in sorted(
                collections.Counter(r.get('reason') for r in records).items())))]
    return ('<h2>Episodes</h2>' + _table(rows)
            + successes_histogram(successes, 'consecutive successes (this recording)'))


def pose_error_section(data: RecordingData) -> str:
    estimates = [m for _, m in data.messages.get('/cube/pose', [])]
    truth = [m for _, m in data.messages.get('/cube/pose_gt', [])]
    if not estimates or not truth:
        return ('<h2>Vision pose error</h2><p>Needs <code>/cube/pose</code> (vision) and '
                '<code>/cube/pose_gt</code> (simulator) in the recording.</p>')
    from inhand.messages import msg_to_pose
    from inhand.transforms import rotation_between
    stamps = np.array([_stamp(m) for m in truth])
    position_errors, rotation_errors = [], []
    for estimate in estimates:
        k = int(np.argmin(np.abs(stamps - _stamp(estimate))))
        if abs(stamps[k] - _stamp(estimate)) > 0.011:
            continue
        p_est, q_est = msg_to_pose(estimate.pose.pose)
        p_true, q_true = msg_to_pose(truth[k].pose.pose)
        position_errors.append(1000 * np.linalg.norm(p_est - p_true))
        rotation_errors.append(np.degrees(rotation_between(q_est, q_true)))
    if not position_errors:
        return '<h2>Vision pose error</h2><p>No estimate has a truth sample within 11 ms.</p>'
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    axes[0].hist(position_errors, bins=30, color='#c0504d')
    axes[0].set_xlabel('position error [mm]')
    axes[1].hist(rotation_errors, bins=30, color='#4f81bd')
    axes[1].set_xlabel('rotation error [deg]')
    for ax in axes:
        ax.set_ylabel('estimates')
    rows = [('estimates compared', len(position_errors)),
            ('position error median / 95 %', f'{np.median(position_errors):.2f} / '
             f'{np.percentile(position_errors, 95):.2f} mm'),
            ('rotation error median / 95 %', f'{np.median(rotation_errors):.2f} / '
             f'{np.percentile(rotation_errors, 95):.2f} deg')]
    return ('<h2>Vision pose error (vs simulator truth)</h2>' + _table(rows)
            + _figure_html(fig, 'pose error histograms'))


def joints_section(data: RecordingData, hand: str, joints=6) -> str:
    states = data.messages.get('/joint_states', [])
    safe = data.messages.get('/hand/command', [])
    raw = data.messages.get('/hand/command_raw', [])
    if not states or not safe:
        return ('<h2>Joints</h2><p>Needs <code>/joint_states</code> and '
                '<code>/hand/command</code> in the recording.</p>')
    from hand_control.hand_profile import load_hand_profile
    profile = load_hand_profile(hand or 'shadow')
    names = list(profile.actuated_joint_names)
    index = {n: k for k, n in enumerate(profile.joint_names)}

    def series(messages):
        # A command may name a subset of the joints (a policy that leaves some alone): the
        # others are NaN in that row.
        t, q = [], []
        for _, m in messages:
            row = dict(zip(m.name, m.position))
            if any(n in row for n in names):
                t.append(_stamp(m))
                q.append([row.get(n, np.nan) for n in names])
        return np.array(t), np.array(q, dtype=float).reshape(-1, len(names))
    t_state, q_state = series(states)
    t_safe, q_safe = series(safe)
    t_raw, q_raw = series(raw)
    if not len(t_safe):
        return '<h2>Joints</h2><p>No full command in the recording.</p>'
    # The joints that moved most, and where the limiter changed what the policy asked for.
    chosen = np.argsort(-np.nan_to_num(np.nanmax(q_safe, axis=0) - np.nanmin(q_safe, axis=0)))
    chosen = chosen[:joints]
    clamped = np.zeros_like(q_safe, dtype=bool)
    if len(t_raw):
        nearest = np.clip(np.searchsorted(t_raw, t_safe) - 1, 0, len(t_raw) - 1)
        with np.errstate(invalid='ignore'):
            clamped = np.abs(q_raw[nearest] - q_safe) > CHANGED       # NaN (not asked): False
    plt = _pyplot()
    fig, axes = plt.subplots(len(chosen), 1, figsize=(9, 1.7 * len(chosen)), sharex=True)
    for ax, j in zip(np.atleast_1d(axes), chosen):
        k = index[names[j]]
        ax.axhline(profile.lower[k], color='k', linestyle='--', linewidth=0.8)
        ax.axhline(profile.upper[k], color='k', linestyle='--', linewidth=0.8)
        if len(t_state):
            ax.plot(t_state, q_state[:, j], color='#4f81bd', linewidth=1, label='measured')
        ax.plot(t_safe, q_safe[:, j], color='#9bbb59', linewidth=1, label='command')
        if len(t_raw):
            ax.plot(t_raw, q_raw[:, j], color='#bbbbbb', linewidth=0.8, label='policy (raw)')
        ax.plot(t_safe[clamped[:, j]], q_safe[clamped[:, j], j], 'o', color='#f79646',
                markersize=2.5, label=f'changed by the limiter (> {CHANGED} rad)')
        ax.set_ylabel(f'{names[j]}\n[rad]')
    np.atleast_1d(axes)[0].legend(loc='upper right', fontsize=7, ncol=4)
    np.atleast_1d(axes)[-1].set_xlabel('time [s]')
    rows = [('joints shown', f'the {len(chosen)} that moved most of {len(names)}'),
            (f'commands changed by the limiter (any joint by > {CHANGED} rad)',
             f'{int(clamped.any(axis=1).sum())} of {len(t_safe)}')]
    return ('<h2>Joints against their limits</h2>' + _table(rows)
            + _figure_html(fig, 'joint trajectories'))


def newest_input_before(outputs, inputs) -> tuple:
    """
    Return (index of the newest input before each output, which outputs have one).

    Both are arrival times (s, sorted).
    """
    newest = np.searchsorted(np.asarray(inputs, dtype=float),
                             np.asarray(outputs, dtype=float), side='right') - 1
    return newest, newest >= 0


def since_newest_input(outputs, inputs) -> np.ndarray:
    """
    Return, for each output arrival (s, sorted), the time since the newest input before it.

    Outputs with no input before them are left out.
    """
    outputs, inputs = np.asarray(outputs, dtype=float), np.asarray(inputs, dtype=float)
    newest, found = newest_input_before(outputs, inputs)
    return outputs[found] - inputs[newest[found]]


def until_first_output(inputs, outputs, within: float) -> np.ndarray:
    """
    Return, for each input arrival (s, sorted), the time until the first output after it.

    Counted only when that output came before the next input and within `within` s: an input
    the node dropped or held is not paired with a later input's output.
    """
    inputs, outputs = np.asarray(inputs, dtype=float), np.asarray(outputs, dtype=float)
    first = np.searchsorted(outputs, inputs, side='right')
    found = first < len(outputs)
    delay = outputs[first[found]] - inputs[found]
    next_input = np.append(inputs[1:], np.inf)[found]
    keep = (inputs[found] + delay < next_input) & (delay <= within)
    return delay[keep]


def hop_latencies(data: RecordingData) -> dict:
    """
    Latency of each hop of the control loop (ms), from what the recorder received.

    Arrivals are DDS reception times at the recorder (wall clock): the difference of two
    arrivals is the time the node between them took, plus its transport. A hop that starts at
    a camera's exposure reads the message's stamp (the image's) against its arrival on the
    recorded clock (the simulator's state, for a ground-truth pose).
    """
    arrivals = {t: np.array([a for a, _ in data.messages.get(t, [])]) for t in STAMPED_TOPICS}
    hops = {}
    # The pose the policy ran on: the camera estimate, else (a ground-truth graph) the truth.
    pose_topic = '/cube/pose' if data.messages.get('/cube/pose') else '/cube/pose_gt'
    origin = 'camera exposure' if pose_topic == '/cube/pose' else 'simulator state'
    poses = data.messages.get(pose_topic, [])
    if poses and pose_topic == '/cube/pose':
        clock, _ = data.clock_at(arrivals['/cube/pose'])
        hops['camera exposure → /cube/pose (vision)'] = \
            1000 * (clock - np.array([_stamp(m) for _, m in poses]))
    raw = arrivals['/hand/command_raw']
    if len(poses) and len(raw):
        hops[f'{pose_topic} → /hand/command_raw (policy, with the wait for its cycle)'] = \
            1000 * since_newest_input(raw, arrivals[pose_topic])
        newest, used = newest_input_before(raw, arrivals[pose_topic])
        clock, _ = data.clock_at(raw[used])
        hops[f'{origin} → /hand/command_raw (perception to action)'] = \
            1000 * (clock - np.array([_stamp(poses[k][1]) for k in newest[used]]))
    if len(raw) and len(arrivals['/hand/command']):
        hops['/hand/command_raw → /hand/command (safety limiter)'] = \
            1000 * until_first_output(raw, arrivals['/hand/command'], within=0.1)
    return {name: values for name, values in hops.items() if len(values)}


def latency_section(data: RecordingData) -> str:
    hops = hop_latencies(data)
    ages = {}
    on_clock = False
    for topic in STAMPED_TOPICS + tuple(t for t in data.topics if t.endswith('/camera_info')):
        messages = data.messages.get(topic, [])
        if messages:
            arrival, on_clock = data.clock_at([t for t, _ in messages])
            ages[topic] = 1000 * (arrival - np.array([_stamp(m) for _, m in messages]))
    if not ages:
        return '<h2>Latency per hop</h2><p>No stamped topic in the recording.</p>'

    def summary(values):
        return (f'median {np.median(values):.1f} ms, 95 % {np.percentile(values, 95):.1f} ms '
                f'({len(values)} messages)')

    parts = ['<h2>Latency per hop</h2>']
    if hops:
        plt = _pyplot()
        fig, axes = plt.subplots(len(hops), 1, figsize=(9, 1.9 * len(hops)), squeeze=False)
        for ax, (name, values) in zip(axes[:, 0], hops.items()):
            ax.hist(values, bins=min(60, max(10, len(values) // 20)), color='tab:blue')
            for q, style in ((50, '-'), (95, '--')):
                ax.axvline(np.percentile(values, q), color='k', linestyle=style, linewidth=1)
            ax.set_title(name, fontsize=9)
            ax.set_ylabel('messages')
        axes[-1, 0].set_xlabel('latency [ms] (solid: median, dashed: 95th percentile)')
        fig.tight_layout()
        clock = ('on the recorded <code>/clock</code> at reception (interpolated between its '
                 'messages, which come in whole ticks, 5 ms at 200 Hz)' if on_clock
                 else 'on wall time (no <code>/clock</code> recorded)')
        parts.append(
            '<p>Each hop pairs messages by their arrival at the recorder (DDS reception, wall '
            'time): the limiter hop is each raw command to the first limited command after it '
            '(before the next raw command); the policy hop is each raw command from the newest '
            "pose before it, so it includes the wait for the policy's next cycle. The hops "
            "that start at a camera's exposure read the pose's stamp (its images') "
            f'{clock}.</p>')
        parts.append(_table([(name, summary(values)) for name, values in hops.items()]))
        parts.append(_figure_html(fig, 'latency'))
    parts.append('<h3>Age of each topic on arrival</h3><p>Reception at the recorder minus the '
                 'header stamp; the stamp is when the publisher made the message, or, for '
                 '<code>/cube/pose</code>, when its images were taken.</p>')
    parts.append(_table([(t, summary(ages[t])) for t in sorted(ages)]))
    return ''.join(parts)


def snapshots_section(data: RecordingData) -> str:
    if not data.images:
        return '<h2>Cameras</h2><p>No camera image in the recording.</p>'
    from inhand.messages import msg_to_image
    parts = []
    for topic, image_msg in sorted(data.images.items()):
        image = msg_to_image(image_msg)
        overlay, caption = _overlay(data, topic, image_msg, image)
        import cv2
        ok, png = cv2.imencode('.png', cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        if ok:
            parts.append(f'<figure>{_png_html(png.tobytes(), topic)}'
                         f'<figcaption>{html.escape(topic)}: {html.escape(caption)}'
                         '</figcaption></figure>')
    return '<h2>Cameras (mid-run snapshots)</h2><div class="row">' + ''.join(parts) + '</div>'


def _overlay(data: RecordingData, topic: str, image_msg, image):
    """Draw the markers found in the image and the estimated (else true) cube."""
    from vision_pose.camera_model import CameraModel, Extrinsics, intrinsics_from_camera_info
    from vision_pose.debug_draw import draw_debug
    from vision_pose.marker_layout import load_cube_layout
    from vision_pose.marker_detector import MarkerDetector
    base = topic.rsplit('/', 1)[0]
    infos = data.messages.get(base + '/camera_info', [])
    frame = image_msg.header.frame_id
    statics = [t for _, m in data.messages.get('/tf_static', []) for t in m.transforms
               if t.child_frame_id == frame]
    # The recorded run's cube (its scene's markers file); older recordings: the default cube.
    scene = data.metadata.get('scene', '')
    if scene:
        from inhand.hand_model import load_scene_config
        layout = load_cube_layout(load_scene_config(scene).cube_markers)
    else:
        layout = load_cube_layout()
    detections = MarkerDetector(layout.dictionary, layout.ids).detect(image)
    if not infos or not statics:
        return image, f'{len(detections)} markers detected (no camera_info/extrinsics)'
    from inhand.transforms import wxyz_from_xyzw
    from inhand.transforms import quat_to_matrix
    tr = statics[-1].transform
    extrinsics = Extrinsics.from_pose(
        [tr.translation.x, tr.translation.y, tr.translation.z],
        wxyz_from_xyzw([tr.rotation.x, tr.rotation.y, tr.rotation.z, tr.rotation.w]))
    camera = CameraModel(frame, intrinsics_from_camera_info(infos[-1][1], frame), extrinsics)
    pose, source = None, 'no cube pose'
    for name, what in (('/cube/pose', 'estimate'), ('/cube/pose_gt', 'truth')):
        poses = data.messages.get(name, [])
        if poses:
            from inhand.messages import msg_to_pose
            stamps = np.array([_stamp(m) for _, m in poses])
            k = int(np.argmin(np.abs(stamps - _stamp(image_msg))))
            position, quat = msg_to_pose(poses[k][1].pose.pose)
            pose, source = (quat_to_matrix(quat), position), f'cube: {what}'
            break
    drawn = draw_debug(image, camera, detections, pose, cube_size=layout.cube_size)
    return drawn, f'{len(detections)} markers detected; {source}'


# ---------------------------------------------------------------------------- other sources


def evaluation_section(path: pathlib.Path) -> str:
    report = json.loads((path / 'evaluation.json').read_text())
    records = report.get('records', [])
    successes = [r.get('successes', 0) for r in records]
    rows = [(k, v) for k, v in report.items() if k not in ('records', 'trainer_env')
            and not isinstance(v, (list, dict))]
    rows += [(f'limiter: {k}', v) for k, v in (report.get('limiter') or {}).items()]
    trainer = report.get('trainer_env') or {}
    rows += [(f'trainer env (no ROS): {k}', v) for k, v in trainer.items()
             if not isinstance(v, (list, dict))]
    out = f'<h2>Evaluation: {html.escape(str(path))}</h2>' + _table(rows)
    if successes:
        out += successes_histogram(successes, 'consecutive successes through the graph')
    return out


def training_section(path: pathlib.Path) -> str:
    record = json.loads((path / 'record.json').read_text())
    rows = [(k, v) for k, v in record.items() if k != 'invocations']
    for k, invocation in enumerate(record.get('invocations', [])):
        rows.append((f'invocation {k + 1}',
                     ', '.join(f'{a}: {b}' for a, b in invocation.items())))
    out = f'<h2>Training run: {html.escape(str(path))}</h2>' + _table(rows)
    curves = path / 'curves.png'
    if curves.is_file():
        out += _png_html(curves.read_bytes(), 'learning curves')
    return out


def sections_for(source) -> list:
    """Return the report sections of one source (recording, evaluation or training run)."""
    path = pathlib.Path(source)
    if not path.exists():
        raise ReportError(f'{path}: no such file or folder')
    if (path / 'metadata.yaml').is_file() or path.suffix == '.mcap':
        data = RecordingData(path)
        hand = data.metadata.get('hand', 'shadow')
        return [configuration_section(data, path), episodes_section(data),
                pose_error_section(data), joints_section(data, hand), latency_section(data),
                snapshots_section(data)]
    if (path / 'evaluation.json').is_file():
        return [evaluation_section(path)]
    if (path / 'record.json').is_file():
        return [training_section(path)]
    raise ReportError(f'{path}: not a recording (metadata.yaml), an evaluation '
                      '(evaluation.json) or a training run (record.json)')


STYLE = """body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:0.5em 0}th,td{border:1px solid #ccc;padding:3px 8px;
text-align:left;font-size:13px;vertical-align:top}th{background:#f3f3f3}img{max-width:100%}
.row{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}figcaption{font-size:12px}"""


def write_report(sources, out, title='inhand report') -> pathlib.Path:
    """Write one self-contained HTML page for the sources; return its path."""
    body = []
    for source in sources:
        body += sections_for(source)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    created = datetime.datetime.now().isoformat(timespec='seconds')
    out.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8">'
                   f'<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>'
                   f'<h1>{html.escape(title)}</h1><p>written {created} from '
                   f'{html.escape(", ".join(map(str, sources)))}</p>'
                   + ''.join(body) + '</body></html>\n')
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='inhand report', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('sources', nargs='+',
                        help='recording folders, evaluation folders, training run folders')
    parser.add_argument('--out', default=None,
                        help='HTML file (default: report.html in the first source folder)')
    parser.add_argument('--title', default='inhand report')
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    first = pathlib.Path(options.sources[0])
    out = options.out or (first if first.is_dir() else first.parent) / 'report.html'
    try:
        path = write_report(options.sources, out, options.title)
    except ConfigError as exc:
        print(f'inhand report: {exc}', file=sys.stderr)
        return 2
    print(f'report: {path.resolve()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
