"""Periods and durations: Period arithmetic, period_range, to_period / to_timestamp,
quarterly fiscal periods, Timedelta and to_timedelta, business-day offsets with a holiday
calendar, and to_datetime parsing with formats and errors="coerce"."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar
from pandas.tseries.offsets import CustomBusinessDay


def main(workdir: Path) -> None:
    p = pd.Period("2024-01", freq="M")
    assert (p + 13) == pd.Period("2025-02", freq="M") and p.days_in_month == 31
    q = pd.Period("2024Q3", freq="Q-MAR")  # fiscal year ending in March
    assert q.start_time == pd.Timestamp("2023-10-01"), q.start_time
    months = pd.period_range("2023-01", "2024-12", freq="M")
    assert len(months) == 24
    rng = np.random.default_rng(8)
    days = pd.date_range("2023-01-01", "2024-12-31", freq="D")
    s = pd.Series(rng.integers(0, 10, len(days)), index=days)
    by_month = s.groupby(s.index.to_period("M")).sum()
    assert by_month.index.equals(months) and by_month.sum() == s.sum()
    quarterly = s.to_period("D").resample("Q").sum()
    assert len(quarterly) == 8
    as_ts = by_month.to_timestamp(how="end")
    assert as_ts.index[0].day == 31
    td = pd.Timedelta("1 days 2 hours 30 minutes")
    assert td.total_seconds() == 95_400
    tds = pd.to_timedelta(["00:01:30", "2h", "3 days", "15min"])
    assert tds.max() == pd.Timedelta(days=3) and tds.sum() > pd.Timedelta(days=3)
    durations = pd.Series(pd.to_timedelta(rng.integers(60, 7200, 100), unit="s"))
    assert durations.dt.total_seconds().between(60, 7200).all()
    assert (durations.dt.components["hours"] <= 2).all()
    cal = USFederalHolidayCalendar()
    holidays = cal.holidays(start="2024-01-01", end="2024-12-31")
    assert pd.Timestamp("2024-07-04") in holidays and len(holidays) >= 10
    bday = CustomBusinessDay(calendar=cal)
    nxt = pd.Timestamp("2024-07-03") + bday
    assert nxt == pd.Timestamp("2024-07-05"), nxt
    workdays = pd.date_range("2024-01-01", "2024-12-31", freq=bday)
    assert len(workdays) == 262 - len(holidays[holidays.day_of_week < 5]), len(workdays)
    raw = pd.Series(["2024-05-01 10:00", "2024-13-01 00:00", "2024-06-15 08:30", "garbage"])
    parsed = pd.to_datetime(raw, format="%Y-%m-%d %H:%M", errors="coerce")
    assert parsed.isna().sum() == 2
    euro = pd.to_datetime(["31/12/2024", "01/02/2024"], dayfirst=True)
    assert euro[1].month == 2
    epoch = pd.to_datetime([1_700_000_000, 1_700_086_400], unit="s")
    assert (epoch[1] - epoch[0]) == pd.Timedelta(days=1)
    age = pd.Timestamp("2024-06-01") - pd.to_datetime(pd.Series(["1990-05-17", "2001-12-01"]))
    years = (age.dt.days / 365.25).astype(int)
    assert years.tolist() == [34, 22], years.tolist()
    print(
        f"OK periods_timedeltas months={len(months)} holidays={len(holidays)} "
        f"workdays={len(workdays)}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
