import ArgumentParser
import TernClient

/// `tern topic describe NAME [--json]`.
struct TopicDescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract:
            "Show a topic's partitions (leader, leader epoch, replicas, in-sync replicas, log start and end offset, "
            + "size on disk, last compaction), each replica's lag behind its leader, and configs.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The topic's name.")
    var name: String

    @Flag(
        help: """
            Print JSON: {name, internal, cleanupPolicy, partitions: [{partition, leader, leaderEpoch, replicas, isr, \
            underReplicated, logStartOffset, logEndOffset, ..., replicaLag: [{replica, fetchOffset, durableOffset, \
            lagRecords, caughtUpAgoMs, lastFetchAgoMs}]}], configs: [...]}; leader is null while there is none, \
            replicaLag null when the leader could not be asked, and a lag field null when the leader does not know it.
            """)
    var json = false

    struct Output: Encodable {
        struct Partition: Encodable {
            var partition: Int32
            var leader: Int32?
            var leaderEpoch: Int32
            var replicas: [Int32]
            var isr: [Int32]
            /// The in-sync set is smaller than the replica set.
            var underReplicated: Bool
            var logStartOffset: Int64
            var logEndOffset: Int64
            var sizeBytes: Int64?
            var segmentCount: Int32?
            var firstDirtyOffset: Int64?
            var lastCleanedMs: Int64?
            var cleanerError: String?
            var replicaLag: [ReplicaLag]?
        }
        /// One replica as the partition's leader sees it.
        struct ReplicaLag: Encodable {
            var replica: Int32
            var fetchOffset: Int64?
            var durableOffset: Int64?
            var lagRecords: Int64?
            var caughtUpAgoMs: Int64?
            var lastFetchAgoMs: Int64?
        }
        struct Config: Encodable {
            var name: String
            var value: String?
            var source: String
            var readOnly: Bool
            var sensitive: Bool
        }
        var name: String
        var `internal`: Bool
        var cleanupPolicy: String?
        var partitions: [Partition]
        var configs: [Config]
    }

    func run() async throws {
        let client = try await global.connect()
        let (description, configs, logs) = try await CLIFailure.wrap {
            let description = try await client.admin.describeTopic(name: name)
            let configs = try await client.admin.describeConfigs(topic: name)
            let logs = try await client.admin.describeLogDirs(topics: [name])
            return (description, configs, logs)
        }
        // Best effort: a leader that cannot be asked leaves its partitions' lag unknown.
        let lags = (try? await client.admin.describeReplicaLag(topic: name)) ?? []
        await client.close()
        let lagOf = Dictionary(lags.map { ($0.partition, $0) }, uniquingKeysWith: { first, _ in first })
        let policy = configs.first { $0.name == "cleanup.policy" }?.value
        let logOf = Dictionary(logs.map { ($0.partition, $0) }, uniquingKeysWith: { first, _ in first })
        if json {
            try JSONOutput.print(
                Output(
                    name: description.name, internal: description.isInternal, cleanupPolicy: policy,
                    partitions: description.partitions.map {
                        let log = logOf[$0.partition]
                        return .init(
                            partition: $0.partition, leader: $0.leader, leaderEpoch: $0.leaderEpoch,
                            replicas: $0.replicas, isr: $0.isr, underReplicated: $0.isr.count < $0.replicas.count,
                            logStartOffset: $0.logStartOffset, logEndOffset: $0.logEndOffset, sizeBytes: log?.sizeBytes,
                            segmentCount: log?.segmentCount, firstDirtyOffset: log?.firstDirtyOffset,
                            lastCleanedMs: log?.lastCleanedMs, cleanerError: log?.cleanerError,
                            replicaLag: lagOf[$0.partition].map {
                                $0.replicas.map {
                                    .init(
                                        replica: $0.replicaId, fetchOffset: $0.fetchOffset,
                                        durableOffset: $0.durableOffset, lagRecords: $0.lagRecords,
                                        caughtUpAgoMs: $0.caughtUpAgoMs, lastFetchAgoMs: $0.lastFetchAgoMs)
                                }
                            })
                    },
                    configs: configs.map {
                        .init(
                            name: $0.name, value: $0.value, source: $0.source, readOnly: $0.isReadOnly,
                            sensitive: $0.isSensitive)
                    }))
            return
        }
        let replication = description.partitions.first?.replicas.count ?? 0
        var text = "Topic: \(description.name)  Partitions: \(description.partitions.count)  "
            + "Replication-factor: \(replication)  Cleanup-policy: \(policy ?? "unknown")\n\n"
        var partitions = Table([
            "PARTITION", "LEADER", "LEADER-EPOCH", "REPLICAS", "ISR", "LOG-START-OFFSET", "LOG-END-OFFSET",
            "SIZE-BYTES", "SEGMENTS",
            "LAST-CLEANED",
        ])
        for partition in description.partitions {
            let log = logOf[partition.partition]
            let cleaned =
                log?.cleanerError.map { "failed: \($0)" }
                ?? log?.lastCleanedMs.map { Timestamps.iso8601(milliseconds: $0) } ?? "never"
            partitions.append([
                "\(partition.partition)", partition.leader.map { "\($0)" } ?? "none", "\(partition.leaderEpoch)",
                partition.replicas.map { "\($0)" }.joined(separator: ","),
                partition.isr.map { "\($0)" }.joined(separator: ",")
                    + (partition.isr.count < partition.replicas.count ? " (under-replicated)" : ""),
                "\(partition.logStartOffset)", "\(partition.logEndOffset)", log.map { "\($0.sizeBytes)" } ?? "-",
                log.map { "\($0.segmentCount)" } ?? "-", cleaned,
            ])
        }
        text += partitions.render()
        if replication > 1 {
            text += "\n" + Self.lagTable(description, lagOf).render()
        }
        if !configs.isEmpty {
            var table = Table(["CONFIG", "VALUE", "SOURCE"])
            for entry in configs {
                table.append([entry.name, entry.isSensitive ? "(sensitive)" : entry.value ?? "(null)", entry.source])
            }
            text += "\n" + table.render()
        }
        print(text, terminator: "")
    }

    /// Each replica of each partition as its leader sees it: records behind the leader's log end
    /// and how long since it last had everything ("-" where unknown).
    static func lagTable(_ description: TopicDescription, _ lagOf: [Int32: PartitionReplicaLag]) -> Table {
        var table = Table(["PARTITION", "REPLICA", "STATE", "FETCH-OFFSET", "DURABLE-OFFSET", "LAG", "CAUGHT-UP-AGO"])
        func text(_ value: Int64?) -> String { value.map { "\($0)" } ?? "-" }
        for partition in description.partitions {
            guard let lag = lagOf[partition.partition] else {
                table.append(["\(partition.partition)", "-", "leader not reachable", "-", "-", "-", "-"])
                continue
            }
            for replica in lag.replicas {
                let state =
                    replica.replicaId == lag.leader
                    ? "leader" : partition.isr.contains(replica.replicaId) ? "in-sync" : "out-of-sync"
                table.append([
                    "\(partition.partition)", "\(replica.replicaId)", state, text(replica.fetchOffset),
                    text(replica.durableOffset), text(replica.lagRecords),
                    replica.caughtUpAgoMs.map { "\($0) ms" } ?? "-",
                ])
            }
        }
        return table
    }
}
