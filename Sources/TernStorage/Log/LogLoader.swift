import Logging

/// Opens a partition directory: lists its segments, loads or rebuilds indexes, and after an
/// unclean stop scans from the recovery point and cuts the log at the first bad batch.
enum LogLoader {
    /// Returns the log and whether recovery truncated anything.
    static func load(
        _ tp: TopicPartition, directory: String, clean: Bool, recoveryPoint: Int64?, logStartOffset: Int64?,
        config: LogConfig, logger: Logger
    ) throws -> (PartitionLog, Bool) {
        var bases: [Int64] = []
        for name in try FileSystem.list(directory) {
            if name.hasSuffix(".tmp") || name.hasSuffix(".cleaned") || name.hasSuffix(".swap") {
                try FileSystem.unlink(directory + "/" + name)
                continue
            }
            guard name.hasSuffix(".log"), let base = Int64(name.dropLast(4)), base >= 0 else { continue }
            bases.append(base)
        }
        bases.sort()
        var segments: [Segment] = []
        var truncated = false
        var index = 0
        while index < bases.count {
            let base = bases[index]
            let nextBase = index + 1 < bases.count ? bases[index + 1] : Int64.max
            // Trust a segment's indexes when the stop was clean, or when it ends before the
            // recovery point; the last segment's tail is checked either way.
            let trusted = clean || (recoveryPoint.map { nextBase <= $0 } ?? false)
            let (segment, stop) = try Segment.open(
                directory: directory, baseOffset: base, trustIndexes: trusted, indexIntervalBytes: config.indexIntervalBytes)
            segments.append(segment)
            if let stop {
                truncated = true
                logger.warning(
                    "truncating \(segment.logPath) at position \(stop.position) (offset \(segment.nextOffset)): \(stop.reason)",
                    metadata: [
                        "tern_topic": "\(tp.topic)", "tern_partition": "\(tp.partition)", "file": "\(segment.logPath)",
                        "position": "\(stop.position)", "tern_offset": "\(segment.nextOffset)",
                    ])
                // Nothing after a torn batch can be trusted: later segments go.
                for later in bases[(index + 1)...] {
                    let doomed = Segment.name(later, "")
                    logger.warning("removing segment after the truncation point", metadata: ["file": "\(directory)/\(doomed).log"])
                    for suffix in [".log", ".index", ".timeindex"] { try FileSystem.unlink(directory + "/" + doomed + suffix) }
                }
                break
            }
            index += 1
        }
        // Drop empty segments that are not the last (a crash right after a roll).
        if segments.isEmpty {
            segments.append(try Segment.create(directory: directory, baseOffset: logStartOffset ?? 0))
            try FileSystem.fsyncDirectory(directory)
        }
        let last = segments[segments.count - 1]
        let end = last.nextOffset
        let start = min(max(logStartOffset ?? segments[0].baseOffset, segments[0].baseOffset), end)
        let log = PartitionLog(
            topicPartition: tp, directory: directory, segments: segments, logStartOffset: start,
            recoveryPoint: end, config: config, logger: logger)
        if truncated { try log.flush() }
        return (log, truncated)
    }
}
