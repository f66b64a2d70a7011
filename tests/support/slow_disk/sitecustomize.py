# Put first on PYTHONPATH with SLOW_DISK_FSYNC_MBPS set, this makes os.fsync take as long as a
# slow disk or a network filesystem needs to flush the file at that rate — a fault the tests cannot
# cause otherwise on the machine's fast local disk (50 MiB flush there in 30 ms).
import os
import time

_RATE = float(os.environ.get("SLOW_DISK_FSYNC_MBPS", "0")) * 1e6

if _RATE > 0:
    _fsync = os.fsync

    def _slow_fsync(fd: int) -> None:
        time.sleep(os.fstat(fd).st_size / _RATE)
        _fsync(fd)

    os.fsync = _slow_fsync
