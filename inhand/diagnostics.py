"""Build diagnostic_msgs statuses (diagnostic_updater has no wheel; this is the small part we use)."""
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR
STALE = DiagnosticStatus.STALE


def status(name: str, level: int, message: str, hardware_id='', **values) -> DiagnosticStatus:
    """A DiagnosticStatus with key/values formatted as strings (floats to 4 significant digits)."""
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
