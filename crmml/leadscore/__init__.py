"""Lead scoring: a calibrated conversion probability, a 1–99 score, a grade A–D, reasons and a follow-up per open lead.

See ``docs/leadscore.md``.
"""

from crmml.leadscore._model import GRADES, LeadScoreModel, lead_templates

__all__ = ["GRADES", "LeadScoreModel", "lead_templates"]
