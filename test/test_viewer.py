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
The web viewer in a real headless browser: the page loads, connects and shows the hand.

The graph runs on the simulator with viewer:=true; Debian's chromium, driven by Playwright,
opens the URL the viewer prints. The screenshot must show the measured hand (light grey, as
MuJoCo colours it) and its commanded ghost (translucent orange) in the 3D view.
"""
import base64
import dataclasses
import os
import re
import shutil
import socket
import time

from inhand import dds_env, graph
import numpy as np
import pytest
from ros_harness import running

pytestmark = [pytest.mark.ros, pytest.mark.slow]
CHROMIUM = '/usr/bin/chromium'
# Flags for a closed network (no Google lookups, no background connections) and no GPU.
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def hand_pixels(png_path) -> tuple:
    """
    Count (blue-grey, orange) pixels of the 3D view, and the fraction of orange in blue's box.

    Blue-grey: the measured hand (viewer_node.MEASURED_RGBA); orange: the commanded ghost
    (GHOST_RGBA, translucent). Where the hand follows its commands the ghost lies on it.
    """
    import cv2
    image = cv2.imread(str(png_path))[:, :, ::-1].astype(int)     # RGB
    view = image[60:770, :760]                                     # the 3D view of the layout
    r, g, b = view[..., 0], view[..., 1], view[..., 2]
    measured = (b > r + 20) & (b > g + 5) & (b < 235)
    ghost = (r > 200) & (r - b > 40) & (r - g > 20)
    inside = 0.0
    if measured.any() and ghost.any():
        ys, xs = np.nonzero(measured)
        gy, gx = np.nonzero(ghost)
        inside = float(np.mean((gy >= ys.min() - 10) & (gy <= ys.max() + 10)
                               & (gx >= xs.min() - 10) & (gx <= xs.max() + 10)))
    return int(measured.sum()), int(ghost.sum()), inside


def test_the_browser_shows_the_hand_and_its_ghost(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright
    saved = dict(os.environ)
    dds_env.isolate(domain_id=dds_env.pick_domain_id(os.getpid() + 5003))
    web_port, grpc_port = free_port(), free_port()
    specs = [dataclasses.replace(s, parameters={**s.parameters, 'web_port': web_port,
                                                'grpc_port': grpc_port})
             if s.name == 'viewer' else s
             for s in graph.bringup({'sim': 'true', 'cameras': 'false', 'viewer': 'true',
                                     'results_file': ''})]
    shot = tmp_path / 'viewer.png'
    try:
        with running(specs) as launcher:
            deadline = time.monotonic() + 90
            while 'viewer: open http' not in launcher.output_text():
                assert time.monotonic() < deadline, launcher.output_text()[-3000:]
                time.sleep(0.5)
            url = re.search(r'viewer: open (\S+)', launcher.output_text()).group(1)
            assert url == (f'http://localhost:{web_port}/?url=rerun%2Bhttp://127.0.0.1:'
                           f'{grpc_port}/proxy')
            console = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                     args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={'width': 1280, 'height': 800})
                page.on('console', lambda m: console.append(m.text))
                page.goto(url, timeout=60000)
                # The DevTools screenshot: Playwright's own waits for fonts, which the
                # viewer's first software-rendered frames hold up for a minute or more.
                devtools = page.context.new_cdp_session(page)
                counts = (0, 0, 0.0)
                deadline = time.monotonic() + 240
                while time.monotonic() < deadline:
                    page.wait_for_timeout(5000)
                    data = devtools.send('Page.captureScreenshot', {'format': 'png'})['data']
                    shot.write_bytes(base64.b64decode(data))
                    counts = hand_pixels(shot)
                    if counts[0] > 3000 and counts[1] > 1000 and counts[2] > 0.9:
                        break
                browser.close()
            assert not launcher.check() and not launcher.restarts['viewer'], \
                launcher.output_text()[-3000:]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert launcher.exit_code == 0, launcher.output_text()[-3000:]
    keep = os.environ.get('INHAND_VIEWER_SCREENSHOT')
    if keep:                                   # to look at it: the test's own evidence
        shutil.copy(shot, keep)
    assert not [line for line in console if 'Data source failed' in line], console[-10:]
    # The hand is drawn, its ghost too, and the ghost lies on the hand (not at the origin).
    assert counts[0] > 3000 and counts[1] > 1000 and counts[2] > 0.9, (counts, console[-10:])
