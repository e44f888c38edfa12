//! Why a decision came out the way it did, in Pomerium's vocabulary.
//!
//! Every criterion yields exactly one [`Reason`]; operators and actions take the union of the
//! reasons of the criteria that decided them. [`Reasons`] is a bitset, so collecting them never
//! allocates.

use std::fmt;

/// One reason a criterion held or failed. [`Reason::as_str`] gives Pomerium's name for it
/// (`email-ok`, `user-unauthenticated`, ...), which is what logs and deny pages show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Reason {
    /// `accept` held (it always does).
    Accept,
    /// `reject` failed (it always does).
    Reject,
    /// `authenticated_user` or `user` held.
    UserOk,
    /// `user` did not match the signed-in user's id.
    UserUnauthorized,
    /// A criterion needed a signed-in user and there was none: signing in may help (401).
    UserUnauthenticated,
    /// `email` matched.
    EmailOk,
    /// `email` did not match, or the user has no email.
    EmailUnauthorized,
    /// `domain` matched.
    DomainOk,
    /// `domain` did not match, or the user has no email.
    DomainUnauthorized,
    /// `groups` matched.
    GroupsOk,
    /// `groups` did not match.
    GroupsUnauthorized,
    /// `claim/<path>` matched.
    ClaimOk,
    /// `claim/<path>` did not match.
    ClaimUnauthorized,
    /// `http_method` matched.
    HttpMethodOk,
    /// `http_method` did not match.
    HttpMethodUnauthorized,
    /// `http_path` matched.
    HttpPathOk,
    /// `http_path` did not match.
    HttpPathUnauthorized,
    /// `cors_preflight`: the request is a CORS preflight.
    CorsRequest,
    /// `cors_preflight`: the request is not a CORS preflight.
    NonCorsRequest,
    /// `source_ip` matched.
    SourceIpOk,
    /// `source_ip` did not match, or the client address is unknown.
    SourceIpUnauthorized,
    /// `date` held.
    DateOk,
    /// `date` did not hold.
    DateUnauthorized,
    /// `day_of_week` held.
    DayOfWeekOk,
    /// `day_of_week` did not hold.
    DayOfWeekUnauthorized,
    /// `time_of_day` held.
    TimeOfDayOk,
    /// `time_of_day` did not hold.
    TimeOfDayUnauthorized,
    /// `client_certificate` matched.
    ClientCertificateOk,
    /// `client_certificate` did not match.
    ClientCertificateUnauthorized,
    /// `client_certificate`: the client presented no certificate.
    ClientCertificateRequired,
}

/// A set of [`Reason`]s. `Copy`, allocation-free; iterates in declaration order.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Reasons(u64);

/// Iterator over a [`Reasons`] set.
#[derive(Debug, Clone)]
pub struct ReasonsIter(u64);

// === impl Reason ===

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 30] = [
        Reason::Accept,
        Reason::Reject,
        Reason::UserOk,
        Reason::UserUnauthorized,
        Reason::UserUnauthenticated,
        Reason::EmailOk,
        Reason::EmailUnauthorized,
        Reason::DomainOk,
        Reason::DomainUnauthorized,
        Reason::GroupsOk,
        Reason::GroupsUnauthorized,
        Reason::ClaimOk,
        Reason::ClaimUnauthorized,
        Reason::HttpMethodOk,
        Reason::HttpMethodUnauthorized,
        Reason::HttpPathOk,
        Reason::HttpPathUnauthorized,
        Reason::CorsRequest,
        Reason::NonCorsRequest,
        Reason::SourceIpOk,
        Reason::SourceIpUnauthorized,
        Reason::DateOk,
        Reason::DateUnauthorized,
        Reason::DayOfWeekOk,
        Reason::DayOfWeekUnauthorized,
        Reason::TimeOfDayOk,
        Reason::TimeOfDayUnauthorized,
        Reason::ClientCertificateOk,
        Reason::ClientCertificateUnauthorized,
        Reason::ClientCertificateRequired,
    ];

    /// Pomerium's name for the reason.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Accept => "accept",
            Reason::Reject => "reject",
            Reason::UserOk => "user-ok",
            Reason::UserUnauthorized => "user-unauthorized",
            Reason::UserUnauthenticated => "user-unauthenticated",
            Reason::EmailOk => "email-ok",
            Reason::EmailUnauthorized => "email-unauthorized",
            Reason::DomainOk => "domain-ok",
            Reason::DomainUnauthorized => "domain-unauthorized",
            Reason::GroupsOk => "groups-ok",
            Reason::GroupsUnauthorized => "groups-unauthorized",
            Reason::ClaimOk => "claim-ok",
            Reason::ClaimUnauthorized => "claim-unauthorized",
            Reason::HttpMethodOk => "http-method-ok",
            Reason::HttpMethodUnauthorized => "http-method-unauthorized",
            Reason::HttpPathOk => "http-path-ok",
            Reason::HttpPathUnauthorized => "http-path-unauthorized",
            Reason::CorsRequest => "cors-request",
            Reason::NonCorsRequest => "non-cors-request",
            Reason::SourceIpOk => "source-ip-ok",
            Reason::SourceIpUnauthorized => "source-ip-unauthorized",
            Reason::DateOk => "date-ok",
            Reason::DateUnauthorized => "date-unauthorized",
            Reason::DayOfWeekOk => "day-of-week-ok",
            Reason::DayOfWeekUnauthorized => "day-of-week-unauthorized",
            Reason::TimeOfDayOk => "time-of-day-ok",
            Reason::TimeOfDayUnauthorized => "time-of-day-unauthorized",
            Reason::ClientCertificateOk => "client-certificate-ok",
            Reason::ClientCertificateUnauthorized => "client-certificate-unauthorized",
            Reason::ClientCertificateRequired => "client-certificate-required",
        }
    }

    /// The reason with the given Pomerium name.
    pub fn from_name(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }

    const fn bit(self) -> u64 {
        1 << self as u8
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl Reasons ===

impl Reasons {
    /// No reasons.
    pub const EMPTY: Reasons = Reasons(0);

    /// The set holding just `reason`.
    pub const fn one(reason: Reason) -> Reasons {
        Reasons(reason.bit())
    }

    /// Adds a reason.
    pub fn insert(&mut self, reason: Reason) {
        self.0 |= reason.bit();
    }

    /// True when the set holds `reason`.
    pub const fn contains(self, reason: Reason) -> bool {
        self.0 & reason.bit() != 0
    }

    /// Both sets together.
    #[must_use]
    pub const fn union(self, other: Reasons) -> Reasons {
        Reasons(self.0 | other.0)
    }

    /// True when the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many reasons the set holds.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The reasons, in declaration order.
    pub fn iter(self) -> ReasonsIter {
        ReasonsIter(self.0)
    }
}

impl FromIterator<Reason> for Reasons {
    fn from_iter<I: IntoIterator<Item = Reason>>(iter: I) -> Self {
        let mut set = Reasons::EMPTY;
        iter.into_iter().for_each(|r| set.insert(r));
        set
    }
}

impl IntoIterator for Reasons {
    type Item = Reason;
    type IntoIter = ReasonsIter;

    fn into_iter(self) -> ReasonsIter {
        self.iter()
    }
}

impl fmt::Debug for Reasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Reason::as_str))
            .finish()
    }
}

/// Comma-separated names, e.g. `email-ok, domain-ok`.
impl fmt::Display for Reasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, reason) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(reason.as_str())?;
        }
        Ok(())
    }
}

// === impl ReasonsIter ===

impl Iterator for ReasonsIter {
    type Item = Reason;

    fn next(&mut self) -> Option<Reason> {
        if self.0 == 0 {
            return None;
        }
        let index = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Reason::ALL.get(index).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order_and_names_round_trip() {
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, i, "{reason} out of order");
            assert_eq!(Reason::from_name(reason.as_str()), Some(reason));
        }
    }

    #[test]
    fn set_operations() {
        let mut set = Reasons::one(Reason::EmailOk);
        set.insert(Reason::Accept);
        set.insert(Reason::EmailOk);
        assert_eq!(set.len(), 2);
        assert!(set.contains(Reason::Accept) && !set.contains(Reason::Reject));
        assert_eq!(set.to_string(), "accept, email-ok");
        let both = set.union(Reasons::one(Reason::ClientCertificateRequired));
        assert_eq!(
            both.iter().collect::<Vec<_>>(),
            [
                Reason::Accept,
                Reason::EmailOk,
                Reason::ClientCertificateRequired
            ]
        );
        assert!(Reasons::EMPTY.is_empty() && Reasons::EMPTY.to_string().is_empty());
    }
}
