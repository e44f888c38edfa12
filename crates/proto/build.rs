//! Generates the tonic/prost code for every package under `proto/`.
//!
//! `protoc` comes from `protoc-bin-vendored`, so the build needs nothing the
//! machine does not already have. Add new `.proto` files to `PROTOS`.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "portcullis/databroker/v1/databroker.proto",
    "portcullis/session/v1/session.proto",
    "portcullis/user/v1/user.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let protos: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let includes = [root, protoc_bin_vendored::include_path()?];
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .compile_with_config(config, &protos, &includes)?;
    Ok(())
}
