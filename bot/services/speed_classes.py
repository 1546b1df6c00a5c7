"""Which speed classes a plan offers (the official spec, UpdateSpeedClassRequest): "slow down" means the slowest
class of the SIM's own plan, and nothing for a plan with one class."""

from __future__ import annotations

S1_SLOWEST = "s1.minimum"
# Plans whose classes are not the s1 family; every other plan (plan01s, plan-D, plan-K2, plan-US, …) offers s1.
SLOWEST_OF_PLAN: dict[str, str | None] = {
    "plan-DU": "u1.slow",
    "plan-KM1": None,  # "cannot be changed as there is only one speed class available"
}


def slowest(plan: str | None) -> str | None:
    """The slowest speed class the plan offers; None when its speed class cannot be changed."""
    return SLOWEST_OF_PLAN.get(plan or "", S1_SLOWEST)
