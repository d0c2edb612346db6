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

"""Build diagnostic_msgs statuses (diagnostic_updater has no wheel; this is the part we use)."""
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR
STALE = DiagnosticStatus.STALE


def status(name: str, level: int, message: str, hardware_id='', **values) -> DiagnosticStatus:
    """Make a DiagnosticStatus; values become strings (floats to 4 significant digits)."""
    def fmt(v):
        return f'{v:.4g}' if isinstance(v, float) else str(v)
    return DiagnosticStatus(
        level=bytes([level]) if isinstance(level, int) else level, name=name, message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=str(k), value=fmt(v)) for k, v in values.items()])


def array(stamp, *statuses) -> DiagnosticArray:
    msg = DiagnosticArray(status=list(statuses))
    msg.header.stamp = stamp
    return msg
