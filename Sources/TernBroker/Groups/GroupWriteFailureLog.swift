import Dispatch
import Logging
import TernNet
import TernWire

/// Logs the group changes that could not be persisted, per `__consumer_offsets` partition, at a
/// bounded rate. Below `min.insync.replicas` every group write of a partition fails, and the
/// session timer retries its expiries every 100 ms: one line per failure would flood the log with
/// the same news. So the first failure of a partition is logged (at `warning`; `error` for a
/// storage failure, which takes the log offline), then at most one summary line per `interval`
/// with the failures held back (`tern_suppressed`), and one line when a change of that partition
/// persists again, with how long and how often it failed.
final class GroupWriteFailureLog: Sendable {
    /// What a call logged.
    enum Line: Hashable, Sendable {
        /// The partition's first failure.
        case first
        /// A later failure, with those held back since the last line.
        case summary(suppressed: Int)
        /// A change persisted after `failures` failures over `lastedMs`.
        case recovered(failures: Int, lastedMs: UInt64)
    }

    /// The least time between two lines of one partition.
    static let interval: UInt64 = 10_000_000_000

    private let logger: Logger
    private let intervalMs: UInt64
    private let limiter: KeyedLogLimiter<Int32>

    init(logger: Logger, intervalNanoseconds: UInt64 = GroupWriteFailureLog.interval) {
        self.logger = logger
        intervalMs = intervalNanoseconds / 1_000_000
        // One key per `__consumer_offsets` partition: never more than the topic has.
        limiter = KeyedLogLimiter(intervalNanoseconds: intervalNanoseconds, maxKeys: 4096)
    }

    /// A change of `group` on `partition` failed; `now` is a `DispatchTime` uptime in nanoseconds.
    /// - Returns: what was logged, nil when the line was held back.
    @discardableResult
    func failed(
        group: String, partition: Int32, _ failure: GroupStorageFailure,
        now: UInt64 = DispatchTime.now().uptimeNanoseconds
    ) -> Line? {
        guard let admitted = limiter.admit(partition, now: now) else { return nil }
        let level: Logger.Level = failure.code == .kafkaStorageError ? .error : .warning
        var metadata: Logger.Metadata = [
            "tern_group": "\(group)", "tern_partition": "\(partition)", "tern_error_code": "\(failure.code)",
            "error": "\(failure.message)",
        ]
        if admitted.first {
            metadata["tern_summary_interval_ms"] = "\(intervalMs)"
            logger.log(level: level, "cannot persist a group change", metadata: metadata)
            return .first
        }
        metadata["tern_suppressed"] = "\(admitted.suppressed)"
        metadata["tern_failures"] = "\(admitted.occurrences)"
        metadata["tern_failing_ms"] = "\((now > admitted.since ? now - admitted.since : 0) / 1_000_000)"
        logger.log(level: level, "group changes still cannot be persisted", metadata: metadata)
        return .summary(suppressed: admitted.suppressed)
    }

    /// A change on `partition` persisted: logs that it recovered when it had failed.
    /// - Returns: what was logged, nil when the partition had not failed.
    @discardableResult
    func persisted(partition: Int32, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Line? {
        guard let ended = limiter.end(partition, now: now) else { return nil }
        let lastedMs = ended.lasted / 1_000_000
        logger.info(
            "group changes of a __consumer_offsets partition persist again",
            metadata: [
                "tern_partition": "\(partition)", "tern_failures": "\(ended.occurrences)",
                "tern_suppressed": "\(ended.suppressed)", "tern_failing_ms": "\(lastedMs)",
            ])
        return .recovered(failures: ended.occurrences, lastedMs: lastedMs)
    }
}
