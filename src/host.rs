//! The host's name, as Falco finds it: `FALCO_HOSTNAME`, else the kernel's, else
//! `HOSTNAME`. Alerts carry it, and lease owners are named after it.

/// The host name.
pub fn hostname() -> String {
    std::env::var("FALCO_HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}
