from datetime import date, datetime
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def jst_date(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(JST).date()


def jst_start_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=JST)
