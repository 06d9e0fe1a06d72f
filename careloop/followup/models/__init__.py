"""Follow-up: pathways (templates), plans and their tasks, follow-up records, alerts."""

from careloop.followup.models.alerts import Alert, AlertEvent
from careloop.followup.models.pathways import Holiday, Pathway, PathwayVersion, Purpose
from careloop.followup.models.plans import FollowUpRecord, Outcome, Plan, Task

__all__ = [
    "Alert",
    "AlertEvent",
    "FollowUpRecord",
    "Holiday",
    "Outcome",
    "Pathway",
    "PathwayVersion",
    "Plan",
    "Purpose",
    "Task",
]
