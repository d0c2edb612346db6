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

"""Learning curves of a run: progress.csv -> one PNG (return, successes, length, speed)."""
import csv
import pathlib


def read_progress(path) -> dict:
    """Columns of progress.csv as lists of floats (empty cells as NaN)."""
    with pathlib.Path(path).open() as stream:
        rows = list(csv.DictReader(stream))
    columns = {}
    for row in rows:
        for key, value in row.items():
            columns.setdefault(key, []).append(float(value) if value not in ('', None)
                                               else float('nan'))
    return columns


def write_curves(progress_path, png_path, title='') -> pathlib.Path:
    """Plot the learning curves against env steps; return the PNG path."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    data = read_progress(progress_path)
    steps = [s / 1e6 for s in data.get('env_steps', [])]
    panels = (('reward_per_step', 'reward per step'),
              ('successes_mean', 'consecutive successes (mean of ended episodes)'),
              ('episode_steps', 'episode length [control steps]'),
              ('steps_per_s', 'env steps/s (collection)'))
    figure, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for axis, (key, label) in zip(axes.ravel(), panels):
        values = data.get(key, [])
        axis.plot(steps, values, lw=0.8, color='tab:blue')
        if key == 'successes_mean' and 'successes_median' in data:
            axis.plot(steps, data['successes_median'], lw=0.8, color='tab:orange',
                      label='median')
            axis.legend(loc='upper left')
        axis.set_title(label, fontsize=10)
        axis.grid(alpha=0.3)
    for axis in axes[1]:
        axis.set_xlabel('env steps [millions]')
    figure.suptitle(title)
    figure.tight_layout()
    png_path = pathlib.Path(png_path)
    figure.savefig(png_path, dpi=90)
    plt.close(figure)
    return png_path
