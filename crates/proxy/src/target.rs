//! What a request asks for: the host (from `:authority` / absolute-form, else `Host`), the
//! normalized path and the raw query. Anything unparsable is the client's fault (`400`).

use http::Request;
use http::uri::Authority;

use crate::normalize::{PathError, normalize};

/// The request target, parsed and normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `host` or `host:port` as the client gave it, lower-cased.
    pub(crate) authority: String,
    /// The host name, lower-cased, without port or trailing dot.
    pub(crate) host: String,
    /// The port, when the client gave one.
    pub(crate) port: Option<u16>,
    /// The normalized path (see [`crate::normalize`]).
    pub(crate) path: String,
    /// The query without `?`, as sent.
    pub(crate) query: Option<String>,
}

/// The target cannot be understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TargetError {
    /// Neither `:authority` nor `Host`.
    #[error("the request has no host")]
    NoHost,
    /// `Host` is not a host with an optional port.
    #[error("the request's host is invalid")]
    BadHost,
    /// The path could not be normalized.
    #[error(transparent)]
    Path(#[from] PathError),
}

// === impl Target ===

impl Target {
    /// Reads the target of `request`.
    pub(crate) fn of<B>(request: &Request<B>) -> Result<Target, TargetError> {
        let authority = match request.uri().authority() {
            Some(a) => a.clone(),
            None => {
                let host = request
                    .headers()
                    .get(http::header::HOST)
                    .ok_or(TargetError::NoHost)?;
                let text = host.to_str().map_err(|_| TargetError::BadHost)?;
                text.parse::<Authority>()
                    .map_err(|_| TargetError::BadHost)?
            }
        };
        let (host, port) = split_authority(&authority)?;
        let path = normalize(request.uri().path())?;
        Ok(Target {
            authority: authority.as_str().to_ascii_lowercase(),
            host,
            port,
            path,
            query: request.uri().query().map(str::to_owned),
        })
    }
}

/// Host name (lower-case, no trailing dot) and port of an authority without user info.
pub(crate) fn split_authority(authority: &Authority) -> Result<(String, Option<u16>), TargetError> {
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(TargetError::BadHost);
    }
    let host = authority.host().trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err(TargetError::BadHost);
    }
    let port = authority.port_u16();
    if port.is_none() && authority.as_str().len() != authority.host().len() {
        // `host:` or `host:99999`.
        return Err(TargetError::BadHost);
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(uri: &str, host: Option<&str>) -> Result<Target, TargetError> {
        let mut builder = Request::builder().uri(uri);
        if let Some(h) = host {
            builder = builder.header("host", h);
        }
        Target::of(&builder.body(()).unwrap())
    }

    #[test]
    fn host_comes_from_the_authority_then_host() {
        let t = target("/a/../b?x=1", Some("App.Example.com.:8443")).unwrap();
        assert_eq!(t.host, "app.example.com");
        assert_eq!(t.port, Some(8443));
        assert_eq!(t.path, "/b");
        assert_eq!(t.query.as_deref(), Some("x=1"));
        let t = target("https://h2.example.com/x", Some("other.example.com")).unwrap();
        assert_eq!(t.host, "h2.example.com");
        let t = target("/", Some("[::1]:80")).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("[::1]", Some(80)));
    }

    #[test]
    fn bad_hosts_are_client_errors() {
        assert_eq!(target("/", None), Err(TargetError::NoHost));
        assert_eq!(target("/", Some("a b")), Err(TargetError::BadHost));
        assert_eq!(target("/", Some("user@host")), Err(TargetError::BadHost));
        assert_eq!(target("/", Some("host:99999")), Err(TargetError::BadHost));
        assert_eq!(target("/", Some("host:")), Err(TargetError::BadHost));
        assert!(matches!(
            target("/%zz", Some("h")),
            Err(TargetError::Path(PathError::BadEscape))
        ));
    }
}
