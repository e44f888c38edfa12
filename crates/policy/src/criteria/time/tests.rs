use std::time::SystemTime;

use super::super::tests::{anonymous, compile, eval};
use super::{parse_clock, parse_instant};
use crate::input::Input;
use crate::reasons::Reason::*;

fn at(rfc3339: &str) -> Input<'static> {
    Input {
        now: SystemTime::from(parse_instant(rfc3339).unwrap()),
        ..anonymous()
    }
}

fn messages(yaml: &str) -> Vec<String> {
    compile(yaml)
        .unwrap_err()
        .into_iter()
        .map(|e| e.message)
        .collect()
}

#[test]
fn instants_with_and_without_offsets() {
    let utc = |s| parse_instant(s).unwrap().as_second();
    assert_eq!(utc("2024-01-01T00:00:00Z"), 1_704_067_200);
    assert_eq!(utc("2024-01-01T01:00:00+01:00"), 1_704_067_200);
    assert_eq!(utc("2024-01-01T00:00:00"), 1_704_067_200);
    assert_eq!(utc("2024-01-01"), 1_704_067_200);
    assert!(parse_instant("yesterday").is_none());
}

#[test]
fn date_bounds_are_half_open() {
    let yaml = "date: {after: '2024-01-01T00:00:00Z', before: '2024-02-01T00:00:00Z'}";
    assert_eq!(eval(yaml, &at("2024-01-01T00:00:00Z")), (true, DateOk));
    assert_eq!(eval(yaml, &at("2024-01-31T23:59:59Z")), (true, DateOk));
    assert_eq!(
        eval(yaml, &at("2024-02-01T00:00:00Z")),
        (false, DateUnauthorized)
    );
    assert_eq!(
        eval(yaml, &at("2023-12-31T23:59:59Z")),
        (false, DateUnauthorized)
    );
    assert_eq!(
        eval(
            "date: {after: 2030-01-01}",
            &at("2029-12-31T23:00:00-02:00")
        ),
        (true, DateOk)
    );
    assert_eq!(
        eval(
            "date: {before: 2020-01-02T16:20:00}",
            &at("2024-01-01T00:00:00Z")
        ),
        (false, DateUnauthorized)
    );
}

#[test]
fn date_errors() {
    assert_eq!(
        messages("date: {after: soon, since: 2020-01-01}"),
        [
            "op: criterion \"date\": \"soon\" is not a date (expected RFC 3339, e.g. 2024-05-01T09:00:00Z)",
            "op: criterion \"date\": \"since\" is not known here (expected after or before)",
        ]
    );
    assert_eq!(
        messages("date: {after: 2024-02-01, before: 2024-01-01}"),
        ["op: criterion \"date\": after is not earlier than before: the range is empty"]
    );
    assert!(messages("date: {}")[0].ends_with("needs after, before, or both"));
    assert!(
        messages("date: 2024-01-01")[0].contains("expected a mapping with after and/or before")
    );
}

#[test]
fn days_of_week() {
    // 2024-01-01 is a Monday; 2024-01-06 a Saturday; 2024-01-07 a Sunday.
    let monday = at("2024-01-01T12:00:00Z");
    let saturday = at("2024-01-06T12:00:00Z");
    let sunday = at("2024-01-07T12:00:00Z");
    for (yaml, input, want) in [
        ("day_of_week: mon-fri", &monday, true),
        ("day_of_week: mon-fri", &saturday, false),
        ("day_of_week: '*'", &sunday, true),
        ("day_of_week: tue,thu", &monday, false),
        ("day_of_week: sat,sun", &sunday, true),
        ("day_of_week: Monday", &monday, true),
        ("day_of_week: fri-mon", &sunday, true),
        ("day_of_week: fri-mon", &monday, true),
        ("day_of_week: fri-mon", &at("2024-01-03T12:00:00Z"), false),
        ("day_of_week: 'mon-wed, sat'", &saturday, true),
        // Sunday 23:00 UTC is already Monday in Auckland.
        (
            "day_of_week: {days: mon, timezone: Pacific/Auckland}",
            &at("2024-01-07T23:00:00Z"),
            true,
        ),
        ("day_of_week: mon", &at("2024-01-07T23:00:00Z"), false),
    ] {
        let (ok, reason) = eval(yaml, input);
        assert_eq!(ok, want, "{yaml}");
        assert_eq!(
            reason,
            if want {
                DayOfWeekOk
            } else {
                DayOfWeekUnauthorized
            }
        );
    }
}

#[test]
fn day_of_week_errors() {
    assert!(messages("day_of_week: funday")[0].contains("\"funday\" is not a day"));
    assert!(messages("day_of_week: mon-")[0].contains("\"mon-\" is not a day"));
    assert!(
        messages("day_of_week: {days: mon, timezone: Mars/Olympus}")[0]
            .contains("\"Mars/Olympus\" is not an IANA time zone")
    );
    assert!(
        messages("day_of_week: {timezone: UTC}")[0].ends_with("needs days, e.g. days: mon-fri")
    );
}

#[test]
fn clock_formats() {
    let hms = |h: u64, m: u64, s: u64| ((h * 60 + m) * 60 + s) * 1_000_000_000;
    assert_eq!(parse_clock("15:04"), Some(hms(15, 4, 0)));
    assert_eq!(parse_clock("2:20:00"), Some(hms(2, 20, 0)));
    assert_eq!(parse_clock("15:04:05.5"), Some(hms(15, 4, 5) + 500_000_000));
    assert_eq!(
        parse_clock("15:04:05.999999999"),
        Some(hms(15, 4, 5) + 999_999_999)
    );
    assert_eq!(parse_clock("3PM"), Some(hms(15, 0, 0)));
    assert_eq!(parse_clock("3 pm"), Some(hms(15, 0, 0)));
    assert_eq!(parse_clock("4:30PM"), Some(hms(16, 30, 0)));
    assert_eq!(parse_clock("12:15 AM"), Some(hms(0, 15, 0)));
    assert_eq!(parse_clock("12 PM"), Some(hms(12, 0, 0)));
    for bad in [
        "24:00",
        "15",
        "13 PM",
        "0 AM",
        "9:5",
        "9:60",
        "9:00:61",
        "9:00:00.",
        "noon",
        "9:00:00:00",
    ] {
        assert_eq!(parse_clock(bad), None, "{bad}");
    }
}

#[test]
fn time_of_day_in_a_zone_and_across_midnight() {
    let hours = "time_of_day: {timezone: America/New_York, after: '09:00', before: 5PM}";
    // 14:00Z is 09:00 EST in January, and 10:00 EDT in July.
    assert_eq!(
        eval(hours, &at("2024-01-10T14:00:00Z")),
        (true, TimeOfDayOk)
    );
    assert_eq!(
        eval(hours, &at("2024-01-10T13:59:59Z")),
        (false, TimeOfDayUnauthorized)
    );
    assert_eq!(
        eval(hours, &at("2024-07-10T13:00:00Z")),
        (true, TimeOfDayOk)
    );
    assert_eq!(
        eval(hours, &at("2024-01-10T22:00:00Z")),
        (false, TimeOfDayUnauthorized)
    );
    let night = "time_of_day: {timezone: UTC, after: '22:00', before: '06:00'}";
    assert_eq!(
        eval(night, &at("2024-01-10T23:30:00Z")),
        (true, TimeOfDayOk)
    );
    assert_eq!(
        eval(night, &at("2024-01-10T05:59:00Z")),
        (true, TimeOfDayOk)
    );
    assert_eq!(
        eval(night, &at("2024-01-10T06:00:00Z")),
        (false, TimeOfDayUnauthorized)
    );
    assert_eq!(
        eval(night, &at("2024-01-10T12:00:00Z")),
        (false, TimeOfDayUnauthorized)
    );
    let open = "time_of_day: {timezone: UTC, after: '12:00'}";
    assert_eq!(eval(open, &at("2024-01-10T12:00:00Z")), (true, TimeOfDayOk));
    assert_eq!(
        eval(open, &at("2024-01-10T11:00:00Z")),
        (false, TimeOfDayUnauthorized)
    );
    let until = "time_of_day: {timezone: UTC, before: '12:00'}";
    assert_eq!(
        eval(until, &at("2024-01-10T11:00:00Z")),
        (true, TimeOfDayOk)
    );
}

#[test]
fn time_of_day_errors() {
    assert_eq!(
        messages("time_of_day: {after: '9:00'}"),
        ["op: criterion \"time_of_day\": needs a timezone, e.g. timezone: UTC"]
    );
    assert_eq!(
        messages("time_of_day: {timezone: UTC, after: teatime, at: 1}"),
        [
            "op: criterion \"time_of_day\": \"teatime\" is not a time of day (e.g. 09:00, 17:30:00, 5:30 PM)",
            "op: criterion \"time_of_day\": \"at\" is not known here (expected timezone, after or before)",
        ]
    );
    assert!(
        messages("time_of_day: {timezone: UTC, after: '9:00', before: 9AM}")[0]
            .ends_with("the range is empty")
    );
    assert!(messages("time_of_day: {timezone: UTC}")[0].ends_with("needs after, before, or both"));
}
