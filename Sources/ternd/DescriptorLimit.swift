import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The process's descriptor limit. Segment files are opened on demand within a budget derived
/// from it (`log.max.open.files`), and every connection takes one, so `ternd` raises its soft
/// `RLIMIT_NOFILE` to the hard limit at start (what `LimitNOFILE=` in the systemd unit or
/// `docker run --ulimit nofile=` set) and logs both values.
enum DescriptorLimit {
    /// Raises the soft limit to the hard one and logs the result (a warning when it cannot).
    static func raise(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            logger.warning("cannot read the descriptor limit (RLIMIT_NOFILE)", metadata: ["error": "errno \(errno)"])
            return
        }
        let before = limit.rlim_cur
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 {
                limit = raised
            } else {
                logger.warning(
                    "cannot raise the soft descriptor limit to the hard limit",
                    metadata: [
                        "tern_nofile_soft": "\(describe(before))", "tern_nofile_hard": "\(describe(limit.rlim_max))",
                        "error": "errno \(errno)",
                    ])
            }
        }
        logger.info(
            "descriptor limit (RLIMIT_NOFILE)",
            metadata: [
                "tern_nofile_soft": "\(describe(limit.rlim_cur))", "tern_nofile_hard": "\(describe(limit.rlim_max))",
                "tern_nofile_soft_at_start": "\(describe(before))",
            ])
    }

    private static func describe(_ value: rlim_t) -> String {
        value == rlim_t.max ? "unlimited" : "\(value)"  // RLIM_INFINITY (all ones) does not import
    }
}
