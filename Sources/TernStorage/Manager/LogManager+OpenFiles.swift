import Synchronization

extension LogManager {
    /// The most segment log files the process keeps open (`log.max.open.files`): segments open
    /// their file on demand and the least recently used ones are closed past this budget. Shared
    /// by every log manager of the process. A file that a read, flush or `sendfile` is using
    /// when it is evicted closes when that ends.
    public static var maxOpenSegmentFiles: Int { SegmentFileCache.shared.budget }

    /// The most segment descriptors open at once, the cached ones and those that reads,
    /// flushes and fetch responses in flight hold: ``maxOpenSegmentFiles`` plus a quarter (at
    /// least 8). Reopening an evicted segment file past it fails with `descriptorsExhausted`
    /// (a fetch then answers that partition without records this time).
    public static var segmentFileOpenLimit: Int { SegmentFileCache.shared.openLimit }

    /// Sets ``maxOpenSegmentFiles`` (at least 1), closing files past it at once.
    public static func limitOpenSegmentFiles(to budget: Int) {
        SegmentFileCache.shared.budget = budget
    }

    /// The default budget: half the soft `RLIMIT_NOFILE` (at least 16), leaving the other half
    /// for connections, the metadata log and short-lived files.
    public static func defaultMaxOpenSegmentFiles() -> Int { SegmentFileCache.defaultBudget() }

    /// Segment log descriptors open now: those the cache keeps, plus any evicted one a read,
    /// flush or `sendfile` still holds (the gauge `tern_log_open_segment_files`).
    public static var openSegmentFiles: Int { SegmentFile.openCount.load(ordering: .relaxed) }

    /// Segment log files opened since start, counting each reopen after an eviction
    /// (`tern_log_segment_file_opens_total`): its rate shows the budget is too small for the
    /// segments in use.
    public static var segmentFileOpens: Int { SegmentFile.openedTotal.load(ordering: .relaxed) }
}
