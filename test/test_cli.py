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

"""The `inhand` command line: graph listing, marker sheet, errors."""
from inhand import cli
import numpy as np


def test_graph_lists_nodes_with_parameters(capsys):
    assert cli.main(['graph', 'bringup', 'sim:=true', 'real_time_factor:=2']) == 0
    out = capsys.readouterr().out
    assert 'sim_bridge: sim_bridge.node' in out
    assert 'real_time_factor: 2.0' in out


def test_bad_launch_argument_exits_2(capsys):
    assert cli.main(['graph', 'bringup', 'sim:=perhaps']) == 2
    assert "sim:='perhaps'" in capsys.readouterr().err
    assert cli.main(['graph', 'nosuchgraph']) == 2


def test_markers_sheet_is_written_at_scale(tmp_path, capsys):
    import cv2
    out = tmp_path / 'sheet.png'
    assert cli.main(['markers', '--out', str(out), '--dpi', '150']) == 0
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] > image.shape[1] > 1000
    detector = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50))
    corners, ids, _ = detector.detectMarkers(image)
    assert sorted(ids.flatten().tolist()) == [0, 1, 2, 3, 4, 5]
    # 45 mm markers at 150 dpi are 45 / 25.4 * 150 = 265.7 px wide.
    widths = [np.linalg.norm(c[0][1] - c[0][0]) for c in corners]
    assert np.allclose(widths, 45 / 25.4 * 150, rtol=0.02)


def test_markers_missing_config_is_named(tmp_path, capsys):
    assert cli.main(['markers', '--cube', str(tmp_path / 'none.yaml')]) == 2
    assert 'none.yaml' in capsys.readouterr().err
