"""A replica's `cpu_scheduling` (services/runtime.py): every thread of the process, those already
running and those started later, ends up under the policy. Run in a child process, since a thread
put under SCHED_IDLE may not come back without privilege."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from services.config import DeploymentSettings

CHILD = r"""
import json, os, sys, threading, time
from services import runtime
runtime.REAPPLY_S = 0.2
stop = threading.Event()
early = threading.Thread(target=stop.wait, daemon=True); early.start()
from services.config import DeploymentSettings
runtime.configure_replica(DeploymentSettings(cpu_scheduling=sys.argv[1]))
late = threading.Thread(target=stop.wait, daemon=True); late.start()  # inherits from the main thread
time.sleep(0.6)
print(json.dumps({t: os.sched_getscheduler(int(t)) for t in os.listdir("/proc/self/task")}))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler"), reason="Linux scheduling policies")
@pytest.mark.parametrize("policy, expected", [("idle", "SCHED_IDLE"), ("batch", "SCHED_BATCH")])
def test_every_thread_of_the_replica_runs_under_the_policy(policy, expected):
    out = subprocess.run([sys.executable, "-c", CHILD, policy], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert out.returncode == 0, out.stderr[-2000:]
    policies = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(policies) >= 4  # main, early, late, the re-applying thread (and torch's own)
    assert set(policies.values()) == {getattr(os, expected)}, policies


def test_normal_is_the_default_and_leaves_threads_alone():
    assert DeploymentSettings().cpu_scheduling == "normal"
    with pytest.raises(ValueError):
        DeploymentSettings(cpu_scheduling="realtime")
