//! The machine line printed in the output header.

/// The first `model name` in a `/proc/cpuinfo` text, if any.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// `machine: <cpu model>, nproc <n>`, read at run time from `/proc/cpuinfo`
/// and [`std::thread::available_parallelism`].
pub fn describe() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| cpu_model(&text))
        .unwrap_or_else(|| "unknown CPU".to_string());
    let nproc = std::thread::available_parallelism()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string());
    format!("machine: {model}, nproc {nproc}")
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
    fn describe_mentions_nproc() {
        assert!(describe().starts_with("machine: "));
        assert!(describe().contains(", nproc "));
    }
}
