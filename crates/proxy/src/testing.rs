//! Configurations for unit tests.

use std::collections::BTreeMap;

use portcullis_config::Config;

/// A proxy configuration whose `routes:` section is `routes` (YAML, indented by two).
pub(crate) fn config(routes: &str) -> Config {
    let yaml = format!(
        "services: proxy,authorize,databroker\n\
         insecure_server: true\n\
         shared_secret: KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=\n\
         cookie_secret: BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\
         authenticate_service_url: https://auth.example.com\n\
         routes:\n{routes}"
    );
    Config::from_sources(&yaml, "unit-test.yaml", &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// One public route from `app.example.com` to `to`.
pub(crate) fn route(to: &str) -> portcullis_config::Route {
    config(&format!(
        "  - from: https://app.example.com\n    to: {to}\n    allow_public_unauthenticated_access: true\n"
    ))
    .routes
    .remove(0)
}
