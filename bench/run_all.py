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
Run every benchmark (`make bench`): bench/bench_*.py in turn, each in its own process.

Each benchmark prints its own table; this runner isolates DDS (loopback, a domain per run),
reports which ones failed, and exits non-zero if any did. Pass names to run a subset:
`bench/run_all.py sim limiter`.
"""
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from inhand import dds_env  # noqa: E402


def main(argv) -> int:
    scripts = sorted(HERE.glob('bench_*.py'))
    if argv:
        scripts = [s for s in scripts if s.stem.removeprefix('bench_') in argv]
    failed = []
    for index, script in enumerate(scripts):
        env = dds_env.isolate(dict(os.environ), domain_id=dds_env.pick_domain_id(
            os.getpid() + 13 * (index + 1)))
        print(f'\n===== {script.name} (ROS_DOMAIN_ID={env["ROS_DOMAIN_ID"]}) =====', flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], env=env)
        print(f'----- {script.name}: exit {code}, {time.monotonic() - started:.0f} s', flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print('failed: ' + ', '.join(failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
