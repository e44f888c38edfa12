//! Resident memory of a process and its descendants, from `/proc`.

/// The sum of the peak resident set (`VmHWM`) of each process in `pids` and of their
/// descendants (nginx workers are children of the master), in KiB.
pub fn peak_kib(pids: &[u32]) -> anyhow::Result<u64> {
    sum_field(pids, "VmHWM:")
}

/// The sum of the current resident set (`VmRSS`) of `pids` and their descendants, in KiB.
pub fn current_kib(pids: &[u32]) -> anyhow::Result<u64> {
    sum_field(pids, "VmRSS:")
}

fn sum_field(pids: &[u32], field: &str) -> anyhow::Result<u64> {
    let mut total = 0;
    for pid in with_descendants(pids)? {
        let status = match std::fs::read_to_string(format!("/proc/{pid}/status")) {
            Ok(status) => status,
            // A process that exited in between has no memory to count.
            Err(_) => continue,
        };
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        total += kib;
    }
    Ok(total)
}

/// `pids` and every process whose parent chain leads to one of them.
fn with_descendants(pids: &[u32]) -> anyhow::Result<Vec<u32>> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let name = entry?.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(ppid) = parent(pid) {
            parents.push((pid, ppid));
        }
    }
    let mut found: Vec<u32> = pids.to_vec();
    let mut i = 0;
    while i < found.len() {
        let pid = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == pid)
                .map(|(child, _)| *child),
        );
        i += 1;
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// The parent of `pid` (field 4 of `/proc/PID/stat`, after the parenthesised command name).
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_resident_memory() {
        let me = std::process::id();
        let current = super::current_kib(&[me]).unwrap();
        let peak = super::peak_kib(&[me]).unwrap();
        assert!(current > 100, "{current} KiB");
        assert!(peak >= current, "peak {peak} < current {current}");
    }
}
