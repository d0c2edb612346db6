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
Benchmark the MuJoCo core of sim_bridge: physics real-time factor, camera cost, memory.

    .venv/bin/python bench/bench_sim.py [--seconds 10] [--frames 60] [--options]

Prints one table. Rows:
  physics only           real-time factor (sim seconds per wall second) with the cube in the
                         palm and the fingers moving (sinusoidal targets at 12.5 Hz, as a
                         policy would send), stepping one mj_step per call and in 10-step chunks
  + 3 cams 200x200@15Hz  the same with the default rig rendered at its rate
  + 3 cams 640x480@15Hz  the same rig at Dactyl's native camera resolution
  render WxH             time per frame (update_scene + render + read-back): median / p90
  peak RSS               resource.getrusage maximum resident set size
--options adds a table of render settings (shadows, multisampling) at 200x200 and 640x480.
Goals on the 2-core dev machine: physics only >= 20x, three 200x200 cameras at 15 Hz >= 1x.
"""
import argparse
import dataclasses
import os
import pathlib
import resource
import sys
import time

os.environ.setdefault('MUJOCO_GL', 'egl')
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from inhand.hand_model import CameraRig, load_camera_rig, load_scene_config  # noqa: E402
import numpy as np  # noqa: E402
from sim_bridge.simulator import HandSim  # noqa: E402

POLICY_PERIOD = 0.08      # s: Dactyl's 12.5 Hz control step


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def finger_targets(sim, t) -> np.ndarray:
    """Slow, small finger motions around home: the hand keeps the cube in the palm."""
    names = sim.actuated_joint_names
    phase = np.arange(len(names)) * 0.7
    amplitude = np.array([0.0 if n.startswith('rh_WR') else 0.15 for n in names])
    home = sim.profile.home[sim.profile.actuated_indices]
    return home + amplitude * (1 + np.sin(2 * np.pi * 0.5 * t + phase)) / 2


def run_physics(sim, seconds, chunk, render_rate=None) -> tuple:
    """Return (real-time factor, cube still in the palm) for `seconds` of sim time."""
    sim.reset()
    steps_per_action = int(round(POLICY_PERIOD / sim.timestep))
    frame_period = 1.0 / render_rate if render_rate else None
    next_frame = sim.time
    names = list(sim.actuated_joint_names)
    start_sim = sim.time
    total = int(round(seconds / sim.timestep))
    done = 0
    started = time.perf_counter()
    while done < total:
        if done % steps_per_action == 0:
            sim.set_targets(names, finger_targets(sim, sim.time))
        n = min(chunk, steps_per_action - done % steps_per_action, total - done)
        if frame_period is not None:
            n = min(n, max(1, int(np.ceil((next_frame - sim.time) / sim.timestep - 1e-9))))
        sim.step(n)
        done += n
        if frame_period is not None and sim.time >= next_frame - 1e-9:
            for name in sim.camera_names:
                sim.render(name)
            next_frame += frame_period
    wall = time.perf_counter() - started
    return (sim.time - start_sim) / wall, not sim.cube_dropped()


def render_times(sim, frames) -> tuple:
    """Return (median, p90) ms per frame over all cameras, after one warm-up frame each."""
    sim.reset()
    for name in sim.camera_names:
        sim.render(name)
    times = []
    for i in range(frames):
        sim.step(5)
        name = sim.camera_names[i % len(sim.camera_names)]
        started = time.perf_counter()
        sim.render(name)
        times.append((time.perf_counter() - started) * 1000.0)
    return float(np.median(times)), float(np.percentile(times, 90))


def resized_rig(rig, width, height) -> CameraRig:
    return CameraRig(source=rig.source, cameras=tuple(
        dataclasses.replace(c, width=width, height=height) for c in rig.cameras))


def options_table(frames):
    scene = load_scene_config()
    rig = load_camera_rig()
    rows = []
    for label, shadowsize, offsamples in (('shadows off, no MSAA (default)', 0, 0),
                                          ('shadows off, 4x MSAA', 0, 4),
                                          ('shadow map 4096, 4x MSAA (gym)', 4096, 4)):
        def settings(spec, shadowsize=shadowsize, offsamples=offsamples):
            spec.visual.quality.shadowsize = shadowsize
            spec.visual.quality.offsamples = offsamples
            for light in spec.lights:
                light.castshadow = shadowsize > 0
        for width, height in ((200, 200), (640, 480)):
            sim = HandSim(scene=scene, rig=resized_rig(rig, width, height), extend_spec=settings)
            median, p90 = render_times(sim, frames)
            sim.close()
            rows.append((label, f'{width}x{height}', median, p90))
    print('\nrender settings                   size      median ms  p90 ms')
    for label, size, median, p90 in rows:
        print(f'{label:<34}{size:<10}{median:>9.1f}{p90:>8.1f}')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--seconds', type=float, default=10.0, help='sim seconds per RTF row')
    parser.add_argument('--frames', type=int, default=60, help='frames per render row')
    parser.add_argument('--options', action='store_true', help='also compare render settings')
    args = parser.parse_args(argv)

    load = os.getloadavg()[0]
    rows = []
    base = HandSim(rig=CameraRig.empty())
    for chunk in (1, 10):
        rtf, held = run_physics(base, args.seconds, chunk)
        rows.append((f'physics only, {chunk}-step calls', f'{rtf:.1f}x', held))
    base.close()
    rig = load_camera_rig()
    renders = []
    for width, height in ((200, 200), (640, 480)):
        sim = HandSim(rig=resized_rig(rig, width, height))
        rate = rig.cameras[0].rate_hz
        rtf, held = run_physics(sim, args.seconds, 10, render_rate=rate)
        rows.append((f'+ 3 cams {width}x{height} @ {rate:g} Hz', f'{rtf:.2f}x', held))
        renders.append((f'render {width}x{height}', render_times(sim, args.frames)))
        sim.close()

    timestep = load_scene_config().timestep or 0.002
    print(f'sim_bridge benchmark: timestep {timestep * 1000:g} ms, {args.seconds:g} sim s per '
          f'row, {os.cpu_count()} CPUs, load average {load:.2f} at start, '
          f'MUJOCO_GL={os.environ["MUJOCO_GL"]}')
    print('\ncase                                 real-time factor   cube still held')
    for label, value, held in rows:
        print(f'{label:<37}{value:>16}   {"yes" if held else "NO (dropped)"}')
    print('\nper frame                 median ms   p90 ms')
    for label, (median, p90) in renders:
        print(f'{label:<26}{median:>9.1f}{p90:>9.1f}')
    print(f'\npeak RSS {peak_rss_mb():.0f} MB')
    if args.options:
        options_table(args.frames)
    return 0


if __name__ == '__main__':
    sys.exit(main())
