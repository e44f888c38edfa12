//! Pomerium keys that portcullis knows of but does not implement yet. A Pomerium user's
//! configuration that uses one fails with a message saying exactly that, never silently.

/// Returns a note (starting with `: ` or empty) when `key` is such a key.
pub(crate) fn unsupported(key: &str) -> Option<&'static str> {
    UNSUPPORTED
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, note)| *note)
}

const UNSUPPORTED: &[(&str, &str)] = &[
    ("autocert", ": use `certificates` or `certificate_file`"),
    ("autocert_dir", ""),
    ("autocert_must_staple", ""),
    ("autocert_use_staging", ""),
    ("autocert_ca", ""),
    ("autocert_email", ""),
    ("autocert_eab_key_id", ""),
    ("autocert_eab_mac_key", ""),
    ("autocert_trusted_ca", ""),
    ("client_ca", ""),
    ("client_ca_file", ""),
    ("client_crl", ""),
    ("downstream_mtls", ""),
    ("tracing_provider", ""),
    ("tracing_sample_rate", ""),
    ("tracing_otlp_endpoint", ""),
    ("tracing_jaeger_collector_endpoint", ""),
    ("tracing_zipkin_endpoint", ""),
    ("jwt_issuer_format", ""),
    ("jwt_groups_filter", ""),
    (
        "codec_type",
        ": portcullis negotiates HTTP/1.1 and HTTP/2 itself",
    ),
    ("envoy_admin_address", ": portcullis has no Envoy inside"),
    (
        "envoy_admin_access_log_path",
        ": portcullis has no Envoy inside",
    ),
    (
        "envoy_admin_profile_path",
        ": portcullis has no Envoy inside",
    ),
    ("idp_service_account", ""),
    ("idp_refresh_directory_interval", ""),
    ("idp_refresh_directory_timeout", ""),
    ("idp_request_params", ""),
    ("request_params", ""),
    ("xff_num_trusted_hops", ""),
    ("use_proxy_protocol", ""),
    ("skip_xff_append", ""),
    ("proxy_log_level", ": use `log_level`"),
    ("authorize_log_fields", ""),
    ("access_log_fields", ""),
    ("grpc_client_timeout", ""),
    (
        "grpc_client_dns_roundrobin",
        ": portcullis always balances over every DNS address",
    ),
    (
        "databroker_storage_cert_file",
        ": put TLS options in the connection string",
    ),
    (
        "databroker_storage_key_file",
        ": put TLS options in the connection string",
    ),
    (
        "databroker_storage_ca_file",
        ": put TLS options in the connection string",
    ),
    ("databroker_storage_cert_skip_verify", ""),
    ("programmatic_redirect_domain_whitelist", ""),
    ("headers", ": use `set_response_headers`"),
    ("http3_advertise_port", ""),
    ("metrics_certificate", ""),
    ("metrics_client_ca", ""),
    ("google_cloud_serverless_authentication_service_account", ""),
    (
        "authenticate_callback_path",
        ": the callback is always /oauth2/callback",
    ),
    (
        "forward_auth_url",
        ": forward-auth is served at /.portcullis/verify on every route host",
    ),
    // route keys
    ("allowed_groups", ": use a `policy` with `groups`"),
    ("host_rewrite_header", ""),
    ("host_path_regex_rewrite_pattern", ""),
    ("host_path_regex_rewrite_substitution", ""),
    ("regex_priority_order", ""),
    ("load_balancing_policy", ""),
    ("health_checks", ""),
    ("kubernetes_service_account_token", ""),
    ("kubernetes_service_account_token_file", ""),
    ("tls_downstream_client_ca", ""),
    ("tls_downstream_client_ca_file", ""),
    ("tls_downstream_server_name", ""),
    ("tls_upstream_allow_renegotiation", ""),
    ("enable_google_cloud_serverless_authentication", ""),
    ("idp_access_token_allowed_audiences", ""),
    ("upstream_tunnel", ""),
    ("rewrite_response_headers", ""),
    ("depends_on", ""),
    ("logo_url", ""),
    ("allow_spdy", ""),
    ("response", ""),
    ("redirect", ""),
    ("bearer_token_format", ""),
];
