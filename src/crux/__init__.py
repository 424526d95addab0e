from __future__ import annotations

import os

__version__ = "0.1.0"

# OpenMP threads (torch, via libgomp) spin while they wait for work by default. On a shared
# machine, or when a cron refresh runs beside other jobs, spinning threads steal the cores the
# other threads need: three encoders on 2 cores ran at half their combined speed (measured
# 2026-11-22: 170 vs 330 sentences/s; alone, 310 either way). libgomp reads this once, when
# torch loads, so it is set here, before anything imports torch; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
