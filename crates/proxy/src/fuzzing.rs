//! Fuzz target bodies (`fuzz/fuzz_targets/{path,route}.rs`, and the workspace smoke test over
//! the seed corpus). Not an API: arbitrary bytes must never panic the path normalizer, the
//! target parser or the route matcher, and no spelling of a path may slip past a route
//! earlier in the table.

use std::sync::OnceLock;

use http::Request;

use crate::normalize::normalize;
use crate::routes::RouteTable;
use crate::target::Target;
use crate::upstream::SharedClients;

/// The path normalizer: the output is one canonical spelling — absolute, no empty, `.` or
/// `..` segments, no backslash, escapes only for bytes that are not unreserved, in upper
/// case — and normalizing it again changes nothing.
pub fn path(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(out) = normalize(raw) else {
        return;
    };
    assert!(out.starts_with('/'), "{raw:?} → {out:?}");
    assert!(!out.contains('\\'), "{raw:?} → {out:?}");
    assert!(!out.contains("//"), "{raw:?} → {out:?}");
    for segment in out.split('/') {
        assert!(segment != "." && segment != "..", "{raw:?} → {out:?}");
    }
    let bytes = out.as_bytes();
    for (i, _) in out.match_indices('%') {
        let hex = &bytes[i + 1..i + 3];
        assert!(
            hex.iter()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
            "{raw:?} → {out:?}"
        );
        let byte = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16)
            .unwrap_or_else(|_| panic!("{raw:?} → {out:?}"));
        assert!(
            !(byte.is_ascii_alphanumeric() || b"-._~/\\".contains(&byte)),
            "{raw:?} → {out:?}: an escape that should have been decoded"
        );
    }
    assert_eq!(normalize(&out).as_deref(), Ok(out.as_str()), "{raw:?}");
}

/// The routes the route target matches against: an admin prefix before a catch-all on one
/// host, an exact path, a regex, wildcards and an explicit port.
const ROUTES: &str = "
  - {id: admin, from: https://app.example.com, prefix: /admin, to: http://127.0.0.1:1, allowed_users: [root@example.com]}
  - {id: exact, from: https://app.example.com, path: /exact, to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
  - {id: regex, from: https://app.example.com, regex: '^/r/[0-9]+$', to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
  - {id: rest, from: https://app.example.com, to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
  - {id: wild, from: https://*.example.com, to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
  - {id: port, from: https://port.example.com:8443, to: http://127.0.0.1:1, allow_public_unauthenticated_access: true}
";

fn table() -> &'static RouteTable {
    static TABLE: OnceLock<RouteTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let yaml = format!(
            "services: proxy,authorize,databroker\n\
             insecure_server: true\n\
             shared_secret: WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n\
             cookie_secret: WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n\
             authenticate_service_url: https://auth.example.com\n\
             routes:\n{ROUTES}"
        );
        let config = portcullis_config::Config::from_sources(
            &yaml,
            "fuzz.yaml",
            &std::collections::BTreeMap::new(),
        )
        .expect("the fuzz routes are valid");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let _entered = runtime.enter();
        RouteTable::new(&config.routes, &SharedClients::new()).expect("the fuzz routes compile")
    })
}

/// The route matcher, fed the way the pipeline feeds it: the input is `host\npath` (the path
/// may be absolute-form), parsed into a [`Target`] and matched. On `app.example.com` at the
/// default port, a path the `admin` prefix covers always matches `admin`, and only such a
/// path does; a matched route's host pattern really covers the host.
pub fn route(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (host, uri) = text.split_once('\n').unwrap_or((text, "/"));
    let Ok(request) = Request::get(uri).header("host", host).body(()) else {
        return;
    };
    let Ok(target) = Target::of(&request) else {
        return;
    };
    assert_eq!(target.host, target.host.to_ascii_lowercase());
    assert!(!target.host.ends_with('.'), "{text:?}");
    let routes = table().host(&target.host, target.port);
    let found = routes.find(&target.path).map(|r| r.route.id.as_str());
    let default_port = matches!(target.port, None | Some(443));
    if target.host == "app.example.com" && default_port {
        let covered = target.path.starts_with("/admin");
        assert_eq!(found == Some("admin"), covered, "{text:?} → {target:?}");
    }
    match found {
        Some("admin" | "exact" | "regex" | "rest") => {
            assert_eq!(target.host, "app.example.com", "{text:?}");
        }
        Some("wild") => {
            let rest = target.host.strip_suffix(".example.com");
            assert!(
                rest.is_some_and(|label| !label.is_empty() && !label.contains('.')),
                "{text:?} → {target:?}"
            );
        }
        Some("port") => assert_eq!(target.port, Some(8443), "{text:?}"),
        Some(other) => panic!("unknown route {other}"),
        None => {}
    }
}
