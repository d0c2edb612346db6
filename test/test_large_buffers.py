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

"""inhand.large_buffers: image-sized buffers are reused instead of faulted in afresh."""
import os
import subprocess
import sys

from inhand.large_buffers import keep_large_buffers, MAX_MMAP_THRESHOLD
import pytest

# Rounds of five 2 MB buffers alive at once, then freed (a set of images and their copies);
# prints the minor page faults of the rounds after the first. Transparent huge pages are
# turned off for the process (PR_SET_THP_DISABLE): with them a host faults in 2 MB at a time
# and the default case shows few faults, whatever malloc does.
_ROUNDS = """
import ctypes, resource, sys
import numpy as np
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)
from inhand.large_buffers import keep_large_buffers
if sys.argv[1] == 'keep':
    assert keep_large_buffers() == ''

def round_():
    buffers = [np.ones(2 << 20, np.uint8) for _ in range(5)]
    return sum(int(b[::4096].sum()) for b in buffers)

round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    round_()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode):
    # malloc settings inherited from the environment would change the default case.
    env = {k: v for k, v in os.environ.items()
           if k != 'GLIBC_TUNABLES' and not k.startswith('MALLOC_')}
    done = subprocess.run([sys.executable, '-c', _ROUNDS, mode], capture_output=True,
                          text=True, timeout=60, check=True, env=env)
    return int(done.stdout.split()[-1])


def test_freed_image_buffers_are_reused_without_page_faults():
    default, kept = _faults('default'), _faults('keep')
    # 20 rounds x 10 MB = 51200 pages: with malloc's defaults each is faulted in again.
    assert default > 20000, default
    assert kept < default / 20, (kept, default)


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match='largest must be in'):
        keep_large_buffers(largest=MAX_MMAP_THRESHOLD + 1)
    with pytest.raises(ValueError, match='largest must be in'):
        keep_large_buffers(largest=0)
    with pytest.raises(ValueError, match=r'trim \(1024\) must be >= largest'):
        keep_large_buffers(largest=4096, trim=1024)
