"""Lead scoring: a calibrated conversion probability, a 1–99 score, a grade A–D, reasons and a follow-up per open lead.

See ``docs/leadscore.md``. :func:`daily_list` turns a fitted model into the sales team's daily call list.
"""

from crmml.leadscore._daily import DAILY_COLUMNS, DailyList, daily_list, rank_leads
from crmml.leadscore._model import (
    COLD_START_FLOOR,
    ENOUGH_CONVERSIONS,
    GRADES,
    PICK_MARGIN,
    LeadScoreModel,
    lead_templates,
)

__all__ = [
    "COLD_START_FLOOR",
    "DAILY_COLUMNS",
    "DailyList",
    "ENOUGH_CONVERSIONS",
    "GRADES",
    "LeadScoreModel",
    "PICK_MARGIN",
    "daily_list",
    "rank_leads",
    "lead_templates",
]
