//! The harness in smoke mode (a few seconds, small numbers) so it cannot rot: every system
//! starts, a signed-in user's requests reach the upstream through each, and the report has
//! every figure. The full run is `cargo run --release -p portcullis-load` (benches/README.md).

use portcullis_load::{Options, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_run_measures_every_system() {
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_portcullis-load"));
    let report = run(Options::smoke(exe)).await.expect("the harness runs");
    for system in ["direct", "nginx", "all-in-one", "split"] {
        let throughput = report
            .throughput(system)
            .unwrap_or_else(|| panic!("{system} was measured"));
        assert!(
            throughput.requests > 0 && throughput.per_second > 0.0,
            "{system}: {throughput:?}"
        );
        let latency = report.fixed_rate(system).expect("fixed-rate run");
        assert_eq!(latency.failed, 0, "{system}: {latency:?}");
        assert!(latency.sent >= 150, "{system}: {latency:?}");
    }
    let memory = report.memory.expect("memory measured");
    assert!(
        memory.idle_kib > 1024 && memory.with_sessions_kib > memory.idle_kib / 2,
        "{memory:?}"
    );
    let table = report.markdown();
    assert!(
        table.contains("| all-in-one |") && table.contains("vs nginx"),
        "{table}"
    );
}
