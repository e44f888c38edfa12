//! Who signs in: whatever the login form says. Any well-formed email is accepted.

use ring::digest;

const MAX_EMAIL: usize = 254;
const MAX_GROUP: usize = 256;
const MAX_GROUPS: usize = 64;

/// The user a login form names, as every token and userinfo response states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// Stable for an email (case-insensitive) across logins and restarts.
    pub(crate) sub: String,
    pub(crate) email: String,
    /// The email's local part.
    pub(crate) name: String,
    pub(crate) groups: Vec<String>,
}

/// The login form's input is unusable; the message is shown on the form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IdentityError {
    #[error("enter an email address such as alice@example.com")]
    Email,
    #[error(
        "groups are separated by commas; at most {MAX_GROUPS}, each at most {MAX_GROUP} characters"
    )]
    Groups,
}

// === impl Identity ===

impl Identity {
    /// The identity the form fields `email` and `groups` (comma-separated) describe.
    pub(crate) fn from_form(email: &str, groups: &str) -> Result<Identity, IdentityError> {
        let email = email.trim();
        let valid = email.len() <= MAX_EMAIL
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email
                .rsplit_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
        if !valid {
            return Err(IdentityError::Email);
        }
        let (local, _) = email.rsplit_once('@').ok_or(IdentityError::Email)?;
        Ok(Identity {
            sub: subject(email),
            email: email.to_owned(),
            name: local.to_owned(),
            groups: parse_groups(groups)?,
        })
    }
}

/// `dev-` and 128 bits of SHA-256 over the lower-cased email, in hex.
fn subject(email: &str) -> String {
    let input = format!("portcullis-dev:{}", email.to_lowercase());
    let hash = digest::digest(&digest::SHA256, input.as_bytes());
    let hex: String = hash.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("dev-{hex}")
}

fn parse_groups(text: &str) -> Result<Vec<String>, IdentityError> {
    let mut groups: Vec<String> = Vec::new();
    for group in text.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        if group.len() > MAX_GROUP || group.chars().any(char::is_control) {
            return Err(IdentityError::Groups);
        }
        if !groups.iter().any(|g| g == group) {
            groups.push(group.to_owned());
        }
    }
    if groups.len() > MAX_GROUPS {
        return Err(IdentityError::Groups);
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_email_signs_in_with_a_stable_subject() {
        let a = Identity::from_form("  Alice@Example.com ", "").unwrap();
        let b = Identity::from_form("alice@example.com", "admins").unwrap();
        assert_eq!(a.email, "Alice@Example.com");
        assert_eq!(a.name, "Alice");
        assert_eq!(a.sub, b.sub, "the subject ignores case");
        assert!(a.sub.starts_with("dev-") && a.sub.len() == 36);
        let c = Identity::from_form("bob@example.com", "").unwrap();
        assert_ne!(a.sub, c.sub);
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a b@example.com",
            "a@b\nc",
        ] {
            assert_eq!(
                Identity::from_form(bad, ""),
                Err(IdentityError::Email),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Identity::from_form(&long, ""), Err(IdentityError::Email));
    }

    #[test]
    fn groups_are_trimmed_deduplicated_and_bounded() {
        let id = Identity::from_form("a@b", " admins, ,devs,admins ,").unwrap();
        assert_eq!(id.groups, ["admins", "devs"]);
        let many = (0..65)
            .map(|i| format!("g{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            Identity::from_form("a@b", &many),
            Err(IdentityError::Groups)
        );
        assert_eq!(
            Identity::from_form("a@b", &"g".repeat(257)),
            Err(IdentityError::Groups)
        );
    }
}
