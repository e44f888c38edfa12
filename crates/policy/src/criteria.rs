//! Criteria: the leaves of a policy. Each compiles from `{name[/sub_path]: value}` once and
//! evaluates to a boolean plus the one [`Reason`] that explains it.

mod certificate;
mod identity;
mod request;
mod time;

pub(crate) use certificate::{CertificateMatcher, parse_fingerprint, parse_spki_hash};
pub(crate) use identity::Claim;
pub(crate) use request::SourceIp;
pub(crate) use time::{DateRange, DayOfWeek, TimeOfDay, parse_instant};

use portcullis_yaml::Node;

use crate::error::{Sink, did_you_mean};
use crate::input::Input;
use crate::matchers::{Case, ListMatcher, StringMatcher};
use crate::reasons::Reason;

/// A compiled criterion.
#[derive(Debug, Clone)]
pub(crate) enum Criterion {
    Accept,
    Reject,
    AuthenticatedUser,
    CorsPreflight,
    Email(StringMatcher),
    Domain(StringMatcher),
    User(StringMatcher),
    Groups(ListMatcher),
    Claim(Claim),
    HttpMethod(StringMatcher),
    HttpPath(StringMatcher),
    SourceIp(SourceIp),
    Date(DateRange),
    DayOfWeek(DayOfWeek),
    TimeOfDay(Box<TimeOfDay>),
    ClientCertificate(Box<CertificateMatcher>),
}

/// Every criterion name, as the error for an unknown one lists them.
pub(crate) const NAMES: &[&str] = &[
    "accept",
    "reject",
    "authenticated_user",
    "email",
    "domain",
    "user",
    "claim",
    "groups",
    "http_method",
    "http_path",
    "cors_preflight",
    "source_ip",
    "date",
    "day_of_week",
    "time_of_day",
    "client_certificate",
];

// === impl Criterion ===

impl Criterion {
    /// Compiles the criterion written as `key: value`. `sink` names the operator it is in.
    pub(crate) fn compile(key: &Node, value: &Node, sink: &mut Sink<'_>) -> Option<Criterion> {
        let Some(full) = key.as_str() else {
            sink.expected(key, "a criterion name");
            return None;
        };
        let (name, sub_path) = match full.split_once('/') {
            Some((name, rest)) => (name, Some(rest)),
            None => (full, None),
        };
        if !NAMES.contains(&name) {
            let hint = did_you_mean(name, NAMES)
                .map(|s| format!("did you mean \"{s}\"? "))
                .unwrap_or_default();
            sink.error(
                key,
                format_args!(
                    "criterion \"{full}\" is not known ({hint}expected one of {}, or claim/<name>)",
                    NAMES.join(", ")
                ),
            );
            return None;
        }
        let mut sink = sink.nested(": ", format_args!("criterion \"{full}\""));
        let sink = &mut sink;
        if name == "claim" {
            return Claim::compile(key, sub_path.unwrap_or(""), value, sink).map(Criterion::Claim);
        }
        if sub_path.is_some() {
            sink.error(
                key,
                format_args!("only claim takes a sub-path (claim/<name>); write \"{name}\""),
            );
            return None;
        }
        let string = |case, sink: &mut Sink<'_>| StringMatcher::compile(value, case, sink);
        Some(match name {
            "accept" => flag(value, sink, Criterion::Accept)?,
            "reject" => flag(value, sink, Criterion::Reject)?,
            "authenticated_user" => flag(value, sink, Criterion::AuthenticatedUser)?,
            "cors_preflight" => flag(value, sink, Criterion::CorsPreflight)?,
            "email" => Criterion::Email(string(Case::AsciiInsensitive, sink)?),
            "domain" => Criterion::Domain(string(Case::AsciiInsensitive, sink)?),
            "user" => Criterion::User(string(Case::Sensitive, sink)?),
            "groups" => Criterion::Groups(ListMatcher::compile(value, sink)?),
            "http_method" => Criterion::HttpMethod(string(Case::Sensitive, sink)?),
            "http_path" => Criterion::HttpPath(string(Case::Sensitive, sink)?),
            "source_ip" => Criterion::SourceIp(SourceIp::compile(value, sink)?),
            "date" => Criterion::Date(DateRange::compile(value, sink)?),
            "day_of_week" => Criterion::DayOfWeek(DayOfWeek::compile(value, sink)?),
            "time_of_day" => Criterion::TimeOfDay(Box::new(TimeOfDay::compile(value, sink)?)),
            "client_certificate" => {
                Criterion::ClientCertificate(Box::new(CertificateMatcher::compile(value, sink)?))
            }
            _ => return None,
        })
    }

    /// Whether the criterion holds for `input`, and why.
    pub(crate) fn evaluate(&self, input: &Input<'_>) -> (bool, Reason) {
        match self {
            Criterion::Accept => (true, Reason::Accept),
            Criterion::Reject => (false, Reason::Reject),
            Criterion::AuthenticatedUser => match input.user {
                Some(_) => (true, Reason::UserOk),
                None => (false, Reason::UserUnauthenticated),
            },
            Criterion::CorsPreflight => match input.request.is_cors_preflight() {
                true => (true, Reason::CorsRequest),
                false => (false, Reason::NonCorsRequest),
            },
            Criterion::Email(m) => identity::email(m, input),
            Criterion::Domain(m) => identity::domain(m, input),
            Criterion::User(m) => identity::user(m, input),
            Criterion::Groups(m) => identity::groups(m, input),
            Criterion::Claim(c) => c.evaluate(input),
            Criterion::HttpMethod(m) => request::http_method(m, input),
            Criterion::HttpPath(m) => request::http_path(m, input),
            Criterion::SourceIp(s) => s.evaluate(input),
            Criterion::Date(d) => d.evaluate(input),
            Criterion::DayOfWeek(d) => d.evaluate(input),
            Criterion::TimeOfDay(t) => t.evaluate(input),
            Criterion::ClientCertificate(c) => c.evaluate(input),
        }
    }
}

/// `accept`, `reject`, `authenticated_user`, `cors_preflight`: Pomerium takes any value
/// (typically `true`). `false` is refused, because it reads as a negation and is not one.
fn flag(value: &Node, sink: &mut Sink<'_>, criterion: Criterion) -> Option<Criterion> {
    if let portcullis_yaml::Resolved::Bool(false) = value.resolve() {
        sink.error(
            value,
            "`false` does not negate a criterion; write `true` and put it under `not`",
        );
        return None;
    }
    Some(criterion)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::error::PolicyError;
    use crate::input::{Request, User};

    /// Compiles `{criterion}` written as YAML, e.g. `email: a@b.c`.
    pub(crate) fn compile(yaml: &str) -> Result<Criterion, Vec<PolicyError>> {
        let node = Node::parse(yaml).unwrap();
        let (key, value) = &node.as_map().unwrap()[0];
        let mut errors = Vec::new();
        let criterion = Criterion::compile(key, value, &mut Sink::new(&mut errors, "op"));
        criterion.ok_or(errors)
    }

    /// An input at 2024-01-01T00:00:00Z (a Monday) with a GET / request and no user.
    pub(crate) fn anonymous() -> Input<'static> {
        let now = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        Input::new(
            Request {
                method: "GET",
                path: "/",
                ..Request::default()
            },
            now,
        )
    }

    pub(crate) fn signed_in(user: User<'static>) -> Input<'static> {
        Input {
            user: Some(user),
            ..anonymous()
        }
    }

    pub(crate) fn eval(yaml: &str, input: &Input<'_>) -> (bool, Reason) {
        compile(yaml).unwrap().evaluate(input)
    }

    #[test]
    fn flags() {
        let user = signed_in(User::default());
        assert_eq!(eval("accept: true", &anonymous()), (true, Reason::Accept));
        assert_eq!(eval("accept: 1", &anonymous()), (true, Reason::Accept));
        assert_eq!(eval("reject: true", &user), (false, Reason::Reject));
        assert_eq!(
            eval("authenticated_user: true", &user),
            (true, Reason::UserOk)
        );
        assert_eq!(
            eval("authenticated_user: true", &anonymous()),
            (false, Reason::UserUnauthenticated)
        );
        assert_eq!(
            eval("cors_preflight: true", &anonymous()),
            (false, Reason::NonCorsRequest)
        );
        let mut preflight = anonymous();
        preflight.request.method = "OPTIONS";
        preflight.request.origin = Some("https://app.example");
        preflight.request.access_control_request_method = Some("POST");
        assert_eq!(
            eval("cors_preflight: true", &preflight),
            (true, Reason::CorsRequest)
        );
    }

    #[test]
    fn compile_errors_name_the_criterion() {
        let message = |yaml| compile(yaml).unwrap_err()[0].message.clone();
        assert_eq!(
            message("accept: false"),
            "op: criterion \"accept\": `false` does not negate a criterion; write `true` and put \
             it under `not`"
        );
        assert!(message("emial: x").starts_with(
            "op: criterion \"emial\" is not known (did you mean \"email\"? expected one of accept, reject,"
        ));
        assert_eq!(
            message("email/x: y"),
            "op: criterion \"email/x\": only claim takes a sub-path (claim/<name>); write \"email\""
        );
    }
}
