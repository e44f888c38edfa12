//! Every file in `deploy/` parses for its tool, the Kubernetes objects hang together (selectors,
//! probe ports, referenced ConfigMaps and Secrets, headless gRPC Services) and every embedded
//! portcullis configuration validates for the role that runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Every YAML document of `file`, through PyYAML (an independent parser).
fn documents(file: &Path) -> Vec<Value> {
    let script = "import json, sys, yaml\n\
                  print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("python3 runs (scripts/setup installs PyYAML)");
    assert!(
        out.status.success(),
        "{} does not parse: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `portcullis validate` of `config` for `services`, with secrets from the environment.
fn validates(config: &str, services: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portcullis.yaml");
    std::fs::write(&file, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["validate", "--config", file.to_str().unwrap()])
        .env("SERVICES", services)
        .env(
            "SHARED_SECRET",
            "Wk5xUQHBgBQpF1k8mJWgqNqDrZJFvV0xMtWm3ZyBwAA=",
        )
        .env(
            "COOKIE_SECRET",
            "q3q2o4RZ0V4pRcGJUe2mVqO5zN7XJ2lKc8vY6d1sH0U=",
        )
        .env("IDP_CLIENT_SECRET", "idp-secret")
        .env(
            "DATABROKER_STORAGE_CONNECTION_STRING",
            "postgres://portcullis@db/portcullis",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the configuration does not validate for {services}:\n{}{config}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn kubernetes_gateway_objects_hang_together_and_configs_validate() {
    let dir = deploy().join("kubernetes/gateway");
    let kustomization = &documents(&dir.join("kustomization.yaml"))[0];
    let mut docs = Vec::new();
    for resource in kustomization["resources"].as_array().unwrap() {
        docs.extend(documents(&dir.join(resource.as_str().unwrap())));
    }
    let config = kind(&docs, "ConfigMap")[0]["data"]["portcullis.yaml"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = kind(&docs, "Secret")[0];
    let deployments = kind(&docs, "Deployment");
    assert_eq!(deployments.len(), 4);
    for deployment in &deployments {
        let labels = &deployment["spec"]["template"]["metadata"]["labels"];
        assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let role = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "SERVICES")
            .unwrap()["value"]
            .as_str()
            .unwrap();
        assert_eq!(labels["app.kubernetes.io/component"], role);
        assert_eq!(
            container["envFrom"][0]["secretRef"]["name"],
            secret["metadata"]["name"]
        );
        for probe in ["readinessProbe", "livenessProbe"] {
            let port = &container[probe]["httpGet"]["port"];
            if port.is_string() {
                assert_eq!(&container["ports"][0]["name"], port, "{role} {probe}");
            } else {
                assert_eq!(
                    container[probe]["grpc"]["port"],
                    container["ports"][0]["containerPort"]
                );
            }
        }
        let name = deployment["metadata"]["name"].as_str().unwrap();
        let service = kind(&docs, "Service")
            .into_iter()
            .find(|s| s["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no Service for {name}"));
        assert_eq!(&service["spec"]["selector"], labels);
        if matches!(role, "authorize" | "databroker") {
            assert_eq!(service["spec"]["clusterIP"], "None", "{role} is headless");
            assert!(config.contains(&format!("{name}.portcullis.svc")));
        }
        assert!(
            kind(&docs, "PodDisruptionBudget")
                .iter()
                .any(|p| &p["spec"]["selector"]["matchLabels"] == labels),
            "{role} has a PodDisruptionBudget"
        );
        validates(&config, role);
    }
    let scaled: Vec<&str> = kind(&docs, "HorizontalPodAutoscaler")
        .iter()
        .map(|h| h["spec"]["scaleTargetRef"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(scaled, ["portcullis-authorize", "portcullis-proxy"]);
}

#[test]
fn kubernetes_sidecar_and_compose_configs_validate() {
    let dir = deploy().join("kubernetes/sidecar");
    let config = documents(&dir.join("config.yaml"));
    let app = documents(&dir.join("app.yaml"));
    let containers = &kind(&app, "Deployment")[0]["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().unwrap().len(), 2);
    assert_eq!(
        kind(&app, "Service")[0]["spec"]["ports"][0]["targetPort"],
        "http"
    );
    validates(
        config[0]["data"]["portcullis.yaml"].as_str().unwrap(),
        "proxy",
    );

    let compose = documents(&deploy().join("compose/compose.yaml"));
    let services = compose[0]["services"].as_object().unwrap();
    let shared = std::fs::read_to_string(deploy().join("compose/portcullis.yaml")).unwrap();
    for role in ["databroker", "authorize", "authenticate", "proxy"] {
        assert_eq!(services[role]["environment"]["SERVICES"], role);
        assert_eq!(services[role]["image"], services["proxy"]["image"]);
        validates(&shared, role);
    }
}

#[test]
fn example_configurations_validate_for_their_roles() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    for (file, role) in [
        ("proxy.yaml", "proxy"),
        ("authorize.yaml", "authorize"),
        ("authenticate.yaml", "authenticate"),
        ("databroker.yaml", "databroker"),
    ] {
        validates(&std::fs::read_to_string(dir.join(file)).unwrap(), role);
    }
}
