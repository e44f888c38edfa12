//! The session cookie's `Set-Cookie` values, written the same way by authenticate (on its own
//! host) and by the proxy (on route hosts): `cookie_name`, `Path=/`, `Max-Age` =
//! `cookie_expire`, `Secure`, `HttpOnly` and `SameSite` as configured (secure by default),
//! `Domain` only when `cookie_domain` is set.

use std::time::Duration;

use portcullis_config::{CookieOptions, SameSite};

/// Writes `Set-Cookie` values for one cookie name and attribute set.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    name: String,
    attributes: String,
    max_age: Duration,
}

// === impl SessionCookie ===

impl SessionCookie {
    /// The session cookie as `options` configure it.
    pub fn new(options: &CookieOptions) -> SessionCookie {
        SessionCookie::named(&options.name, options)
    }

    /// Another cookie (a CSRF cookie, say) with the session cookie's attributes.
    pub fn named(name: &str, options: &CookieOptions) -> SessionCookie {
        let mut attributes = String::from("; Path=/");
        if let Some(domain) = &options.domain {
            attributes.push_str("; Domain=");
            attributes.push_str(domain);
        }
        if options.secure {
            attributes.push_str("; Secure");
        }
        if options.http_only {
            attributes.push_str("; HttpOnly");
        }
        attributes.push_str(match options.same_site {
            SameSite::Lax => "; SameSite=Lax",
            SameSite::Strict => "; SameSite=Strict",
            SameSite::None => "; SameSite=None",
        });
        SessionCookie {
            name: name.to_owned(),
            attributes,
            max_age: options.expire,
        }
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Set-Cookie` for `value` living `cookie_expire`.
    pub fn set(&self, value: &str) -> String {
        self.set_for(value, self.max_age)
    }

    /// `Set-Cookie` for `value` living `max_age`.
    pub fn set_for(&self, value: &str, max_age: Duration) -> String {
        format!(
            "{}={value}{}; Max-Age={}",
            self.name,
            self.attributes,
            max_age.as_secs()
        )
    }

    /// `Set-Cookie` that deletes the cookie.
    pub fn clear(&self) -> String {
        format!(
            "{}={}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            self.name, self.attributes
        )
    }

    /// This cookie's value among the request's `Cookie` header values.
    pub fn find<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        cookie_headers
            .into_iter()
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == self.name)
            .map(|(_, value)| value.trim_matches('"'))
            .filter(|v| !v.is_empty())
    }
}
