//! `portcullis-load`: the load harness (see `benches/README.md`).
//!
//! The binary is also `portcullis` itself: `portcullis-load run --config FILE` runs the proxy
//! exactly as the real binary does, so the harness measures the code it was built from
//! without a second build.

fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some("run") {
        return portcullis::main();
    }
    portcullis_load::main()
}
