"""Follow-up: pathways (templates), plans and their tasks, follow-up records, alerts."""

from careloop.followup.models.alerts import OPEN_STATUSES, Alert, AlertEvent
from careloop.followup.models.handoffs import Referral, RevisitRequest
from careloop.followup.models.lost_risk import LostRiskModel, LostRiskScore
from careloop.followup.models.packages import ExamPackage
from careloop.followup.models.pathways import Holiday, Pathway, PathwayVersion, Purpose
from careloop.followup.models.plans import FollowUpRecord, Outcome, Plan, Task, TaskNote
from careloop.followup.models.quality import CRITERIA, QualityReview

__all__ = [
    "CRITERIA",
    "OPEN_STATUSES",
    "Alert",
    "AlertEvent",
    "ExamPackage",
    "FollowUpRecord",
    "Holiday",
    "LostRiskModel",
    "LostRiskScore",
    "Outcome",
    "Pathway",
    "PathwayVersion",
    "Plan",
    "Purpose",
    "QualityReview",
    "Referral",
    "RevisitRequest",
    "Task",
    "TaskNote",
]
