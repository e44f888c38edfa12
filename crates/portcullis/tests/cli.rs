//! The command line as a user runs it: the real executable, real files.

use std::process::Command;

fn portcullis(args: &[&str]) -> std::process::Output {
    portcullis_env(args, &[])
}

fn portcullis_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env_remove("SHARED_SECRET")
        .envs(env.iter().copied())
        .output()
        .expect("the portcullis executable runs")
}

#[test]
fn validate_reports_every_mistake_with_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "services: databroker\nshared_secret: c2hvcnQ=\naddress: nowhere\nlog_levle: debug\n",
    )
    .unwrap();
    let out = portcullis(&["validate", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let name = file.display();
    for expected in [
        format!("{name}:2: shared_secret: must decode to 32 bytes"),
        format!("{name}:3: address: \"nowhere\" is not a listen address"),
        format!("{name}:4: log_levle: unknown key (did you mean `log_level`?)"),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(stderr.starts_with("3 problems"), "{stderr}");
}

#[test]
fn validate_accepts_the_shipped_examples() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config");
    let mut checked = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            // The examples take their secrets from the environment, as deployments do.
            let secret = "9OkZR6hwfmVD3a7Sfmgq58lUbFJGGz4hl/R9xbHFCAg=";
            let env = [
                ("SHARED_SECRET", secret),
                ("COOKIE_SECRET", secret),
                (
                    "DATABROKER_STORAGE_CONNECTION_STRING",
                    "postgres://portcullis@db/portcullis",
                ),
            ];
            let out = portcullis_env(&["validate", "--config", path.to_str().unwrap()], &env);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "only {checked} example configurations found");
}

#[test]
fn gen_secret_prints_32_random_bytes() {
    let a = portcullis(&["gen-secret"]);
    let b = portcullis(&["gen-secret"]);
    assert!(a.status.success());
    let a = String::from_utf8(a.stdout).unwrap();
    assert_eq!(a.trim().len(), 44, "{a:?}");
    assert_ne!(a, String::from_utf8(b.stdout).unwrap());
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = portcullis(&["validate", "--config", "/nonexistent/portcullis.yaml"]);
    assert_eq!(out.status.code(), Some(66));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/portcullis.yaml")
    );
}

#[test]
fn policy_test_explains_a_decision() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.yaml");
    std::fs::write(
        &file,
        "services: databroker\nshared_secret: 9OkZR6hwfmVD3a7Sfmgq58lUbFJGGz4hl/R9xbHFCAg=\n\
         routes:\n  - from: https://app.example.com\n    to: http://127.0.0.1:1\n    policy:\n      \
         - allow:\n          or:\n            - domain:\n                is: example.com\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let args = |email: &str| {
        let url = "https://app.example.com/x";
        portcullis(&[
            "policy", "test", "-c", config, "--url", url, "--email", email,
        ])
    };
    let allowed = args("ann@example.com");
    let stdout = String::from_utf8_lossy(&allowed.stdout);
    assert_eq!(allowed.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("allow") && stdout.contains("domain-ok"),
        "{stdout}"
    );

    let denied = args("eve@evil.example");
    let stdout = String::from_utf8_lossy(&denied.stdout);
    assert_eq!(denied.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("deny") && stdout.contains("domain-unauthorized"),
        "{stdout}"
    );
}

#[test]
fn validate_names_the_line_of_a_bad_policy_criterion() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::write(
        &file,
        "services: databroker\nshared_secret: 9OkZR6hwfmVD3a7Sfmgq58lUbFJGGz4hl/R9xbHFCAg=\n\
         routes:\n  - from: https://app.example.com\n    to: http://127.0.0.1:1\n    policy:\n      \
         - allow:\n          or:\n            - emial: ann@example.com\n",
    )
    .unwrap();
    let out = portcullis(&["validate", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(":9: routes[0].policy:"), "{stderr}");
    assert!(stderr.contains("emial"), "{stderr}");
}
