//! Criteria about the signed-in user: `email`, `domain`, `user`, `groups`, `claim/<path>`.
//!
//! Each yields `user-unauthenticated` when there is no user, so the caller can ask the user to
//! sign in (401) rather than refuse them (403).

use portcullis_yaml::Node;
use serde_json::{Map, Value};

use crate::error::Sink;
use crate::input::{Input, User};
use crate::matchers::{ListMatcher, StringMatcher};
use crate::reasons::Reason;

/// `claim/<path>`: a list matcher over the claim's value (a scalar claim is a list of one).
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    /// `/`-separated segments; later segments descend into JSON objects.
    path: Box<[Box<str>]>,
    matcher: ListMatcher,
}

fn with_user(input: &Input<'_>, f: impl FnOnce(&User<'_>) -> (bool, Reason)) -> (bool, Reason) {
    match &input.user {
        Some(user) => f(user),
        None => (false, Reason::UserUnauthenticated),
    }
}

fn verdict(ok: bool, yes: Reason, no: Reason) -> (bool, Reason) {
    (ok, if ok { yes } else { no })
}

pub(super) fn email(m: &StringMatcher, input: &Input<'_>) -> (bool, Reason) {
    with_user(input, |user| {
        let ok = user.email.is_some_and(|e| m.matches(e));
        verdict(ok, Reason::EmailOk, Reason::EmailUnauthorized)
    })
}

pub(super) fn domain(m: &StringMatcher, input: &Input<'_>) -> (bool, Reason) {
    with_user(input, |user| {
        let domain = user.email.and_then(|e| e.rsplit_once('@')).map(|(_, d)| d);
        let ok = domain.is_some_and(|d| m.matches(d));
        verdict(ok, Reason::DomainOk, Reason::DomainUnauthorized)
    })
}

pub(super) fn user(m: &StringMatcher, input: &Input<'_>) -> (bool, Reason) {
    with_user(input, |user| {
        verdict(m.matches(user.id), Reason::UserOk, Reason::UserUnauthorized)
    })
}

pub(super) fn groups(m: &ListMatcher, input: &Input<'_>) -> (bool, Reason) {
    with_user(input, |user| {
        verdict(
            m.matches(user.groups),
            Reason::GroupsOk,
            Reason::GroupsUnauthorized,
        )
    })
}

// === impl Claim ===

impl Claim {
    pub(super) fn compile(
        key: &Node,
        sub_path: &str,
        value: &Node,
        sink: &mut Sink<'_>,
    ) -> Option<Claim> {
        if sub_path.is_empty() || sub_path.split('/').any(str::is_empty) {
            sink.error(
                key,
                "needs a claim name: claim/<name>, or claim/<name>/<field> for nested claims",
            );
            return None;
        }
        Some(Claim {
            path: sub_path.split('/').map(Box::from).collect(),
            matcher: ListMatcher::compile(value, sink)?,
        })
    }

    /// The legacy `allowed_idp_claims` form: claim `name` has any of `matcher`'s values.
    pub(crate) fn legacy(name: &str, matcher: ListMatcher) -> Claim {
        Claim {
            path: Box::new([name.into()]),
            matcher,
        }
    }

    pub(super) fn evaluate(&self, input: &Input<'_>) -> (bool, Reason) {
        with_user(input, |user| {
            let value = user.claims.and_then(|claims| lookup(claims, &self.path));
            let items: &[Value] = match value {
                None | Some(Value::Null) => &[],
                Some(Value::Array(items)) => items,
                Some(scalar) => std::slice::from_ref(scalar),
            };
            verdict(
                self.matcher.matches(items),
                Reason::ClaimOk,
                Reason::ClaimUnauthorized,
            )
        })
    }
}

fn lookup<'a>(claims: &'a Map<String, Value>, path: &[Box<str>]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = claims.get(&**first)?;
    for segment in rest {
        value = value.as_object()?.get(&**segment)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{anonymous, compile, eval, signed_in};
    use crate::input::User;
    use crate::reasons::Reason::*;

    fn alice() -> User<'static> {
        static GROUPS: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| vec!["eng".into(), "admins".into()]);
        User {
            id: "u-123",
            email: Some("Alice@Example.com"),
            groups: &GROUPS,
            claims: None,
        }
    }

    #[test]
    fn every_identity_criterion_needs_a_user() {
        for yaml in [
            "email: a@b.c",
            "domain: b.c",
            "user: u",
            "groups: g",
            "claim/x: y",
            "authenticated_user: true",
        ] {
            assert_eq!(
                eval(yaml, &anonymous()),
                (false, UserUnauthenticated),
                "{yaml}"
            );
        }
    }

    #[test]
    fn email_and_domain_ignore_ascii_case() {
        let input = signed_in(alice());
        assert_eq!(eval("email: alice@example.com", &input), (true, EmailOk));
        assert_eq!(
            eval("email: {ends_with: '@EXAMPLE.COM'}", &input),
            (true, EmailOk)
        );
        assert_eq!(
            eval("email: bob@example.com", &input),
            (false, EmailUnauthorized)
        );
        assert_eq!(eval("domain: example.com", &input), (true, DomainOk));
        assert_eq!(eval("domain: {is: Example.COM}", &input), (true, DomainOk));
        assert_eq!(
            eval("domain: {in: [a.io, example.com]}", &input),
            (true, DomainOk)
        );
        assert_eq!(
            eval("domain: example.org", &input),
            (false, DomainUnauthorized)
        );
        assert_eq!(
            eval("domain: {ends_with: ample.com}", &input),
            (true, DomainOk)
        );
    }

    #[test]
    fn missing_email_fails_email_and_domain() {
        let input = signed_in(User {
            email: None,
            ..alice()
        });
        assert_eq!(
            eval("email: {not: x@y.z}", &input),
            (false, EmailUnauthorized)
        );
        assert_eq!(
            eval("domain: {not: y.z}", &input),
            (false, DomainUnauthorized)
        );
    }

    #[test]
    fn user_matches_the_id_case_sensitively() {
        let input = signed_in(alice());
        assert_eq!(eval("user: u-123", &input), (true, UserOk));
        assert_eq!(eval("user: U-123", &input), (false, UserUnauthorized));
        assert_eq!(eval("user: {starts_with: u-}", &input), (true, UserOk));
    }

    #[test]
    fn groups_use_the_list_matcher() {
        let input = signed_in(alice());
        assert_eq!(eval("groups: admins", &input), (true, GroupsOk));
        assert_eq!(
            eval("groups: {has: ops}", &input),
            (false, GroupsUnauthorized)
        );
        assert_eq!(
            eval("groups: {exclude: contractors}", &input),
            (true, GroupsOk)
        );
        assert_eq!(
            eval("groups: {is: [admins, eng]}", &input),
            (true, GroupsOk)
        );
    }

    #[test]
    fn claims_nested_listed_and_missing() {
        let claims = json!({
            "family_name": "Smith",
            "groups": ["admin", "dev"],
            "address": {"country": "NZ"},
            "level": 3,
            "verified": true,
            "nothing": null,
        });
        let claims: &'static _ = Box::leak(Box::new(claims.as_object().unwrap().clone()));
        let input = signed_in(User {
            claims: Some(claims),
            ..alice()
        });
        let cases = [
            ("claim/family_name: Smith", true),
            ("claim/family_name: smith", false),
            ("claim/groups: admin", true),
            ("claim/groups: {has: ops}", false),
            ("claim/groups: {is: [dev, admin]}", true),
            ("claim/groups: {exclude: contractor}", true),
            ("claim/address/country: NZ", true),
            ("claim/address/city: Paris", false),
            ("claim/family_name/x: Smith", false),
            ("claim/level: 3", true),
            ("claim/verified: true", true),
            ("claim/missing: {exclude: x}", true),
            ("claim/nothing: x", false),
            ("claim/missing: x", false),
        ];
        for (yaml, want) in cases {
            let (ok, reason) = eval(yaml, &input);
            assert_eq!(ok, want, "{yaml}");
            assert_eq!(reason, if want { ClaimOk } else { ClaimUnauthorized });
        }
        let no_claims = signed_in(alice());
        assert_eq!(eval("claim/x: y", &no_claims), (false, ClaimUnauthorized));
    }

    #[test]
    fn claim_needs_a_name() {
        for yaml in ["claim: x", "claim/: x", "claim/a//b: x"] {
            let errors = compile(yaml).unwrap_err();
            assert!(errors[0].message.contains("needs a claim name"), "{yaml}");
        }
    }
}
