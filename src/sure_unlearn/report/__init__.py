"""Tables and plots from result files alone (``sure report DIR``)."""

from sure_unlearn.report.tables import PlotMode, regenerate, write_summary

__all__ = ["PlotMode", "regenerate", "write_summary"]
