//! Criteria about when: `date`, `day_of_week`, `time_of_day`.
//!
//! Bounds are half-open: `after` is inclusive, `before` exclusive. Time zones come from the IANA
//! database compiled into the binary and are resolved at compile time; evaluation only asks the
//! zone for its UTC offset at `now` (a binary search, no allocation, no I/O).

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use portcullis_yaml::{Node, NodeKind};

use crate::error::Sink;
use crate::input::Input;
use crate::matchers::{scalar_text, unique_keys};
use crate::reasons::Reason;

const SECONDS_PER_DAY: i64 = 86_400;
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// `date: {after, before}`, as nanoseconds since the Unix epoch.
#[derive(Debug, Clone)]
pub(crate) struct DateRange {
    after: Option<i128>,
    before: Option<i128>,
}

/// `day_of_week`: a bit per day (bit 0 = Sunday), in a zone (`None` = UTC).
#[derive(Debug, Clone)]
pub(crate) struct DayOfWeek {
    days: u8,
    zone: Option<TimeZone>,
}

/// `time_of_day: {timezone, after, before}`, as nanoseconds since local midnight.
/// `after > before` is a range that wraps midnight (e.g. 22:00 to 06:00).
#[derive(Debug, Clone)]
pub(crate) struct TimeOfDay {
    zone: TimeZone,
    after: Option<u64>,
    before: Option<u64>,
}

const DAYS: [(&str, &str); 7] = [
    ("sun", "sunday"),
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
];

/// An instant: RFC 3339 (`2024-05-01T09:00:00Z`, `...+02:00`), or a date-time or date without
/// an offset, read as UTC (`2024-05-01T09:00:00`, `2024-05-01`), as Pomerium's examples write.
pub(crate) fn parse_instant(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    let civil = match text.parse::<DateTime>() {
        Ok(dt) => dt,
        Err(_) => text
            .parse::<Date>()
            .ok()?
            .to_datetime(jiff::civil::Time::midnight()),
    };
    Some(civil.to_zoned(TimeZone::UTC).ok()?.timestamp())
}

/// Local seconds since the Unix epoch in `zone` (`None` = UTC) at `input.now`, and the
/// nanoseconds past that second. `None` outside jiff's range (±9999 years).
fn local_time(zone: Option<&TimeZone>, input: &Input<'_>) -> Option<(i64, u32)> {
    let (secs, nanos) = input.unix_time();
    let offset = match zone {
        None => 0,
        Some(zone) => zone.to_offset(Timestamp::from_second(secs).ok()?).seconds(),
    };
    Some((secs.checked_add(i64::from(offset))?, nanos))
}

fn verdict(ok: bool, yes: Reason, no: Reason) -> (bool, Reason) {
    (ok, if ok { yes } else { no })
}

/// The entries of a mapping criterion, or `None` after reporting.
fn mapping<'n>(value: &'n Node, what: &str, sink: &mut Sink<'_>) -> Option<&'n [(Node, Node)]> {
    match value.as_map() {
        Some(entries) if unique_keys(entries, sink) => Some(entries),
        Some(_) => None,
        None => {
            sink.expected(value, what);
            None
        }
    }
}

fn zone(node: &Node, sink: &mut Sink<'_>) -> Option<TimeZone> {
    let name = scalar_text(node, sink)?.trim();
    match TimeZone::get(name) {
        Ok(zone) => Some(zone),
        Err(_) => {
            sink.error(
                node,
                format_args!("\"{name}\" is not an IANA time zone (e.g. UTC, Europe/Paris)"),
            );
            None
        }
    }
}

fn unknown_key(key: &Node, name: &str, expected: &str, sink: &mut Sink<'_>) {
    sink.error(
        key,
        format_args!("\"{name}\" is not known here (expected {expected})"),
    );
}

// === impl DateRange ===

impl DateRange {
    pub(super) fn compile(value: &Node, sink: &mut Sink<'_>) -> Option<DateRange> {
        let entries = mapping(value, "a mapping with after and/or before", sink)?;
        let before_count = sink.count();
        let mut range = DateRange {
            after: None,
            before: None,
        };
        for (key, value) in entries {
            let name = key.as_str().unwrap_or_default();
            let slot = match name {
                "after" => &mut range.after,
                "before" => &mut range.before,
                _ => {
                    unknown_key(key, name, "after or before", sink);
                    continue;
                }
            };
            let Some(text) = scalar_text(value, sink) else {
                continue;
            };
            match parse_instant(text) {
                Some(ts) => *slot = Some(ts.as_nanosecond()),
                None => sink.error(
                    value,
                    format_args!(
                        "\"{text}\" is not a date (expected RFC 3339, e.g. 2024-05-01T09:00:00Z)"
                    ),
                ),
            }
        }
        if sink.count() > before_count {
            return None;
        }
        match (range.after, range.before) {
            (None, None) => sink.error(value, "needs after, before, or both"),
            (Some(a), Some(b)) if a >= b => sink.error(
                value,
                "after is not earlier than before: the range is empty",
            ),
            _ => return Some(range),
        }
        None
    }

    pub(super) fn evaluate(&self, input: &Input<'_>) -> (bool, Reason) {
        let now = input.unix_nanos();
        let ok = self.after.is_none_or(|a| now >= a) && self.before.is_none_or(|b| now < b);
        verdict(ok, Reason::DateOk, Reason::DateUnauthorized)
    }
}

// === impl DayOfWeek ===

impl DayOfWeek {
    /// `mon-fri`, `tue,thu`, `*`; or `{days: mon-fri, timezone: Europe/Paris}` (default UTC).
    pub(super) fn compile(value: &Node, sink: &mut Sink<'_>) -> Option<DayOfWeek> {
        if let NodeKind::Scalar { text, .. } = &value.kind {
            return parse_days(value, text, sink).map(|days| DayOfWeek { days, zone: None });
        }
        let entries = mapping(value, "days such as mon-fri, or {days, timezone}", sink)?;
        let before = sink.count();
        let (mut days, mut zone_name) = (None, None);
        for (key, v) in entries {
            match key.as_str().unwrap_or_default() {
                "days" => days = scalar_text(v, sink).and_then(|t| parse_days(v, t, sink)),
                "timezone" => zone_name = zone(v, sink),
                other => unknown_key(key, other, "days or timezone", sink),
            }
        }
        if days.is_none() && sink.count() == before {
            sink.error(value, "needs days, e.g. days: mon-fri");
        }
        (sink.count() == before).then_some(DayOfWeek {
            days: days?,
            zone: zone_name,
        })
    }

    pub(super) fn evaluate(&self, input: &Input<'_>) -> (bool, Reason) {
        // 1970-01-01 was a Thursday (day 4 counting from Sunday).
        let ok = local_time(self.zone.as_ref(), input).is_some_and(|(secs, _)| {
            let weekday = (secs.div_euclid(SECONDS_PER_DAY) + 4).rem_euclid(7);
            self.days & (1 << weekday) != 0
        });
        verdict(ok, Reason::DayOfWeekOk, Reason::DayOfWeekUnauthorized)
    }
}

fn parse_days(node: &Node, text: &str, sink: &mut Sink<'_>) -> Option<u8> {
    let text = text.trim().to_ascii_lowercase();
    if text == "*" {
        return Some(0x7f);
    }
    let day = |name: &str| DAYS.iter().position(|(a, b)| name == *a || name == *b);
    let mut days = 0u8;
    for part in text.split(',').map(str::trim) {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        let (Some(first), Some(last)) = (day(first.trim()), day(last.trim())) else {
            sink.error(
                node,
                format_args!(
                    "\"{part}\" is not a day or a range of days (expected *, or days such as \
                     mon, tue,thu, mon-fri, written short or in full)"
                ),
            );
            return None;
        };
        let mut d = first;
        loop {
            days |= 1 << d;
            if d == last {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    Some(days)
}

// === impl TimeOfDay ===

impl TimeOfDay {
    pub(super) fn compile(value: &Node, sink: &mut Sink<'_>) -> Option<TimeOfDay> {
        let entries = mapping(value, "a mapping with timezone, after and/or before", sink)?;
        let before_count = sink.count();
        let (mut zone_name, mut after, mut before) = (None, None, None);
        for (key, v) in entries {
            let name = key.as_str().unwrap_or_default();
            let slot = match name {
                "timezone" => {
                    zone_name = zone(v, sink);
                    continue;
                }
                "after" => &mut after,
                "before" => &mut before,
                _ => {
                    unknown_key(key, name, "timezone, after or before", sink);
                    continue;
                }
            };
            let Some(text) = scalar_text(v, sink) else {
                continue;
            };
            match parse_clock(text) {
                Some(nanos) => *slot = Some(nanos),
                None => sink.error(
                    v,
                    format_args!("\"{text}\" is not a time of day (e.g. 09:00, 17:30:00, 5:30 PM)"),
                ),
            }
        }
        if sink.count() > before_count {
            return None;
        }
        let Some(zone) = zone_name else {
            sink.error(value, "needs a timezone, e.g. timezone: UTC");
            return None;
        };
        match (after, before) {
            (None, None) => sink.error(value, "needs after, before, or both"),
            (Some(a), Some(b)) if a == b => sink.error(
                value,
                "after and before are the same time: the range is empty",
            ),
            _ => {
                return Some(TimeOfDay {
                    zone,
                    after,
                    before,
                });
            }
        }
        None
    }

    pub(super) fn evaluate(&self, input: &Input<'_>) -> (bool, Reason) {
        let ok = local_time(Some(&self.zone), input).is_some_and(|(secs, nanos)| {
            let second_of_day = secs.rem_euclid(SECONDS_PER_DAY).unsigned_abs();
            let t = second_of_day * NANOS_PER_SECOND + u64::from(nanos);
            match (self.after, self.before) {
                (Some(a), Some(b)) if a < b => a <= t && t < b,
                (Some(a), Some(b)) => a <= t || t < b,
                (Some(a), None) => a <= t,
                (None, Some(b)) => t < b,
                (None, None) => true,
            }
        });
        verdict(ok, Reason::TimeOfDayOk, Reason::TimeOfDayUnauthorized)
    }
}

/// `15:04`, `15:04:05`, `15:04:05.999999999`, `3PM`, `3 PM`, `3:04PM`, `3:04 pm`.
fn parse_clock(text: &str) -> Option<u64> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let (clock, meridiem) = match lower
        .strip_suffix("am")
        .or_else(|| lower.strip_suffix("pm"))
    {
        Some(rest) => (rest.trim_end(), Some(lower.ends_with("pm"))),
        None => (lower.as_str(), None),
    };
    let mut parts = clock.split(':');
    let hour: u64 = number(parts.next()?, 1, 2)?;
    let minute: u64 = parts.next().map_or(Some(0), |m| number(m, 2, 2))?;
    let (second, nanos) = match parts.next() {
        None => (0, 0),
        Some(s) => {
            let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
            let nanos = match fraction.len() {
                0 if !s.contains('.') => 0,
                1..=9 => number(fraction, 1, 9)? * 10u64.pow(9 - fraction.len() as u32),
                _ => return None,
            };
            (number(whole, 2, 2)?, nanos)
        }
    };
    if parts.next().is_some() || minute > 59 || second > 59 {
        return None;
    }
    let hour = match meridiem {
        None if clock.contains(':') && hour <= 23 => hour,
        Some(pm) if (1..=12).contains(&hour) => hour % 12 + if pm { 12 } else { 0 },
        _ => return None,
    };
    Some(((hour * 60 + minute) * 60 + second) * NANOS_PER_SECOND + nanos)
}

fn number(digits: &str, min_len: usize, max_len: usize) -> Option<u64> {
    let ok =
        (min_len..=max_len).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| digits.parse().ok()).flatten()
}

#[cfg(test)]
mod tests;
