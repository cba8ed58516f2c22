"""Pipeline forecast: per-deal win and timing probabilities, and period bookings with intervals.

See ``docs/forecast.md``.
"""

from crmml.forecast._backtest import BacktestResult, backtest, conformal_quantiles, pinball_loss
from crmml.forecast._model import WIN_GRID, PipelineForecastModel, forecast_templates
from crmml.forecast._periods import PERIODS, period_bounds

__all__ = ["PERIODS", "WIN_GRID", "BacktestResult", "PipelineForecastModel", "backtest", "conformal_quantiles",
           "forecast_templates", "period_bounds", "pinball_loss"]
