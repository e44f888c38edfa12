//! The `portcullis` command line, linked into this package so end-to-end tests always run the
//! code under test (cargo builds it before this package's tests).

fn main() -> std::process::ExitCode {
    portcullis::main()
}
