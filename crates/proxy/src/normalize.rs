//! Path normalization: one spelling per path, so that the route match, the policy and the
//! upstream all see the same thing (design §3, "normalize path").
//!
//! 1. Percent-encoded unreserved characters (`%41`, `%2e`, `%7E`, ...) are decoded, and so
//!    are encoded slashes (`%2F`) and backslashes (`%5C`); every other escape is kept with
//!    upper-case hex digits. A `%` without two hex digits is an error.
//! 2. Backslashes become slashes (some upstreams treat them as separators).
//! 3. Runs of slashes collapse to one.
//! 4. Dot segments are resolved (RFC 3986 §5.2.4); `..` never climbs above the root.
//!
//! So `/a/../admin`, `//admin`, `/%2e%2e/admin` and `/%61dmin` all become `/admin`, and
//! `/admin%2f` becomes `/admin/`. The result is what the upstream receives.

/// The path cannot be normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PathError {
    /// The path does not start with `/` (`*`, or an authority-form target).
    #[error("the request target is not an absolute path")]
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    #[error("the path has an invalid percent-encoding")]
    BadEscape,
}

/// The normalized form of `raw` (a path without query).
pub(crate) fn normalize(raw: &str) -> Result<String, PathError> {
    if !raw.starts_with('/') && !raw.starts_with('\\') {
        return Err(PathError::NotAbsolute);
    }
    let decoded = decode(raw)?;
    let trailing = decoded.ends_with('/');
    let mut segments: Vec<&str> = Vec::new();
    let mut last_was_dot = false;
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        last_was_dot = true;
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => {
                segments.push(s);
                last_was_dot = false;
            }
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if segments.is_empty() || trailing || last_was_dot {
        out.push('/');
    }
    Ok(out)
}

/// Step 1 and 2: decode what must be decoded, upper-case the rest, `\` → `/`.
fn decode(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                    return Err(PathError::BadEscape);
                };
                let byte = (hi * 16 + lo) as u8;
                if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
                    out.push(byte as char);
                } else if byte == b'\\' {
                    out.push('/');
                } else {
                    out.push('%');
                    out.push_str(&format!("{byte:02X}"));
                }
                i += 3;
            }
            b'\\' => {
                out.push('/');
                i += 1;
            }
            _ => {
                // Copy the run up to the next `%` or `\` (keeps multi-byte UTF-8 whole).
                let end = bytes[i..]
                    .iter()
                    .position(|b| *b == b'%' || *b == b'\\')
                    .map_or(bytes.len(), |p| i + p);
                out.push_str(&raw[i..end]);
                i = end;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: &str) -> String {
        normalize(raw).unwrap()
    }

    #[test]
    fn tricks_become_the_plain_path() {
        for trick in [
            "/admin",
            "/a/../admin",
            "//admin",
            "/%2e%2e/admin",
            "/%2E%2E/admin",
            "/./admin",
            "/x/%2e%2e%2fadmin",
            "/%61dmin",
            "/x/..%2Fadmin",
            "/x/..%5cadmin",
            "\\admin",
            "/x\\..\\admin",
            "/../../admin",
            "/x/.%2e/admin",
        ] {
            assert_eq!(n(trick), "/admin", "{trick}");
        }
        assert_eq!(n("/admin%2f"), "/admin/");
        assert_eq!(n("/admin%2F/"), "/admin/");
    }

    #[test]
    fn ordinary_paths_keep_their_shape() {
        assert_eq!(n("/"), "/");
        assert_eq!(n("/a/b/"), "/a/b/");
        assert_eq!(n("/a/b"), "/a/b");
        assert_eq!(n("/a/b/.."), "/a/");
        assert_eq!(n("/a/."), "/a/");
        assert_eq!(n("/.."), "/");
        assert_eq!(n("/a%20b"), "/a%20b");
        assert_eq!(n("/a%3fb"), "/a%3Fb", "other escapes stay, upper-cased");
        assert_eq!(n("/%25252e"), "/%25252e", "no double decoding");
        assert_eq!(n("/ünï"), "/ünï");
    }

    #[test]
    fn bad_targets_are_errors() {
        assert_eq!(normalize("*"), Err(PathError::NotAbsolute));
        assert_eq!(normalize("example.com:443"), Err(PathError::NotAbsolute));
        assert_eq!(normalize("/a%2"), Err(PathError::BadEscape));
        assert_eq!(normalize("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(normalize("/a%"), Err(PathError::BadEscape));
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        for raw in ["/a/../b//c/./d%2f", "/%2e/x%20y/", "/a%25b", "/"] {
            let once = n(raw);
            assert_eq!(n(&once), once, "{raw}");
        }
    }
}
