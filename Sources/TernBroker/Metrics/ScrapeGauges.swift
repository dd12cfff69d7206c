import CoreMetrics
import Synchronization
import TernNet
import TernRaft
import TernStorage

/// Gauges set when `/metrics` is scraped rather than on every change: per-partition log offsets
/// and size, consumer-group lag, open connections, and the process's memory and descriptors. One
/// pass over the logs per scrape; the series of a partition or group that has gone are removed.
final class ScrapeGauges: Sendable {
    private let reported: Mutex<Set<TopicPartition>> = Mutex([])
    /// Lag series published by the last scrape, as (group, topic-partition).
    private let reportedLag: Mutex<Set<GroupPartition>> = Mutex([])

    private struct GroupPartition: Hashable, Sendable {
        var group: String
        var tp: TopicPartition
    }
    private static let partitionGauges = ["tern_log_end_offset", "tern_log_start_offset", "tern_log_size_bytes"]

    /// Sets every scrape-time gauge from `broker`'s current state.
    func refresh(_ broker: Broker) {
        var seen = Set<TopicPartition>()
        var keyIndexBytes = 0
        for log in broker.logManager.allLogs {
            if log.isKeyIndexed { keyIndexBytes += log.keyIndexMemoryBytes }
            let tp = log.topicPartition
            seen.insert(tp)
            let dimensions = Self.dimensions(tp)
            Gauge(label: "tern_log_end_offset", dimensions: dimensions).record(log.logEndOffset)
            Gauge(label: "tern_log_start_offset", dimensions: dimensions).record(log.logStartOffset)
            Gauge(label: "tern_log_size_bytes", dimensions: dimensions).record(log.sizeInBytes)
        }
        for tp in Self.replace(reported, with: seen) {
            for label in Self.partitionGauges { Gauge(label: label, dimensions: Self.dimensions(tp)).destroy() }
        }
        // Consumer-group lag: log end offset minus the committed offset, for every committed
        // partition (so it grows while producers append and nobody commits).
        var lagSeen = Set<GroupPartition>()
        for (group, tp, offset) in broker.groupCoordinator.committedOffsets() {
            guard let log = broker.logManager.log(for: tp) else { continue }
            lagSeen.insert(GroupPartition(group: group, tp: tp))
            Gauge(label: "tern_consumer_group_lag", dimensions: Self.lagDimensions(group, tp))
                .record(max(0, log.logEndOffset - offset))
        }
        for gone in Self.replace(reportedLag, with: lagSeen) {
            Gauge(label: "tern_consumer_group_lag", dimensions: Self.lagDimensions(gone.group, gone.tp)).destroy()
        }
        for (listener, count) in broker.connectionCounts {
            Gauge(label: "tern_connections_open", dimensions: [("listener", listener)]).record(count)
        }
        Gauge(label: "tern_request_queued_bytes").record(broker.requestMemory?.usedBytes ?? 0)
        Gauge(label: "tern_request_memory_waiting_connections").record(broker.requestMemory?.waitingCount ?? 0)
        Gauge(label: "tern_topics").record(broker.topics.all.count)
        Gauge(label: "tern_partitions").record(seen.count)
        let process = ProcessStatistics.read()
        Gauge(label: "process_resident_memory_bytes").record(process.residentMemoryBytes)
        Gauge(label: "process_virtual_memory_bytes").record(process.virtualMemoryBytes)
        Gauge(label: "process_open_fds").record(process.openFileDescriptors)
        Gauge(label: "process_max_fds").record(process.maxFileDescriptors)
        Gauge(label: "tern_uptime_seconds").record(broker.uptimeSeconds)
        Gauge(label: "tern_log_key_index_memory_bytes").record(keyIndexBytes)
        let quorum = broker.cluster.quorumStatus
        // An observer (a broker-only node) is a follower that never votes: 5, told apart.
        let raftRoleCode: Int =
            switch quorum.role {
            case .unattached: 0
            case .prospective: 1
            case .candidate: 2
            case .follower: 3
            case .leader: 4
            }
        let roleCode = quorum.isObserver ? 5 : raftRoleCode
        Gauge(label: "tern_quorum_role").record(roleCode)
        Gauge(label: "tern_quorum_epoch").record(quorum.epoch)
        Gauge(label: "tern_quorum_high_watermark").record(quorum.highWatermark)
        Gauge(label: "tern_quorum_commit_lag").record(max(0, quorum.logEndOffset - quorum.highWatermark))
        Gauge(label: "tern_quorum_has_leader").record(quorum.leaderId == nil ? 0 : 1)
        let image = broker.cluster.image
        Gauge(label: "tern_cluster_brokers").record(image.brokers.count)
        Gauge(label: "tern_cluster_fenced_brokers").record(image.brokers.values.filter(\.fenced).count)
        let partitions = image.partitionHealth(nodeId: broker.config.nodeId)
        Gauge(label: "tern_under_replicated_partitions").record(partitions.underReplicatedLed)
        Gauge(label: "tern_offline_partitions").record(partitions.offline)
        let lag = broker.maxFollowerLag()
        Gauge(label: "tern_replica_max_lag").record(lag.records)
        Gauge(label: "tern_replica_max_lag_seconds").record(Double(lag.ms) / 1000)
        Gauge(label: "tern_log_open_segment_files").record(LogManager.openSegmentFiles)
        Gauge(label: "tern_log_open_segment_files_limit").record(LogManager.maxOpenSegmentFiles)
        Gauge(label: "tern_log_segment_file_opens").record(LogManager.segmentFileOpens)
    }

    /// Makes `seen` the series published now; returns those published last time and gone since.
    private static func replace<Key: Hashable & Sendable>(
        _ reported: borrowing Mutex<Set<Key>>, with seen: Set<Key>
    ) -> Set<Key> {
        reported.withLock { reported in
            defer { reported = seen }
            return reported.subtracting(seen)
        }
    }

    private static func lagDimensions(_ group: String, _ tp: TopicPartition) -> [(String, String)] {
        [("group", group), ("topic", tp.topic), ("partition", "\(tp.partition)")]
    }

    private static func dimensions(_ tp: TopicPartition) -> [(String, String)] {
        [("topic", tp.topic), ("partition", "\(tp.partition)")]
    }
}
