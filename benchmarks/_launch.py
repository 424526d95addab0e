"""Run one command and write its wall time, CPU time and peak RSS as JSON (stdlib only).

``python -S benchmarks/_launch.py RESULT.json TIMEOUT_S CMD [ARGS...]``

Why a launcher: on Linux a child's ``ru_maxrss`` starts at its parent's resident size when it
``exec``s, so measuring from the (large) harness would put a floor of the harness's size under
every figure. This small process forks the command itself, so the floor is a bare ``python -S``
(about 9 MB), and wall time is taken here, without the launcher's own start-up.
"""

import json
import os
import signal
import sys
import time


def main() -> None:
    result_path, timeout, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
    signal.setitimer(signal.ITIMER_REAL, timeout)
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    wall = time.perf_counter() - t0
    signal.setitimer(signal.ITIMER_REAL, 0)
    with open(result_path, "w") as f:
        json.dump({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                   "peak_rss_kb": usage.ru_maxrss, "returncode": os.waitstatus_to_exitcode(status)}, f)


main()
