import TernStorage
import TernWire

extension Broker {
    /// DescribeLogDirs: per log directory, the logs of the requested topics (all when none are
    /// named; unknown ones are left out) with their size on disk, offsets, segment count and the
    /// cleaner's progress.
    func handleDescribeLogDirs(_ request: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
        let wanted = request.topics.isEmpty ? topics.all.map(\.name) : request.topics
        let uncleanable = cleaner?.uncleanablePartitions ?? [:]
        var byDir: [String: [DescribeLogDirsResponse.Topic]] = [:]
        for name in Set(wanted).sorted() {
            guard let topic = topics.topic(name) else { continue }
            var partitions: [String: [DescribeLogDirsResponse.Partition]] = [:]
            for partition in topic.localPartitions {
                let tp = TopicPartition(name, partition)
                guard let log = logManager.log(for: tp), let dir = logManager.logDir(for: tp) else { continue }
                partitions[dir, default: []].append(
                    .init(
                        partition: partition, sizeBytes: log.sizeInBytes, logStartOffset: log.logStartOffset,
                        logEndOffset: log.logEndOffset, segmentCount: Int32(clamping: log.segmentCount),
                        firstDirtyOffset: log.firstDirtyOffset, lastCleanedMs: log.lastCleanedMs,
                        cleanerError: uncleanable[tp]))
            }
            for (dir, entries) in partitions { byDir[dir, default: []].append(.init(name: name, partitions: entries)) }
        }
        return DescribeLogDirsResponse(
            logDirs: config.logDirs.map { DescribeLogDirsResponse.LogDir(path: $0, topics: byDir[$0] ?? []) })
    }
}
