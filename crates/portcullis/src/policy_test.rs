//! `portcullis policy test`: evaluate a route's policy against a request and an identity given
//! as flags or JSON, and print the decision with its reasons. People debug access with this.
//!
//! ```text
//! $ portcullis policy test -c portcullis.yaml --url https://app.example.com/admin \
//!       --email ann@example.com --groups eng,admins
//! allow
//!   route:   app (https://app.example.com/)
//!   reasons: email-ok, groups-ok
//! ```
//! Exit status: 0 on allow, 1 on deny.

use std::io::Read as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use portcullis_config::{Config, PathMatch, Route};
use portcullis_policy::{Decision, OwnedInput, OwnedUser, parse_time};

/// Evaluate a route's policy against a request and identity given as flags or JSON; print
/// allow or deny and the reasons. Exit status 0 on allow, 1 on deny.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PolicyTestArgs {
    /// The configuration file.
    #[command(flatten)]
    pub(crate) config: crate::cli::ConfigArgs,
    /// The route: its `id`, its `from` URL, or its index in `routes` (0-based). Default: the
    /// first route whose `from` host and path rule match `--url`.
    #[arg(long)]
    pub(crate) route: Option<String>,
    /// The whole request URL (sets the path, and picks the route when `--route` is absent).
    #[arg(long, conflicts_with = "path")]
    pub(crate) url: Option<String>,
    /// The request path.
    #[arg(long)]
    pub(crate) path: Option<String>,
    /// The request method [default: GET, or the one in --input].
    #[arg(long)]
    pub(crate) method: Option<String>,
    /// The client IP address.
    #[arg(long)]
    pub(crate) ip: Option<IpAddr>,
    /// A request header, `Name: value` (repeatable), e.g. for CORS preflights.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// The signed-in user's email (any identity flag makes the request signed in).
    #[arg(long)]
    pub(crate) email: Option<String>,
    /// The signed-in user's id.
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// The signed-in user's groups, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub(crate) groups: Vec<String>,
    /// The signed-in user's claims as a JSON object, e.g. '{"family_name": "Smith"}'.
    #[arg(long)]
    pub(crate) claims: Option<String>,
    /// The whole request and identity as JSON (`-` for stdin); flags override its fields.
    /// Shape: {"user": {"id", "email", "groups", "claims"}, "request": {"method", "path",
    /// "ip", "headers", "client_certificate": {"fingerprint", "spki_hash", "san_dns",
    /// "san_email", "san_uri"}}, "time"}.
    #[arg(long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// Evaluate at this time (RFC 3339) [default: now].
    #[arg(long)]
    pub(crate) time: Option<String>,
}

/// Evaluates and prints; exit status 0 on allow, 1 on deny.
pub(crate) fn run(args: &PolicyTestArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let owned = build_input(args, read_input_file)?;
    let route = select_route(args, config)?;
    let decision = route.policy.evaluate(&owned.input(SystemTime::now()));
    print!("{}", report(route, &decision));
    Ok(if decision.allow {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The `--input` document (if any) with the flags laid over it.
fn build_input(
    args: &PolicyTestArgs,
    read: impl FnOnce(&std::path::Path) -> anyhow::Result<String>,
) -> anyhow::Result<OwnedInput> {
    let mut owned = match &args.input {
        Some(path) => {
            let text = read(path)?;
            OwnedInput::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => OwnedInput::default(),
    };
    let request = &mut owned.request;
    if let Some(url) = &args.url {
        request.path = url_parts(url)?.path.to_owned();
    }
    if let Some(path) = &args.path {
        request.path.clone_from(path);
    }
    if let Some(method) = &args.method {
        request.method = method.to_ascii_uppercase();
    }
    if let Some(ip) = args.ip {
        request.ip = Some(ip);
    }
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            bail!("--header {header:?}: expected `Name: value`");
        };
        request
            .headers
            .insert(name.trim().to_owned(), value.trim().to_owned());
    }
    let has_identity_flag = args.email.is_some()
        || args.user.is_some()
        || !args.groups.is_empty()
        || args.claims.is_some();
    if has_identity_flag {
        let user = owned.user.get_or_insert_with(OwnedUser::default);
        if let Some(email) = &args.email {
            user.email = Some(email.clone());
        }
        if let Some(id) = &args.user {
            user.id.clone_from(id);
        }
        if !args.groups.is_empty() {
            user.groups = args.groups.iter().map(|g| g.trim().to_owned()).collect();
        }
        if let Some(claims) = &args.claims {
            let input = OwnedInput::from_json(&format!("{{\"user\": {{\"claims\": {claims}}}}}"))
                .map_err(|e| anyhow::anyhow!("--claims: expected a JSON object ({e})"))?;
            user.claims = input.user.unwrap_or_default().claims;
        }
    }
    if let Some(time) = &args.time {
        owned.time = Some(parse_time(time).context("--time")?);
    }
    Ok(owned)
}

fn read_input_file(path: &std::path::Path) -> anyhow::Result<String> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading --input from stdin")?;
    } else {
        text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --input {}", path.display()))?;
    }
    Ok(text)
}

/// The route named by `--route`, or else the first one `--url` falls under.
fn select_route<'c>(args: &PolicyTestArgs, config: &'c Config) -> anyhow::Result<&'c Route> {
    let routes = &config.routes;
    if let Some(wanted) = &args.route {
        let by_id = routes.iter().find(|r| r.id == *wanted);
        let by_from = || {
            routes
                .iter()
                .find(|r| r.from.as_str().trim_end_matches('/') == wanted.trim_end_matches('/'))
        };
        let by_index = || wanted.parse::<usize>().ok().and_then(|i| routes.get(i));
        return by_id.or_else(by_from).or_else(by_index).ok_or_else(|| {
            anyhow::anyhow!("no route has id, from or index {wanted:?}{}", list(routes))
        });
    }
    let Some(url) = &args.url else {
        bail!(
            "say which route: --route <id | from URL | index>, or --url{}",
            list(routes)
        );
    };
    let parts = url_parts(url)?;
    routes
        .iter()
        .find(|r| {
            r.from.scheme() == parts.scheme
                && r.from.host_str() == Some(parts.host.as_str())
                && r.from.port_or_known_default() == Some(parts.port)
                && path_matches(&r.path, parts.path)
        })
        .ok_or_else(|| anyhow::anyhow!("no route matches {url}{}", list(routes)))
}

fn path_matches(rule: &PathMatch, path: &str) -> bool {
    match rule {
        PathMatch::Any => true,
        PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
        PathMatch::Exact(exact) => path == exact,
        PathMatch::Regex(regex) => regex.is_match(path),
    }
}

fn list(routes: &[Route]) -> String {
    if routes.is_empty() {
        return " (the configuration has no routes)".into();
    }
    let lines: Vec<String> = routes
        .iter()
        .enumerate()
        .map(|(i, r)| format!("\n  [{i}] {} ({})", r.id, r.from))
        .collect();
    format!("; routes:{}", lines.concat())
}

/// What `--url` says: scheme, lower-cased host, port (explicit or the scheme's), path.
#[derive(Debug, PartialEq)]
struct UrlParts<'u> {
    scheme: String,
    host: String,
    port: u16,
    path: &'u str,
}

fn url_parts(url: &str) -> anyhow::Result<UrlParts<'_>> {
    let bad = || anyhow::anyhow!("--url {url:?}: expected an absolute http(s) URL");
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(bad()),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().map_err(|_| bad())?),
        _ => (authority, default_port),
    };
    if host.is_empty() {
        return Err(bad());
    }
    let path = tail.split(['?', '#']).next().unwrap_or_default();
    Ok(UrlParts {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        path: if path.is_empty() { "/" } else { path },
    })
}

/// The printed decision.
fn report(route: &Route, decision: &Decision) -> String {
    let why = match (
        decision.allow,
        decision.deny_matched,
        decision.requires_login,
    ) {
        (true, _, _) => "",
        (false, _, true) => " (sign-in required)",
        (false, true, false) => " (a deny rule matched)",
        (false, false, false) if route.policy.denies_all() => " (the policy allows nothing)",
        (false, false, false) => " (no allow rule matched)",
    };
    let reasons = if decision.reasons.is_empty() {
        "(none)".to_owned()
    } else {
        decision.reasons.to_string()
    };
    format!(
        "{}{why}\n  route:   {} ({})\n  reasons: {reasons}\n",
        decision.verdict(),
        route.id,
        route.from
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use clap::Parser as _;
    use portcullis_policy::Reason;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: PolicyTestArgs,
    }

    fn args(flags: &[&str]) -> PolicyTestArgs {
        let argv = std::iter::once("policy-test").chain(flags.iter().copied());
        Cli::try_parse_from(argv).unwrap().args
    }

    fn no_file(_: &Path) -> anyhow::Result<String> {
        panic!("no --input was given")
    }

    fn config() -> Config {
        let text = r#"
authenticate_service_url: https://auth.example.com
idp_provider_url: https://idp.example.com
idp_client_id: c
routes:
  - id: admin
    from: https://app.example.com
    prefix: /admin
    to: http://admin:8080
    policy:
      allow:
        and:
          - email: {ends_with: "@example.com"}
          - groups: {has: admins}
      deny:
        or:
          - http_method: DELETE
  - from: https://app.example.com
    to: http://app:8080
    allow_any_authenticated_user: true
  - id: public
    from: https://www.example.com:8443
    to: http://www:8080
    allow_public_unauthenticated_access: true
"#;
        Config::from_sources(text, "test.yaml", &BTreeMap::new()).unwrap()
    }

    fn decide(flags: &[&str]) -> (String, Decision) {
        let config = config();
        let args = args(flags);
        let owned = build_input(&args, no_file).unwrap();
        let route = select_route(&args, &config).unwrap();
        let decision = route.policy.evaluate(&owned.input(SystemTime::now()));
        (route.id.clone(), decision)
    }

    #[test]
    fn flags_build_the_input() {
        let owned = build_input(
            &args(&[
                "--url",
                "https://app.example.com/admin/users?page=2",
                "--method",
                "post",
                "--ip",
                "10.0.0.1",
                "--header",
                "Origin: https://x",
                "--email",
                "a@b.c",
                "--groups",
                "eng, ops",
                "--claims",
                r#"{"level": 3}"#,
                "--time",
                "2024-01-01T00:00:00Z",
            ]),
            no_file,
        )
        .unwrap();
        assert_eq!(owned.request.path, "/admin/users");
        assert_eq!(owned.request.method, "POST");
        assert_eq!(owned.request.header("origin"), Some("https://x"));
        let user = owned.user.unwrap();
        assert_eq!(user.email.as_deref(), Some("a@b.c"));
        assert_eq!(user.groups, ["eng", "ops"]);
        assert_eq!(user.claims["level"], 3);
        assert_eq!(
            owned.time,
            Some(parse_time("2024-01-01T00:00:00Z").unwrap())
        );
        assert!(build_input(&args(&[]), no_file).unwrap().user.is_none());
    }

    #[test]
    fn flags_override_the_input_document() {
        let json = r#"{"user": {"id": "u1", "email": "old@x.io"}, "request": {"method": "PUT", "path": "/a"}}"#;
        let owned = build_input(
            &args(&["--input", "in.json", "--email", "new@x.io"]),
            |path| {
                assert_eq!(path, Path::new("in.json"));
                Ok(json.to_owned())
            },
        )
        .unwrap();
        let user = owned.user.unwrap();
        assert_eq!(
            (user.id.as_str(), user.email.as_deref()),
            ("u1", Some("new@x.io"))
        );
        assert_eq!(
            (owned.request.method.as_str(), owned.request.path.as_str()),
            ("PUT", "/a")
        );
    }

    #[test]
    fn bad_flags_are_explained() {
        let err = |flags: &[&str]| build_input(&args(flags), no_file).unwrap_err().to_string();
        assert!(err(&["--header", "Origin"]).contains("expected `Name: value`"));
        assert!(err(&["--claims", "[1]"]).starts_with("--claims: expected a JSON object"));
        assert!(err(&["--url", "app.example.com/x"]).contains("expected an absolute http(s) URL"));
        let bad_json = build_input(&args(&["--input", "x.json"]), |_| Ok("{\"usr\": 1}".into()));
        assert!(bad_json.unwrap_err().to_string().starts_with("x.json: "));
    }

    #[test]
    fn routes_by_id_from_index_or_url() {
        let config = config();
        let pick = |flags: &[&str]| select_route(&args(flags), &config).map(|r| r.id.clone());
        assert_eq!(pick(&["--route", "admin"]).unwrap(), "admin");
        assert_eq!(
            pick(&["--route", "https://www.example.com:8443"]).unwrap(),
            "public"
        );
        assert_eq!(pick(&["--route", "2"]).unwrap(), "public");
        assert_eq!(
            pick(&["--url", "https://APP.example.com/admin/x"]).unwrap(),
            "admin"
        );
        assert_eq!(
            pick(&["--url", "https://app.example.com:443/home"]).unwrap(),
            config.routes[1].id
        );
        assert_eq!(
            pick(&["--url", "https://www.example.com:8443/"]).unwrap(),
            "public"
        );
        let missing = pick(&["--url", "https://www.example.com/"])
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("no route matches") && missing.contains("[2] public"),
            "{missing}"
        );
        assert!(
            pick(&[])
                .unwrap_err()
                .to_string()
                .starts_with("say which route")
        );
        assert!(pick(&["--route", "nope"]).is_err());
    }

    #[test]
    fn decisions_and_reports() {
        let url = "https://app.example.com/admin";
        let (route, allowed) = decide(&[
            "--url",
            url,
            "--email",
            "ann@example.com",
            "--groups",
            "admins",
        ]);
        assert_eq!(route, "admin");
        assert!(allowed.allow);
        assert!(
            allowed.reasons.contains(Reason::EmailOk) && allowed.reasons.contains(Reason::GroupsOk)
        );

        let (_, anonymous) = decide(&["--url", url]);
        assert!(!anonymous.allow && anonymous.requires_login);

        let (_, delete) = decide(&[
            "--url",
            url,
            "--method",
            "DELETE",
            "--email",
            "ann@example.com",
            "--groups",
            "admins",
        ]);
        assert!(!delete.allow && delete.deny_matched);

        let config = config();
        let text = report(&config.routes[0], &delete);
        assert_eq!(
            text,
            "deny (a deny rule matched)\n  route:   admin (https://app.example.com/)\n  reasons: http-method-ok\n"
        );
        assert!(report(&config.routes[0], &anonymous).starts_with("deny (sign-in required)\n"));
        assert!(report(&config.routes[0], &allowed).starts_with("allow\n"));
    }

    #[test]
    fn url_parts_read_host_port_and_path() {
        let parts = url_parts("http://user@Host.Example:8080?q#f").unwrap();
        assert_eq!(
            parts,
            UrlParts {
                scheme: "http".into(),
                host: "host.example".into(),
                port: 8080,
                path: "/"
            }
        );
        assert_eq!(url_parts("https://[::1]/p").unwrap().host, "[::1]");
        assert_eq!(url_parts("https://[::1]:9/p").unwrap().port, 9);
        assert!(url_parts("ftp://x/").is_err() && url_parts("https://:80/").is_err());
    }
}
