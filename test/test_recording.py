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
Record and replay: a sim run with cameras to MCAP, played back into cube_pose and the policy.

The replayed camera streams must give cube_pose estimates that match the recorded ground
truth; replayed joint states and poses must make the policy runner command the hand; a
damaged recording must be refused with a message that says so.
"""
import os
import subprocess
import sys

from geometry_msgs.msg import PoseWithCovarianceStamped
from inhand import graph
from inhand.recording import RecordingError, RecordingReader, RecordingWriter
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from ros_harness import node_spec, Probe, running
from sensor_msgs.msg import JointState

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def stamp(msg):
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def inhand(*arguments, timeout=180):
    env = dict(os.environ, MUJOCO_GL=os.environ.get('MUJOCO_GL', 'egl'))
    return subprocess.run([sys.executable, '-m', 'inhand', *arguments], env=env,
                          capture_output=True, text=True, timeout=timeout)


def play_while_spinning(probe, *arguments, timeout=120):
    """Run `inhand play` while the probe keeps receiving; return (returncode, output)."""
    env = dict(os.environ, MUJOCO_GL=os.environ.get('MUJOCO_GL', 'egl'))
    proc = subprocess.Popen([sys.executable, '-m', 'inhand', 'play', *arguments], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    probe.wait_until(lambda: proc.poll() is not None, timeout=timeout, what='play to end')
    probe.spin(1.0)
    return proc.returncode, proc.stdout.read()


def test_writer_and_reader_round_trip_with_metadata(tmp_path):
    path = tmp_path / 'run'
    with RecordingWriter(path, {'commit': 'abc123', 'hand': 'shadow'}) as writer:
        writer.add_topic('/joint_states', 'sensor_msgs/msg/JointState')
        for k in range(5):
            writer.write('/joint_states', 1_000_000 + k,
                         serialize_message(JointState(name=['a'], position=[float(k)])))
    with RecordingReader(path / 'run.mcap') as reader:           # the .mcap file works too
        assert reader.topics == {'/joint_states': ('sensor_msgs/msg/JointState', 5)}
        assert reader.custom_data == {'commit': 'abc123', 'hand': 'shadow'}
        values = [deserialize_message(m.data, JointState).position[0]
                  for m in reader.messages()]
    assert values == [0.0, 1.0, 2.0, 3.0, 4.0]
    with pytest.raises(RecordingError, match='exists already'):
        RecordingWriter(path)
    with pytest.raises(RecordingError, match='has no definition'):
        RecordingWriter(tmp_path / 'other').add_topic('/x', 'my_msgs/msg/Unknown')


def test_damaged_recordings_are_refused_by_name(tmp_path):
    with pytest.raises(RecordingError, match='no such recording'):
        RecordingReader(tmp_path / 'missing')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(RecordingError, match='not a recording'):
        RecordingReader(tmp_path / 'empty')
    path = tmp_path / 'run'
    with RecordingWriter(path) as writer:
        writer.add_topic('/joint_states', 'sensor_msgs/msg/JointState')
        for k in range(2000):
            writer.write('/joint_states', 1_000_000 + k, serialize_message(
                JointState(name=['a'] * 20, position=[float(k)] * 20)))
    data = (path / 'run.mcap').read_bytes()
    (path / 'run.mcap').write_bytes(data[:len(data) // 2])          # truncated
    with pytest.raises(RecordingError, match=r'recording is damaged \((truncated|corrupt)'):
        with RecordingReader(path) as reader:
            list(reader.messages())
    result = inhand('play', str(path))
    assert result.returncode == 2 and 'inhand play:' in result.stderr
    assert str(path) in result.stderr
    corrupt = bytearray(data)
    corrupt[len(data) // 3:len(data) // 3 + 4000] = os.urandom(4000)  # garbage inside
    (path / 'run.mcap').write_bytes(bytes(corrupt))
    with pytest.raises(RecordingError, match=r'recording is damaged \((truncated|corrupt)'):
        with RecordingReader(path) as reader:
            list(reader.messages())


@pytest.fixture(scope='module')
def recorded_run(tmp_path_factory):
    """Record a sim run of the whole graph with cameras with `inhand record --launch`."""
    from inhand import dds_env
    saved = dict(os.environ)
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 4001))
    out = tmp_path_factory.mktemp('recordings') / 'run'
    try:
        result = inhand('record', '--launch', '--duration', '8', '--out', str(out),
                        'results_file:=none')
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_a_recording_holds_the_run_and_says_what_it_was(recorded_run):
    with RecordingReader(recorded_run) as reader:
        topics = reader.topics
        metadata = reader.custom_data
    for topic in ('/clock', '/joint_states', '/cube/pose_gt', '/hand/command', '/tf_static',
                  '/cameras/vision_cam_top/image_raw', '/cameras/vision_cam_top/camera_info'):
        assert topics[topic][1] > 0, topic
    assert topics['/cameras/vision_cam_left/image_raw'][0] == 'sensor_msgs/msg/Image'
    assert topics['/joint_states'][1] > 300                     # 100 Hz for 8 s, minus start
    assert metadata['hand'] == 'shadow' and metadata['policy'] == 'policies/inhand_yaw.yaml'
    assert metadata['commit'] and 'results_file:=' in metadata['launch_arguments']


def test_replayed_cameras_give_cube_pose_the_recorded_truth(recorded_run, fresh_domain):
    cube_pose = node_spec('cube_pose', 'vision_pose.cube_pose_node',
                          param_files=('vision/cube_pose.yaml',),
                          parameters={'use_sim_time': True})
    env_profile = graph.node_environment(graph.resolve_arguments({}), os.environ)
    os.environ.update(env_profile)
    with running([cube_pose]) as launcher, Probe() as probe:
        estimates = probe.subscribe('/cube/pose', PoseWithCovarianceStamped)
        code, output = play_while_spinning(probe, str(recorded_run), '--wait', '20')
        assert code == 0, output[-3000:]
    assert launcher.exit_code == 0, launcher.output_text()
    with RecordingReader(recorded_run) as reader:
        truth = {stamp(m): m for m in (deserialize_message(r.data, PoseWithCovarianceStamped)
                                       for r in reader.messages(['/cube/pose_gt']))}
    assert len(estimates) > 30, output + launcher.output_text()[-3000:]
    errors = []
    for estimate in estimates:
        match = min(truth, key=lambda t: abs(t - stamp(estimate)))
        assert abs(match - stamp(estimate)) < 0.011          # sim time: the recorded clock
        p, q = estimate.pose.pose.position, truth[match].pose.pose.position
        errors.append(np.linalg.norm([p.x - q.x, p.y - q.y, p.z - q.z]))
    assert np.median(errors) < 0.01, np.median(errors)


def test_replayed_joints_and_poses_make_the_policy_command(recorded_run, fresh_domain):
    runner = node_spec('policy_runner', 'policy_node.policy_runner_node',
                       param_files=('policies/policy_runner.params.yaml',),
                       parameters={'use_sim_time': True, 'initial_mode': 'run',
                                   'spec': 'policies/inhand_yaw.yaml'},
                       remappings=(('cube/pose', 'cube/pose_gt'),))
    with running([runner]) as launcher, Probe() as probe:
        commands = probe.subscribe('/hand/command_raw', JointState)
        code, output = play_while_spinning(probe, str(recorded_run), '--wait', '20',
                                           '--topics', '/clock', '/joint_states',
                                           '/cube/pose_gt', '/goal/pose')
        assert code == 0, output[-3000:]
    assert launcher.exit_code == 0, launcher.output_text()
    assert len(commands) > 20, launcher.output_text()[-3000:]
    assert all(np.all(np.isfinite(m.position)) and len(m.name) == len(m.position)
               for m in commands)


def test_per_episode_recordings_start_with_the_latched_topics(tmp_path, fresh_domain):
    from inhand.qos import LATCHED
    from std_msgs.msg import Int32
    from tf2_msgs.msg import TFMessage
    from geometry_msgs.msg import TransformStamped
    out = tmp_path / 'episodes'
    env = dict(os.environ, MUJOCO_GL=os.environ.get('MUJOCO_GL', 'egl'))
    with Probe() as probe:
        episode = probe.publisher('/goal/episode', Int32, LATCHED)
        joints = probe.publisher('/joint_states', JointState, 10)
        static = probe.publisher('/tf_static', TFMessage, LATCHED)
        static.publish(TFMessage(transforms=[TransformStamped(child_frame_id='camera')]))
        episode.publish(Int32(data=0))
        proc = subprocess.Popen(
            [sys.executable, '-m', 'inhand', 'record', '--episodes', '--duration', '6',
             '--out', str(out), '--topics', '/joint_states', '/tf_static'],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        probe.wait_until(lambda: joints.get_subscription_count() > 0, timeout=60,
                         what='the recorder subscribing')
        for k in range(60):
            if k == 20:
                episode.publish(Int32(data=-1))     # between episodes: still episode 0's
            if k == 30:
                episode.publish(Int32(data=1))
            joints.publish(JointState(name=['a'], position=[float(k)]))
            probe.spin(0.05)
        probe.wait_until(lambda: proc.poll() is not None, timeout=60, what='record to end')
        output = proc.stdout.read()
    assert proc.returncode == 0, output
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ['episode_0000', 'episode_0001'], output
    values = {}
    for name in folders:
        with RecordingReader(out / name) as reader:
            assert reader.topics['/tf_static'][1] == 1, name     # repeated at each start
            episodes = [deserialize_message(m.data, Int32).data
                        for m in reader.messages(['/goal/episode'])]
            assert episodes == ([0, -1] if name == 'episode_0000' else [1]), name
            values[name] = [deserialize_message(m.data, JointState).position[0]
                            for m in reader.messages(['/joint_states'])]
    assert values['episode_0000'] and values['episode_0001']
    assert max(values['episode_0000']) < min(values['episode_0001'])


def test_a_report_of_the_recording_has_every_section_self_contained(recorded_run, tmp_path):
    import html
    import re
    result = inhand('report', str(recorded_run), '--out', str(tmp_path / 'report.html'))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / 'report.html').read_text()
    for heading in ('Configuration', 'Episodes', 'Vision pose error', 'Joints against their '
                    'limits', 'Latency per hop', 'Cameras'):
        assert f'<h2>{heading}' in page, heading
    images = re.findall(r'<img alt="([^"]*)" src="([^"]{0,30})', page)
    alts = [alt for alt, _ in images]
    assert 'joint trajectories' in alts and 'latency' in alts
    assert sum(alt.endswith('/image_raw') for alt in alts) == 3
    assert all(src.startswith('data:image/png;base64,') for _, src in images)
    assert 'http://' not in page and 'https://' not in page      # opens without a network
    # The hops are measured on the recorded clock: no message arrives before it was stamped.
    joint_row = re.search(r'<th>/joint_states</th><td>median (-?[0-9.]+) ms', page)
    assert joint_row and -5.0 < float(joint_row.group(1)) < 100.0, joint_row
    # Every hop of the loop is there, as a histogram, with a median a loop can have.
    assert 'latency' in alts
    # (a ground-truth run: the policy's pose is /cube/pose_gt; vision adds the camera hop)
    for hop, upper in (('/cube/pose_gt → /hand/command_raw', 100.0),
                       ('simulator state → /hand/command_raw', 200.0),
                       ('/hand/command_raw → /hand/command', 50.0)):
        row = re.search(re.escape(html.escape(hop)) + r'[^<]*</th><td>median (-?[0-9.]+) ms', page)
        assert row and 0.0 <= float(row.group(1)) < upper, (hop, row)
    result = inhand('report', str(tmp_path / 'nothing'))
    assert result.returncode == 2 and 'no such file or folder' in result.stderr


def test_hop_pairing_follows_each_message_to_the_next_nodes_output():
    from inhand.report import since_newest_input, until_first_output
    inputs = np.array([0.00, 0.05, 0.10, 0.15])
    outputs = np.array([0.002, 0.053, 0.16, 0.40])
    # the input at 0.10 got no output before the next input came: it is not paired
    np.testing.assert_allclose(until_first_output(inputs, outputs, within=0.1),
                               [0.002, 0.003, 0.010])
    # an output later than `within` is not the input's
    np.testing.assert_allclose(until_first_output([0.0, 0.05], [0.002, 0.30], within=0.1),
                               [0.002])
    np.testing.assert_allclose(until_first_output([0.0, 0.05], [0.002, 0.30], within=1.0),
                               [0.002, 0.25])
    # from the newest input before each output; an output before any input is left out
    np.testing.assert_allclose(since_newest_input([-0.01, 0.02, 0.12, 0.30], inputs),
                               [0.02, 0.02, 0.15])
    assert len(until_first_output([], outputs, within=1.0)) == 0


def test_play_keeps_the_recorded_clock_at_the_asked_rate(recorded_run, fresh_domain):
    # --rate 2: the recorded /clock advances twice as fast as the wall clock.
    import time
    from rosgraph_msgs.msg import Clock
    received = []
    with Probe() as probe:
        probe.node.create_subscription(
            Clock, '/clock',
            lambda m: received.append((time.monotonic(), m.clock.sec + m.clock.nanosec * 1e-9)),
            100)
        code, output = play_while_spinning(probe, str(recorded_run), '--rate', '2',
                                           '--wait', '20', '--topics', '/clock')
    assert code == 0 and 'at rate 2' in output, output[-3000:]
    wall, clock = np.array(received).T
    assert clock[-1] - clock[0] > 5.0, (clock[0], clock[-1])     # most of the 8 s recording
    slope = np.polyfit(wall - wall[0], clock - clock[0], 1)[0]
    assert 1.6 < slope < 2.4, slope


def test_foxglove_s_own_mcap_reader_decodes_the_recording(recorded_run):
    # What Foxglove and rosbag2's MCAP plugin read: ros2msg schemas, CDR messages, valid
    # summary; checked with Foxglove's reader and ROS 2 decoder, not with the writer's library.
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    files = sorted(recorded_run.glob('*.mcap'))
    assert len(files) == 1, files
    with open(files[0], 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        assert {s.encoding for s in summary.schemas.values()} == {'ros2msg'}
        assert {c.message_encoding for c in summary.channels.values()} == {'cdr'}
        joints = []
        for schema, channel, message, decoded in reader.iter_decoded_messages(
                topics=['/joint_states']):
            assert schema.name == 'sensor_msgs/msg/JointState'
            joints.append(decoded)
    assert len(joints) == summary.statistics.channel_message_counts[next(
        c.id for c in summary.channels.values() if c.topic == '/joint_states')] > 300
    assert len(joints[0].name) == len(joints[0].position) == 24
    assert all(np.all(np.isfinite(j.position)) for j in joints)
