"""Scheduler names and a fresh scheduler instance per request.

Schedulers are stateful (step index, multistep history), so every request gets its own
instance built from the model's saved scheduler config; they are never shared.
"""

from __future__ import annotations

import enum
from typing import Any

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    LCMScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin


class SchedulerName(str, enum.Enum):
    DEFAULT = "default"  # the scheduler saved with the model
    DDIM = "ddim"
    DPMPP_2M = "dpmpp_2m"
    DPMPP_2M_KARRAS = "dpmpp_2m_karras"
    EULER = "euler"
    EULER_ANCESTRAL = "euler_ancestral"
    LCM = "lcm"
    FLOW_MATCH_EULER = "flow_match_euler"


# (class, config overrides). DPM++ 2M is DPM-Solver++ of order 2, as A1111/ComfyUI name it.
_SCHEDULERS: dict[SchedulerName, tuple[type[SchedulerMixin], dict[str, Any]]] = {
    SchedulerName.DDIM: (DDIMScheduler, {}),
    SchedulerName.DPMPP_2M: (
        DPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": False},
    ),
    SchedulerName.DPMPP_2M_KARRAS: (
        DPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    SchedulerName.EULER: (EulerDiscreteScheduler, {}),
    SchedulerName.EULER_ANCESTRAL: (EulerAncestralDiscreteScheduler, {}),
    SchedulerName.LCM: (LCMScheduler, {}),
    SchedulerName.FLOW_MATCH_EULER: (FlowMatchEulerDiscreteScheduler, {}),
}


def make_scheduler(name: SchedulerName, base: SchedulerMixin) -> SchedulerMixin:
    """A new scheduler of kind `name` configured from the model's own scheduler `base`."""
    if name is SchedulerName.DEFAULT:
        return base.__class__.from_config(base.config)
    cls, overrides = _SCHEDULERS[name]
    return cls.from_config(base.config, **overrides)


def scheduler_name_of(scheduler: SchedulerMixin) -> SchedulerName:
    """Best-effort reverse mapping, used to report the effective scheduler of DEFAULT."""
    for name, (cls, overrides) in _SCHEDULERS.items():
        if type(scheduler) is cls and all(scheduler.config.get(k) == v for k, v in overrides.items()):
            return name
    return SchedulerName.DEFAULT
