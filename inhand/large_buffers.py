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
Keep image-sized heap buffers in the process instead of mapping fresh pages for each message.

Every image a node takes from DDS is copied three times on its way to Python (into the C
message, into a bytes object, into the message's array), and each copy allocates a buffer of
the image's size. glibc's malloc serves blocks above its mmap threshold (128 kB to start with,
so a 640x480 RGB image) with fresh memory maps, or trims the heap it just grew back to the
kernel; either way every page of every new buffer faults on first touch. With three 640x480
images arriving together, the last one's callback started about 5 ms after its reception
instead of under 1 ms (bench/bench_image_transport.py, docs/vision.md). Raising the mmap and
trim thresholds lets freed buffers be reused.

The cost is resident memory: up to `trim` bytes of freed heap stay with each malloc arena.
"""
import ctypes

# From glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc refuses mmap thresholds above HEAP_MAX_SIZE / 2: 32 MiB on 64-bit machines, 16 MiB
# on 32-bit ones.
MAX_MMAP_THRESHOLD = ctypes.sizeof(ctypes.c_void_p) * (4 << 20)


def keep_large_buffers(largest: int = MAX_MMAP_THRESHOLD, trim: int = 128 << 20) -> str:
    """
    Ask malloc to serve blocks up to `largest` bytes from its heap and keep `trim` bytes freed.

    Returns '' when done, or why nothing changed (not glibc, or the values were refused), for
    the caller to log: the process then works as before, only slower with large messages.
    """
    if not 0 < largest <= MAX_MMAP_THRESHOLD:
        raise ValueError(f'largest must be in (0, {MAX_MMAP_THRESHOLD}] bytes, got {largest}')
    if trim < largest:
        raise ValueError(f'trim ({trim}) must be >= largest ({largest})')
    try:
        mallopt = ctypes.CDLL(None).mallopt      # the C library this process already uses
    except (OSError, AttributeError, TypeError):
        return 'no mallopt in the C library: not glibc'
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if mallopt(_M_MMAP_THRESHOLD, largest) != 1 or mallopt(_M_TRIM_THRESHOLD, trim) != 1:
        return f'mallopt refused mmap threshold {largest} / trim threshold {trim}'
    return ''
