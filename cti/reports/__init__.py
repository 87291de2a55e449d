"""Reports over the stored call records: queries, periods, exports, the assessment sheet.

:func:`build` makes a :class:`Report` of a :class:`Period` grouped one of
:data:`GROUPINGS` ways; :mod:`cti.reports.export` writes it as JSON, CSV or
XLSX and :mod:`cti.reports.assessment` as the monthly assessment sheet.  The
formulas are those of :mod:`figures` (``docs/reports.md``).
"""

from cti.reports.periods import Period, PeriodError
from cti.reports.report import COLUMNS, GROUPINGS, Report, Row, build

__all__ = ["COLUMNS", "GROUPINGS", "Period", "PeriodError", "Report", "Row", "build"]
