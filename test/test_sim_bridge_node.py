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
sim_bridge as a process, started through the project launcher: the real drivers' topics.

One simulator process serves the whole module (starting one costs seconds); the tests run in
order against it, each asserting observable behaviour over DDS.
"""
import dataclasses
import os

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped
from inhand import dds_env, graph
from inhand.messages import msg_to_image
from inhand.qos import LATCHED
import numpy as np
import pytest
from ros_harness import Probe, running, start_with_parameters
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger
from tf2_msgs.msg import TFMessage

pytestmark = pytest.mark.ros


@pytest.fixture(scope='module')
def sim():
    saved = dict(os.environ)
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 1001))
    specs = graph.bringup({'sim': 'true', 'real_time_factor': '1.0'})
    assert [s.name for s in specs][0] == 'sim_bridge'
    # Domain randomization at every reset: the reset tests check what it must not break.
    specs = [dataclasses.replace(specs[0], parameters={**specs[0].parameters,
                                                       'randomize_on_reset': True})]
    try:
        with running(specs[:1]) as launcher:
            with Probe() as probe:
                yield launcher, probe
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert launcher.exit_code == 0, launcher.output_text()


def joint(msg, name):
    return msg.position[list(msg.name).index(name)]


def rejected_count(probe):
    """Read the sim's commands_rejected counter from a fresh /diagnostics message."""
    def has_counter(msg):
        return any(s.name.startswith('sim_bridge') for s in msg.status)
    msg = probe.wait_for('/diagnostics', DiagnosticArray, predicate=has_counter, qos=10)
    status = next(s for s in msg.status if s.name.startswith('sim_bridge'))
    return int({kv.key: kv.value for kv in status.values}['commands_rejected'])


def test_publishes_clock_joint_states_tf_and_ground_truth(sim):
    launcher, probe = sim
    first = probe.wait_for('/clock', Clock, timeout=60)
    later = probe.wait_for('/clock', Clock, predicate=lambda m: m.clock.sec >= first.clock.sec + 1)
    assert later.clock.sec > first.clock.sec
    states = probe.wait_for('/joint_states', JointState)
    assert len(states.name) == 24 and states.name[0].startswith('rh_')
    assert len(states.position) == len(states.velocity) == len(states.effort) == 24
    tf = probe.wait_for('/tf', TFMessage)
    # The hand's links come from hand_description, as on the robot: the sim adds the true cube.
    assert {t.child_frame_id for t in tf.transforms} == {'cube'}
    assert all(t.header.frame_id == 'world' for t in tf.transforms)
    gt = probe.wait_for('/cube/pose_gt', PoseWithCovarianceStamped)
    assert gt.header.frame_id == 'world'
    q = gt.pose.pose.orientation
    assert abs(np.linalg.norm([q.x, q.y, q.z, q.w]) - 1.0) < 1e-6


def test_camera_image_and_info_in_optical_frame(sim):
    launcher, probe = sim
    info = probe.wait_for('/cameras/vision_cam_top/camera_info', CameraInfo, timeout=60)
    image = probe.wait_for('/cameras/vision_cam_top/image_raw', Image, timeout=60)
    assert image.header.frame_id == info.header.frame_id == 'vision_cam_top_optical'
    assert (image.width, image.height) == (info.width, info.height)
    assert info.k[0] > 0 and info.k[4] > 0 and info.k[8] == 1.0
    pixels = msg_to_image(image)
    assert pixels.shape == (image.height, image.width, 3) and pixels.std() > 5   # not blank
    static = probe.wait_for('/tf_static', TFMessage, qos=LATCHED)
    assert 'vision_cam_top_optical' in {t.child_frame_id for t in static.transforms}


def test_command_moves_the_named_joint(sim):
    launcher, probe = sim
    command = probe.publisher('/hand/command', JointState)
    before = probe.wait_for('/joint_states', JointState)
    target = 1.2
    assert abs(joint(before, 'rh_FFJ3') - target) > 0.5
    msg = JointState(name=['rh_FFJ3'], position=[target])
    moved = None
    for _ in range(100):
        command.publish(msg)
        state = probe.wait_for('/joint_states', JointState)
        if abs(joint(state, 'rh_FFJ3') - target) < 0.15:
            moved = state
            break
    assert moved is not None, f'rh_FFJ3 stayed at {joint(state, "rh_FFJ3"):.3f}'
    # The other fingers' MCP joints did not follow.
    assert abs(joint(moved, 'rh_MFJ3') - joint(before, 'rh_MFJ3')) < 0.1


@pytest.mark.parametrize('bad', [
    JointState(name=['rh_FFJ3'], position=[float('nan')]),
    JointState(name=['rh_FFJ3', 'rh_NOPE'], position=[0.1, 0.1]),
    JointState(name=['rh_FFJ3', 'rh_MFJ3'], position=[0.1]),
    JointState(name=['rh_FFJ1'], position=[0.2]),           # coupled joint: not commandable
    JointState(name=['rh_FFJ3'], position=[float('inf')]),
])
def test_malformed_commands_are_rejected_whole_and_sim_keeps_running(sim, bad):
    launcher, probe = sim
    command = probe.publisher('/hand/command', JointState)
    # Hold two joints at 0.8 rad and let them settle; every bad command aims elsewhere.
    hold = JointState(name=['rh_FFJ3', 'rh_MFJ3'], position=[0.8, 0.8])

    def settled(msg):
        return all(abs(joint(msg, n) - 0.8) < 0.05 and
                   abs(msg.velocity[list(msg.name).index(n)]) < 0.05
                   for n in ('rh_FFJ3', 'rh_MFJ3'))
    for _ in range(200):
        command.publish(hold)
        if settled(probe.wait_for('/joint_states', JointState)):
            break
    before = probe.wait_for('/joint_states', JointState, predicate=settled)
    rejected_before = rejected_count(probe)
    for _ in range(10):
        command.publish(bad)
        probe.spin(0.05)
    probe.spin(0.5)
    after = probe.wait_for('/joint_states', JointState)
    stamp = after.header.stamp.sec + after.header.stamp.nanosec * 1e-9
    assert stamp > before.header.stamp.sec + before.header.stamp.nanosec * 1e-9 + 0.3
    for name in ('rh_FFJ3', 'rh_MFJ3', 'rh_FFJ1'):
        assert np.isfinite(joint(after, name))
        assert abs(joint(after, name) - joint(before, name)) < 0.05, name
    assert rejected_count(probe) >= rejected_before + 10


def test_subset_commands_within_one_chunk_both_apply(sim):
    launcher, probe = sim
    command = probe.publisher('/hand/command', JointState)
    assert probe.call('/sim_bridge/pause', SetBool, SetBool.Request(data=True)).success
    # While paused no physics chunk runs: both messages wait for the same chunk.
    command.publish(JointState(name=['rh_RFJ3'], position=[1.0]))
    command.publish(JointState(name=['rh_LFJ3'], position=[1.0]))
    probe.spin(0.5)
    assert probe.call('/sim_bridge/pause', SetBool, SetBool.Request(data=False)).success
    moved = probe.wait_for('/joint_states', JointState, timeout=30, predicate=lambda m: (
        joint(m, 'rh_RFJ3') > 0.7 and joint(m, 'rh_LFJ3') > 0.7))
    assert moved is not None


def test_pause_step_and_reset(sim):
    launcher, probe = sim
    assert probe.call('/sim_bridge/pause', SetBool, SetBool.Request(data=True)).success
    probe.spin(0.3)
    clocks = probe.subscribe('/clock', Clock)
    count = len(clocks)
    probe.spin(0.5)
    assert len(clocks) == count, 'clock advanced while paused'
    step = probe.call('/sim_bridge/step', Trigger)
    assert step.success, step.message
    probe.wait_until(lambda: len(clocks) > count, timeout=5, what='one step of /clock')
    assert probe.call('/sim_bridge/pause', SetBool, SetBool.Request(data=False)).success
    # Move a joint away from home, then reset brings it back.
    command = probe.publisher('/hand/command', JointState)
    for _ in range(40):
        command.publish(JointState(name=['rh_MFJ3'], position=[1.3]))
        probe.spin(0.05)
    assert probe.call('/sim_bridge/reset', Trigger).success
    probe.spin(0.2)
    state = probe.wait_for('/joint_states', JointState)
    assert abs(joint(state, 'rh_MFJ3')) < 0.1


def test_reset_random_and_camera_jitter_republished(sim):
    launcher, probe = sim
    dropped = probe.wait_for('/cube/dropped', Bool, qos=LATCHED)
    assert dropped.data is False
    statics = probe.subscribe('/tf_static', TFMessage, qos=LATCHED)
    probe.wait_until(lambda: statics, timeout=10, what='/tf_static')
    count = len(statics)
    before = probe.wait_for('/cube/pose_gt', PoseWithCovarianceStamped).pose.pose.orientation
    response = probe.call('/sim_bridge/reset_random', Trigger)
    assert response.success and 'random' in response.message
    # randomize_on_reset jitters the cameras: /tf_static is published again. Each draw is
    # within 1.5 mm per axis of the nominal pose, so two draws differ by at most twice that.
    probe.wait_until(lambda: len(statics) > count, timeout=10, what='a new /tf_static')
    old = {t.child_frame_id: t.transform.translation for t in statics[count - 1].transforms}
    new = {t.child_frame_id: t.transform.translation for t in statics[-1].transforms}
    shifts = [np.linalg.norm([new[k].x - old[k].x, new[k].y - old[k].y, new[k].z - old[k].z])
              for k in new]
    assert max(shifts) > 1e-5 and max(shifts) < 2 * 0.0015 * np.sqrt(3) + 1e-9
    probe.spin(0.3)
    after = probe.wait_for('/cube/pose_gt', PoseWithCovarianceStamped).pose.pose.orientation
    dot = abs(before.x * after.x + before.y * after.y + before.z * after.z + before.w * after.w)
    assert dot < 0.999, 'reset_random left the cube orientation unchanged'


@pytest.mark.parametrize('argument, message', [
    ('render_niceness:=25', 'render_niceness must be in 0..19, got 25'),
    ('render_niceness:=-1', 'render_niceness must be in 0..19, got -1'),
    ('clock_rate:=0.0', 'clock_rate > 0'),
])
def test_bad_parameters_stop_the_simulator_at_start_and_say_which(argument, message):
    env = dds_env.isolate(dict(os.environ), domain_id=dds_env.pick_domain_id(os.getpid() + 1002))
    result = start_with_parameters('sim_bridge.node', [argument], env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
