//! The fuzz targets cannot rot: every target body (the `fuzzing` modules the one-line targets
//! in `fuzz/fuzz_targets/` call) runs over its seed corpus (`fuzz/corpus/<target>/seed-*`)
//! plus a few thousand deterministic mutations of it; then, when `cargo fuzz` is installed
//! (scripts/setup installs it), the real libFuzzer targets are built and each runs for a few
//! seconds. The long runs are a separate command (SECURITY.md, "Fuzzing").

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A target: its name (a `[[bin]]` of fuzz/Cargo.toml) and its body.
type Body = fn(&[u8]);

const TARGETS: [(&str, Body); 6] = [
    ("session_handle", portcullis_grpc::fuzzing::session_handle),
    ("service_token", portcullis_grpc::fuzzing::service_token),
    ("policy", portcullis_policy::fuzzing::policy),
    ("config", portcullis_config::fuzzing::config),
    ("path", portcullis_proxy::fuzzing::path),
    ("route", portcullis_proxy::fuzzing::route),
];

/// Mutations per target on top of the seeds.
const MUTATIONS: usize = 3_000;
/// How long each libFuzzer target runs. The smoke builds unoptimized (`--dev`): it compiles in
/// a fraction of the release build's time, and a few seconds of runs is all it is for.
const LIBFUZZER_SECONDS: u32 = 3;

/// Fragments that matter to these parsers, spliced into the seeds.
const TOKENS: [&[u8]; 16] = [
    b"%2e", b"%2F", b"%5c", b"..", b"/", b"\\", b"%", b"\n", b":", b"@", b".", b"=", b";", b"- ",
    b"{", b"*",
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut seeds: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        })
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "{} has no seed-* files", dir.display());
    seeds.into_iter().map(|(_, bytes)| bytes).collect()
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four edits of a seed: flip, insert a byte or a token, delete a range, splice.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(5) {
            0 if !data.is_empty() => {
                let i = at.min(data.len() - 1);
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, rng.next() as u8),
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            3 => {
                let end = (at + rng.below(8)).min(data.len());
                data.drain(at..end);
            }
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                let to = (from + rng.below(32)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
        }
    }
    data
}

#[test]
fn every_target_body_survives_its_seeds_and_their_mutations() {
    for (name, body) in TARGETS {
        let started = Instant::now();
        let seeds = seeds(name);
        for seed in &seeds {
            body(seed);
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ name.len() as u64);
        for i in 0..MUTATIONS {
            let input = mutate(&mut rng, &seeds);
            let outcome = std::panic::catch_unwind(|| body(&input));
            assert!(
                outcome.is_ok(),
                "{name}: mutation {i} failed; input {:?}",
                String::from_utf8_lossy(&input)
            );
        }
        eprintln!(
            "{name}: {} seeds + {MUTATIONS} mutations in {:?}",
            seeds.len(),
            started.elapsed()
        );
    }
}

/// `cargo fuzz` when it is installed (`cargo fuzz --version` works).
fn cargo_fuzz() -> Option<Command> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        return None;
    }
    let mut command = Command::new("cargo");
    command.arg("fuzz").current_dir(fuzz_dir());
    // libFuzzer's coverage flags are stable rustc options and `-s none` needs no sanitizer,
    // but cargo-fuzz asks for a nightly feature or two: let the stable compiler allow them.
    command.env("RUSTC_BOOTSTRAP", "1");
    // CI keeps its target directory outside the clone: the fuzz build lives beside it.
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        command.env("CARGO_TARGET_DIR", PathBuf::from(dir).join("fuzz"));
    }
    Some(command)
}

#[test]
fn libfuzzer_targets_build_and_run_for_seconds() {
    if cargo_fuzz().is_none() {
        eprintln!(
            "cargo-fuzz is not installed (scripts/setup installs it): libFuzzer runs skipped"
        );
        return;
    }
    let started = Instant::now();
    let status = cargo_fuzz()
        .unwrap()
        .args(["build", "--dev", "-s", "none"])
        .status()
        .expect("cargo fuzz build runs");
    assert!(status.success(), "cargo fuzz build --dev -s none failed");
    eprintln!("fuzz targets built in {:?}", started.elapsed());
    for (name, _) in TARGETS {
        let corpus = std::env::temp_dir().join(format!(
            "portcullis-fuzz-smoke-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&corpus).unwrap();
        let seeds = fuzz_dir().join("corpus").join(name);
        let output = cargo_fuzz()
            .unwrap()
            .args(["run", "--dev", "-s", "none", name])
            .arg(&corpus)
            .arg(&seeds)
            .args([
                "--",
                &format!("-max_total_time={LIBFUZZER_SECONDS}"),
                "-max_len=4096",
            ])
            .output()
            .expect("cargo fuzz run runs");
        let _ = std::fs::remove_dir_all(&corpus);
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{name} failed:\n{log}");
        let runs = log
            .lines()
            .rev()
            .find_map(|l| {
                l.strip_prefix("Done ")?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or_else(|| panic!("{name}: no `Done N runs` line:\n{log}"));
        assert!(runs > 100, "{name} ran only {runs} inputs");
        eprintln!("{name}: {runs} runs in {LIBFUZZER_SECONDS} s");
    }
}
