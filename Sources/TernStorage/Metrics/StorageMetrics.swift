import CoreMetrics

#if canImport(Glibc)
import Glibc
#endif

/// The storage layer's metrics (docs/operations.md). Made on first use, after the daemon has
/// bootstrapped the metrics system; without one (library users, tests) they record nothing.
enum StorageMetrics {
    /// Flushes of a partition log that synced something.
    static let flushes = Counter(label: "tern_log_flushes_total")
    /// `fdatasync`/`fsync` calls made by flushes (segments, index files, directories).
    static let fsyncs = Counter(label: "tern_log_fsyncs_total")
    /// How long one flush's syncs took.
    static let flushDuration = CoreMetrics.Timer(label: "tern_log_flush_duration_seconds")

    /// Corrupt stretches of segment files (usually one batch each) that start-up recovery set
    /// aside in `.corrupt` files, keeping the batches after them.
    static let corruptBatches = Counter(label: "tern_log_corrupt_batches_total")
    /// Bytes of those stretches.
    static let corruptBytes = Counter(label: "tern_log_corrupt_bytes_total")
    /// Segments start-up recovery CRC-scanned (from the recovery point on).
    static let recoverySegmentsScanned = Counter(label: "tern_log_recovery_segments_scanned_total")
    /// Bytes start-up recovery read from segment files to check them.
    static let recoveryBytesRead = Counter(label: "tern_log_recovery_bytes_read_total")

    /// Counts one corrupt stretch of `bytes` set aside by recovery.
    static func recordCorrupt(bytes: Int64) {
        corruptBatches.increment()
        corruptBytes.increment(by: bytes)
    }

    /// Counts what start-up recovery read.
    static func recordRecovery(_ stats: RecoveryStats) {
        recoverySegmentsScanned.increment(by: stats.segmentsScanned)
        recoveryBytesRead.increment(by: stats.bytesRead)
    }

    /// Counts one flush that made `syncs` sync calls, begun at `startedAt` (``now()``).
    static func recordFlush(syncs: Int, startedAt: UInt64) {
        flushes.increment()
        fsyncs.increment(by: syncs)
        flushDuration.recordNanoseconds(Int64(clamping: now() &- startedAt))
    }

    /// Monotonic nanoseconds.
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
