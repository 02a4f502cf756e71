"""portal.dateformats: every ``|date`` in the portal's templates gives Django's text, with
the format read once (make bench: 50 dates per invoice-list view)."""

import datetime
import zoneinfo

import pytest
from django.template import engines
from django.template.defaultfilters import date as django_date
from django.utils import timezone, translation

from portal import dateformats

FORMATS = [
    None,
    "DATE_FORMAT",
    "SHORT_DATE_FORMAT",
    "DATETIME_FORMAT",
    "SHORT_DATETIME_FORMAT",
    "MONTH_DAY_FORMAT",
    "YEAR_MONTH_FORMAT",
    "TIME_FORMAT",
    "j M Y",
    "jS F Y H:i",
    r"\a\t j. \o\f F",
    "D, d N y l L w W z t",
    "c r U e O T Z I P a A f g G h H i s u",
    "%",
    "",
]
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
VALUES = [
    datetime.date(2026, 3, 4),
    datetime.date(2024, 2, 29),
    datetime.datetime(2026, 3, 4, 5, 6, 7, 891, tzinfo=datetime.UTC),
    datetime.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN),  # the hour that happens twice
    datetime.datetime(2026, 3, 29, 2, 30, tzinfo=BERLIN),  # the hour that does not exist
    datetime.datetime(2026, 7, 1, 12, 0),  # naive
    datetime.time(9, 5),
    "2026-03-04",
    12345,
]


def _answer(filter_function, value, arg):
    try:
        return filter_function(value, arg) if arg is not None else filter_function(value)
    except Exception as error:  # noqa: BLE001 - the same error is the answer
        return (type(error), str(error))


@pytest.mark.parametrize("language", ["en", "de", "hu"])
def test_every_value_and_format_as_djangos(language):
    with translation.override(language), timezone.override(BERLIN):
        for value in VALUES:
            for arg in FORMATS:
                ours = _answer(dateformats.date, value, arg)
                assert ours == _answer(django_date, value, arg), (value, arg)


def test_empty_values_give_nothing():
    assert dateformats.date(None) == dateformats.date("") == ""


def test_time_code_for_a_date_is_djangos_error():
    with pytest.raises(TypeError, match="time-related format specifiers"):
        dateformats.format_value(datetime.date(2026, 1, 2), "j H")


def test_templates_use_it_with_the_time_zone_of_the_request():
    """The builtin replaces Django's filter, and a datetime is shown in local time first
    (expects_localtime), as with Django's."""
    template = engines["django"].from_string('{{ at|date:"Y-m-d H:i" }}')
    nodes = template.template.nodelist
    assert nodes[0].filter_expression.filters[0][0] is dateformats.date
    at = datetime.datetime(2026, 1, 1, 23, 30, tzinfo=datetime.UTC)
    with timezone.override(BERLIN):
        assert template.render({"at": at}) == "2026-01-02 00:30"


@pytest.mark.parametrize("language", ["en", "de", "hu"])
def test_one_renders_dates_share_their_codes_texts_as_djangos(language):
    """A table's dates look each code's text up once per render (``format_value``'s memo,
    make bench): every value and format still reads as Django's, one memo for them all,
    every hour and minute of a day included (midnight, noon, "a.m."/"p.m.")."""
    day = [
        datetime.datetime(2026, 3, 4, hour, minute, tzinfo=datetime.UTC)
        for hour in range(24)
        for minute in (0, 1, 30, 59)
    ]
    with translation.override(language), timezone.override(BERLIN):
        memo = {}
        for value in [*VALUES, *day, *VALUES]:
            for arg in FORMATS:
                pattern = dateformats.get_format(arg or "DATE_FORMAT")

                def ours(value, arg=None, pattern=pattern):
                    if value in (None, ""):
                        return ""
                    return dateformats.formatted(value, pattern, arg, memo)

                assert _answer(ours, value, arg) == _answer(django_date, value, arg), (value, arg)
        assert memo  # the texts were shared
