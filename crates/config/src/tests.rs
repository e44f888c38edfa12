use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use portcullis_yaml::Origin;

use super::*;

const SECRET: &str = "9OkZR6hwfmVD3a7Sfmgq58lUbFJGGz4hl/R9xbHFCAg=";

fn load_str(text: &str) -> Result<Config, ConfigError> {
    load_env(text, &[])
}

fn load_env(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    Config::from_sources(text, "test.yaml", &env)
}

fn problems(text: &str) -> Vec<Problem> {
    match load_str(text) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

const DATABROKER_ONLY: &str =
    "services: databroker\nshared_secret: 9OkZR6hwfmVD3a7Sfmgq58lUbFJGGz4hl/R9xbHFCAg=\n";

#[test]
fn pomerium_configuration_loads() {
    let text = include_str!("../tests/fixtures/pomerium.yaml");
    let config = load_str(text).unwrap();
    assert!(config.services.is_all());
    assert_eq!(
        config.address,
        "0.0.0.0:8443".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.cookie.name, "_pomerium");
    assert_eq!(config.cookie.expire, Duration::from_secs(8 * 3600));
    assert!(!config.shared_secret_generated);
    assert_eq!(
        config.idp.as_ref().unwrap().scopes,
        ["openid", "profile", "email", "offline_access"]
    );
    assert!(matches!(
        config.databroker_storage,
        StorageOptions::Postgres { .. }
    ));
    assert_eq!(
        config.jwt_claims_headers.get("X-Email").map(String::as_str),
        Some("email")
    );
    assert_eq!(config.routes.len(), 3);
    let grafana = &config.routes[1];
    assert_eq!(grafana.to.len(), 2);
    assert_eq!(grafana.to[0].weight, 2);
    assert_eq!(grafana.to[1].weight, 1);
    assert!(matches!(&grafana.path, PathMatch::Prefix(p) if p == "/api"));
    assert_eq!(grafana.timeout, Duration::from_secs(60));
    assert!(config.routes[0].pass_identity_headers);
    assert!(!grafana.pass_identity_headers);
    assert_eq!(config.routes[2].timeout, Duration::from_secs(30));
}

#[test]
fn defaults_follow_pomerium() {
    let config = load_str(
        "authenticate_service_url: https://auth.example.com\nidp_provider_url: https://idp.example.com\nidp_client_id: c\n",
    )
    .unwrap();
    assert!(config.services.is_all());
    assert_eq!(config.address.port(), 443);
    assert_eq!(config.grpc_address.port(), 5443);
    assert_eq!(config.cookie.name, "_portcullis");
    assert_eq!(config.cookie.expire, Duration::from_secs(14 * 3600));
    assert!(config.cookie.http_only && config.cookie.secure);
    assert_eq!(config.cookie.same_site, SameSite::Lax);
    assert_eq!(config.log_level, LogLevel::Info);
    assert_eq!(config.timeouts.default_upstream, Duration::from_secs(30));
    assert_eq!(config.timeouts.idle, Duration::from_secs(300));
    assert_eq!(config.dns_refresh_rate, Duration::from_secs(5));
    assert!(config.dns_resolvers.is_empty());
    assert_eq!(config.databroker_storage, StorageOptions::Memory);
    assert_eq!(config.idp.unwrap().provider, "oidc");
    // all-in-one makes its own secrets when none are given, and says so
    assert!(config.shared_secret_generated && config.cookie.secret_generated);
}

#[test]
fn split_roles_need_a_shared_secret() {
    let p = problems("services: databroker\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].key, "shared_secret");
    assert!(p[0].message.contains("gen-secret"));
}

#[test]
fn three_mistakes_are_all_reported_with_key_and_line() {
    let text =
        "services: databroker\nshared_secret: c2hvcnQ=\naddress: nowhere\nlog_levle: debug\n";
    let p = problems(text);
    let found: Vec<(&str, Option<Origin>)> = p
        .iter()
        .map(|p| (p.key.as_str(), p.origin.clone()))
        .collect();
    assert_eq!(
        found,
        [
            ("shared_secret", Some(Origin::Line(2))),
            ("address", Some(Origin::Line(3))),
            ("log_levle", Some(Origin::Line(4))),
        ],
        "{p:?}"
    );
    assert!(
        p[2].message.contains("did you mean `log_level`"),
        "{}",
        p[2].message
    );
    assert!(p[0].message.contains("32 bytes"), "{}", p[0].message);
    let err = load_str(text).unwrap_err().to_string();
    assert!(err.contains("test.yaml:3: address:"), "{err}");
}

#[test]
fn wrong_types_name_key_and_line() {
    let p = problems(&format!(
        "{DATABROKER_ONLY}insecure_server: maybe\nroutes:\n  - from: https://a.example.com\n    to: [http://a]\n    allow_websockets: [1]\n"
    ));
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].key, "insecure_server");
    assert_eq!(p[0].origin, Some(Origin::Line(3)));
    assert_eq!(p[1].key, "routes[0].allow_websockets");
    assert_eq!(p[1].origin, Some(Origin::Line(7)));
}

#[test]
fn pomerium_keys_not_supported_yet_say_so() {
    let p = problems(&format!("{DATABROKER_ONLY}autocert: true\n"));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].key, "autocert");
    assert!(
        p[0].message.contains("does not support yet"),
        "{}",
        p[0].message
    );
}

#[test]
fn environment_overrides_file_values() {
    let config = load_env(
        &format!("{DATABROKER_ONLY}log_level: debug\ngrpc_address: :5443\n"),
        &[
            ("LOG_LEVEL", "warn"),
            ("GRPC_ADDRESS", "127.0.0.1:0"),
            ("INSECURE_SERVER", "true"),
            ("PATH", "/bin"),
        ],
    )
    .unwrap();
    assert_eq!(config.log_level, LogLevel::Warn);
    assert_eq!(
        config.grpc_address,
        "127.0.0.1:0".parse::<SocketAddr>().unwrap()
    );
    assert!(config.insecure_server);
}

#[test]
fn environment_problems_name_the_variable() {
    let err = load_env(DATABROKER_ONLY, &[("COOKIE_EXPIRE", "soon")]).unwrap_err();
    let ConfigError::Invalid { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        problems[0].origin,
        Some(Origin::Env("COOKIE_EXPIRE".into()))
    );
    assert!(
        err.to_string()
            .contains("environment COOKIE_EXPIRE: cookie_expire:"),
        "{err}"
    );
}

#[test]
fn environment_can_give_lists_and_routes() {
    let routes = r#"[{"from": "https://a.example.com", "to": "http://a", "allow_public_unauthenticated_access": true}]"#;
    let config = load_env(
        "authenticate_service_url: https://auth.example.com\nidp_provider_url: https://idp.example.com\nidp_client_id: c\n",
        &[("IDP_SCOPES", "openid,email"), ("ROUTES", routes)],
    )
    .unwrap();
    assert_eq!(config.idp.unwrap().scopes, ["openid", "email"]);
    assert_eq!(config.routes.len(), 1);

    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(routes);
    let config = load_env(
        "authenticate_service_url: https://auth.example.com\nidp_provider_url: https://idp.example.com\nidp_client_id: c\n",
        &[("POLICY", &encoded)],
    )
    .unwrap();
    assert_eq!(config.routes[0].from.as_str(), "https://a.example.com/");
}

#[test]
fn secrets_come_from_file_variables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    let config = load_env(
        "services: databroker\nshared_secret: bm90IHRoaXMgb25l\n",
        &[("SHARED_SECRET_FILE", path.to_str().unwrap())],
    )
    .unwrap();
    assert_eq!(config.shared_secret.expose()[..3], [0xf4, 0xe9, 0x19]);

    let config = load_str(&format!(
        "services: databroker\nshared_secret_file: {}\n",
        path.display()
    ))
    .unwrap();
    assert!(!config.shared_secret_generated);

    let p = problems("services: databroker\nshared_secret_file: /nonexistent/secret\n");
    assert_eq!(p[0].key, "shared_secret_file");
    assert_eq!(p[0].origin, Some(Origin::Line(2)));
}

#[test]
fn secrets_never_print() {
    let text = include_str!("../tests/fixtures/pomerium.yaml");
    let config = load_str(text).unwrap();
    let debug = format!("{config:?}");
    for secret in [
        SECRET,
        "s3cr3t-client-value",
        "hunter2",
        "WwMtDXWaRDMBQCylle8OJ",
    ] {
        assert!(!debug.contains(secret), "{secret} printed");
    }
    assert!(debug.contains("[redacted]"));
}

#[test]
fn route_problems_are_all_reported() {
    let p = problems(&format!(
        "{DATABROKER_ONLY}routes:\n  - from: https://a.example.com/path\n    to: ftp://a\n    prefix: x\n  - to: http://b\n    path: /a\n    regex: /b\n"
    ));
    let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "routes[0].from",
            "routes[0].to",
            "routes[0].prefix",
            "routes[1].from",
            "routes[1].regex"
        ],
        "{p:?}"
    );
}

#[test]
fn duplicate_route_ids_are_rejected_and_derived_ids_are_stable() {
    let route = "  - from: https://a.example.com\n    to: http://a\n";
    let p = problems(&format!("{DATABROKER_ONLY}routes:\n{route}{route}"));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].key, "routes[1].id");
    let a = load_str(&format!("{DATABROKER_ONLY}routes:\n{route}")).unwrap();
    let b = load_str(&format!("{DATABROKER_ONLY}routes:\n{route}")).unwrap();
    assert_eq!(a.routes[0].id, b.routes[0].id);
    assert!(a.routes[0].id.starts_with("route-"));
}

#[test]
fn split_proxy_needs_its_peers() {
    let p = problems(&format!(
        "services: proxy\nshared_secret: {SECRET}\ncookie_secret: {SECRET}\nauthenticate_service_url: https://auth.example.com\n"
    ));
    let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["authorize_service_url", "databroker_service_url"]);
}

#[test]
fn syntax_errors_give_the_line() {
    let err = load_str("a: [1,\n").unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    assert!(err.to_string().contains("line"), "{err}");
}

#[test]
fn authorize_internal_service_url_wins_over_the_public_one() {
    let config = Config::from_sources(
        "services: proxy\nshared_secret: Wk5xUQHBgBQpF1k8mJWgqNqDrZJFvV0xMtWm3ZyBwAA=\n\
         cookie_secret: Wk5xUQHBgBQpF1k8mJWgqNqDrZJFvV0xMtWm3ZyBwAA=\n\
         authenticate_service_url: https://auth.example.com\n\
         authorize_service_url: https://authorize.example.com\n\
         authorize_internal_service_url: http://authorize.internal:5443\n\
         databroker_service_url: http://databroker.internal:5443\n",
        "t.yaml",
        &Default::default(),
    )
    .unwrap();
    let urls: Vec<&str> = config
        .authorize_service_urls
        .iter()
        .map(|u| u.as_str())
        .collect();
    assert_eq!(urls, ["http://authorize.internal:5443/"]);
}

#[test]
fn certificate_authority_inline_base64_or_file() {
    let pem = include_str!("../tests/fixtures/ca.pem");
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pem);
    let config = load_str(&format!("{DATABROKER_ONLY}certificate_authority: {b64}\n")).unwrap();
    assert_eq!(
        config.certificate_authority.as_deref(),
        Some(pem.as_bytes())
    );

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ca.pem");
    let config = load_str(&format!(
        "{DATABROKER_ONLY}certificate_authority_file: {path}\n"
    ))
    .unwrap();
    assert_eq!(
        config.certificate_authority.as_deref(),
        Some(pem.as_bytes())
    );

    let p = problems(&format!(
        "{DATABROKER_ONLY}certificate_authority: bm90IGEgcGVt\n"
    ));
    assert_eq!(p[0].key, "certificate_authority");
    assert!(p[0].origin.is_some());
    let p = problems(&format!(
        "{DATABROKER_ONLY}certificate_authority_file: /nonexistent/ca.pem\n"
    ));
    assert_eq!(p[0].key, "certificate_authority_file");
    assert!(p[0].message.contains("cannot read"), "{}", p[0].message);
}

#[test]
fn grpc_insecure_defaults_follow_pomerium() {
    let pomerium = load_str(include_str!("../tests/fixtures/pomerium.yaml")).unwrap();
    assert!(pomerium.grpc_insecure, "all-in-one: plain");
    assert!(
        !load_str(DATABROKER_ONLY).unwrap().grpc_insecure,
        "split: TLS"
    );
    let explicit = load_str(&format!("{DATABROKER_ONLY}grpc_insecure: true\n")).unwrap();
    assert!(explicit.grpc_insecure);
    // An explicit `false` without a certificate to serve cannot be honoured.
    let p = problems(&format!("{DATABROKER_ONLY}grpc_insecure: false\n"));
    assert_eq!(p[0].key, "grpc_insecure");
    assert_eq!(p[0].origin, Some(Origin::Line(3)));
}

#[test]
fn metrics_basic_auth_is_base64_of_user_and_password_and_never_printed() {
    let config = load_str(&format!(
        "{DATABROKER_ONLY}metrics_basic_auth: cHJvbTpodW50ZXIy\nshow_error_details: true\n"
    ))
    .unwrap();
    let pair = config.metrics_basic_auth.as_ref().unwrap();
    assert_eq!(pair.expose().as_slice(), b"prom:hunter2");
    assert!(config.show_error_details);
    assert!(!format!("{config:?}").contains("hunter2"));
    let p = problems(&format!(
        "{DATABROKER_ONLY}metrics_basic_auth: bm9jb2xvbg==\n"
    ));
    assert_eq!(p[0].key, "metrics_basic_auth");
}

#[test]
fn all_zero_and_short_secrets_are_refused_naming_key_and_line() {
    let zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let p = problems(&format!("services: databroker\nshared_secret: {zero}\n"));
    assert_eq!(p[0].key, "shared_secret");
    assert_eq!(p[0].origin, Some(Origin::Line(2)));
    assert!(p[0].message.contains("all zero"), "{}", p[0].message);
    let p = problems(&format!("{DATABROKER_ONLY}cookie_secret: c2hvcnQ=\n"));
    assert_eq!(p[0].key, "cookie_secret");
    assert_eq!(p[0].origin, Some(Origin::Line(3)));
    assert!(p[0].message.contains("32 bytes"), "{}", p[0].message);
    // From a file (`_FILE`): refused the same way, and the value is never echoed.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, zero).unwrap();
    let err = load_env(
        "services: databroker\n",
        &[("SHARED_SECRET_FILE", file.to_str().unwrap())],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("shared_secret") && err.contains("all zero"),
        "{err}"
    );
    assert!(!err.contains(zero), "{err}");
}

/// Found by the `config` fuzz target: an empty key (`: x`) made a problem with no key name.
#[test]
fn an_empty_key_is_named() {
    let p = problems(&format!("{DATABROKER_ONLY}\"\": 127.0.0.1\n"));
    assert_eq!(p[0].key, "\"\"");
    assert_eq!(p[0].origin, Some(Origin::Line(3)));
    assert!(p[0].message.contains("unknown key"), "{}", p[0].message);
    let p = problems(&format!("{DATABROKER_ONLY}: 127.0.0.1\n"));
    assert_eq!(p[0].key, "the configuration");
    assert_eq!(p[0].origin, Some(Origin::Line(3)));
    for problem in problems("? [a]\n: b\n") {
        assert!(!problem.key.is_empty(), "{problem:?}");
    }
}
