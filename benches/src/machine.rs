//! The machine line printed in the output header.

/// The first `model name` in a `/proc/cpuinfo` text, if any.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let kb = line.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?;
        kb.trim().parse::<u64>().ok().map(|kb| kb * 1024)
    })
}

/// `machine: <cpu model>, nproc <n>, <memory> GiB, Linux <release>`, read at
/// run time from `/proc/cpuinfo`, [`std::thread::available_parallelism`],
/// `/proc/meminfo` and `/proc/sys/kernel/osrelease` (parts that cannot be
/// read are left out).
pub fn describe() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| cpu_model(&text))
        .unwrap_or_else(|| "unknown CPU".to_string());
    let nproc = std::thread::available_parallelism()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string());
    let mut line = format!("machine: {model}, nproc {nproc}");
    if let Some(bytes) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text))
    {
        line.push_str(&format!(", {:.1} GiB", bytes as f64 / (1u64 << 30) as f64));
    }
    if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        line.push_str(&format!(", Linux {}", release.trim()));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_model_name() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\
                    processor\t: 1\nmodel name\t: other\n";
        assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn reads_mem_total() {
        let text = "MemTotal:       24603220 kB\nMemFree:        1 kB\n";
        assert_eq!(mem_total(text), Some(24_603_220 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn describe_mentions_nproc() {
        assert!(describe().starts_with("machine: "));
        assert!(describe().contains(", nproc "));
    }
}
