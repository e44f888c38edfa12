//! The `portcullis` executable; see the `portcullis` library for what it does.

fn main() -> std::process::ExitCode {
    portcullis::main()
}
