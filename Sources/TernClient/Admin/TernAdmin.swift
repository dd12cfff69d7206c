import Logging
import TernWire

/// Topic administration: create, delete, list and describe topics and their configuration.
///
/// Obtained from ``TernClient/admin``; cheap to create, holds no state of its own.
public struct TernAdmin: Sendable {
    let client: TernClient

    init(client: TernClient) { self.client = client }

    private var timeoutMs: Int32 {
        Int32(clamping: client.configuration.requestTimeout.components.seconds * 1000)
    }

    /// Creates a topic.
    /// - Parameters:
    ///   - name: The topic's name.
    ///   - partitions: Number of partitions; nil for the broker's `num.partitions`.
    ///   - replicationFactor: Replicas per partition; nil for the broker's
    ///     `default.replication.factor`.
    ///   - configs: Topic configuration overrides (`retention.ms`, `cleanup.policy`, …).
    /// - Throws: ``TernError``: `.invalidArgument` for a bad count; `.broker` with
    ///   `TOPIC_ALREADY_EXISTS`, `INVALID_CONFIG`, `INVALID_PARTITIONS`, … and the broker's reason.
    public func createTopic(
        name: String, partitions: Int? = nil, replicationFactor: Int? = nil, configs: [String: String] = [:]
    ) async throws {
        if let partitions, !(1...Int(Int32.max)).contains(partitions) {
            throw TernError(.invalidArgument, "create topic '\(name)': partitions must be at least 1, got \(partitions)")
        }
        if let replicationFactor, !(1...Int(Int16.max)).contains(replicationFactor) {
            throw TernError(
                .invalidArgument, "create topic '\(name)': replication factor must be at least 1, got \(replicationFactor)")
        }
        let topic = CreateTopicsRequest.Topic(
            name: name, numPartitions: partitions.map { Int32($0) } ?? -1,
            replicationFactor: replicationFactor.map { Int16($0) } ?? -1,
            configs: configs.sorted { $0.key < $1.key }.map { ConfigEntry(name: $0.key, value: $0.value) })
        let response = try await sendToController(CreateTopicsRequest(topics: [topic], timeoutMs: timeoutMs))
        try Self.check(response.topics, name: name, action: "create topic")
        _ = try? await client.metadata.refresh()
    }

    /// Deletes a topic and all its records.
    /// - Throws: ``TernError`` `.unknownTopic` when it does not exist; `.broker` otherwise.
    public func deleteTopic(name: String) async throws {
        let response = try await sendToController(DeleteTopicsRequest(names: [name], timeoutMs: timeoutMs))
        try Self.check(response.topics, name: name, action: "delete topic")
        _ = try? await client.metadata.refresh()
    }

    /// The cluster's brokers, controller and id, with the answering broker's version and uptime.
    /// - Throws: ``TernError`` when no broker can be reached.
    public func describeCluster() async throws -> ClusterDescription {
        let versions = try await client.sendToAnyBroker(ApiVersionsRequest())
        let snapshot = try await client.metadata.refresh()
        return ClusterDescription(
            clusterId: snapshot.clusterId, controllerId: snapshot.controllerId,
            brokers: snapshot.brokers.sorted { $0.key < $1.key }.map {
                ClusterDescription.Broker(nodeId: $0.key, host: $0.value.host, port: $0.value.port)
            },
            brokerVersion: versions.brokerVersion, uptimeMs: versions.uptimeMs)
    }

    /// Changes a topic's config overrides: keys in `set` take their values, keys in `remove` go
    /// back to the broker default; others keep theirs. Invalid keys or values change nothing.
    /// - Throws: ``TernError`` with the broker's INVALID_CONFIG or UNKNOWN_TOPIC_OR_PARTITION.
    public func alterTopicConfigs(name: String, set: [String: String], remove: [String] = []) async throws {
        let entries =
            set.sorted { $0.key < $1.key }.map { AlterConfigsRequest.Entry(name: $0.key, value: $0.value) }
            + remove.map { AlterConfigsRequest.Entry(name: $0, value: nil) }
        let response = try await client.sendToAnyBroker(
            AlterConfigsRequest(resources: [.init(type: .topic, name: name, entries: entries)]))
        guard let result = response.resources.first(where: { $0.name == name }) else {
            throw TernError(.protocolError, "alter configs of '\(name)': the broker's response does not mention the topic")
        }
        guard result.errorCode == .none else {
            throw TernError.broker(result.errorCode, result.errorMessage, context: "alter configs of '\(name)'")
        }
    }

    /// Every topic, sorted by name.
    /// - Throws: ``TernError`` when no broker can be reached.
    public func listTopics() async throws -> [TopicListing] {
        let snapshot = try await client.metadata.refresh()
        return snapshot.topics.values.map { topic in
            TopicListing(
                name: topic.name, partitionCount: topic.partitions.count,
                replicationFactor: topic.partitions.first?.replicas.count ?? 0, isInternal: topic.isInternal)
        }.sorted { $0.name < $1.name }
    }

    /// A topic's partitions with leader, replicas, in-sync replicas, log start and log end offset.
    /// - Throws: ``TernError`` `.unknownTopic` when the topic does not exist.
    public func describeTopic(name: String) async throws -> TopicDescription {
        let snapshot = try await client.metadata.refresh()
        guard let topic = snapshot.topics[name] else {
            throw TernError(.unknownTopic, "topic '\(name)' does not exist", brokerError: .unknownTopicOrPartition)
        }
        // Offsets only of partitions with a live leader: an offline partition is described (its
        // offsets -1) rather than failing the whole description when an operator needs it most.
        let tps = topic.partitions.filter { $0.leader >= 0 && snapshot.brokers[$0.leader] != nil }.map {
            TopicPartition(topic: name, partition: $0.partition)
        }
        async let earliest = client.listOffsets(Dictionary(uniqueKeysWithValues: tps.map { ($0, TernClient.earliestTimestamp) }))
        async let latest = client.listOffsets(Dictionary(uniqueKeysWithValues: tps.map { ($0, TernClient.latestTimestamp) }))
        let (start, end) = try await (earliest, latest)
        return TopicDescription(
            name: name, isInternal: topic.isInternal,
            partitions: topic.partitions.map { partition in
                let tp = TopicPartition(topic: name, partition: partition.partition)
                return TopicDescription.Partition(
                    partition: partition.partition, leader: partition.leader >= 0 ? partition.leader : nil,
                    leaderEpoch: partition.leaderEpoch, replicas: partition.replicas, isr: partition.isr,
                    logStartOffset: start[tp] ?? -1, logEndOffset: end[tp] ?? -1)
            })
    }

    /// The effective configuration of a topic, sorted by key.
    /// - Throws: ``TernError`` `.unknownTopic` when the topic does not exist.
    public func describeConfigs(topic: String) async throws -> [TopicConfigEntry] {
        let request = DescribeConfigsRequest(resources: [.init(type: .topic, name: topic)])
        let response = try await client.sendToAnyBroker(request)
        guard let resource = response.resources.first(where: { $0.name == topic }) ?? response.resources.first else {
            throw TernError(.protocolError, "describe configs of topic '\(topic)': the broker returned no resource")
        }
        guard resource.errorCode == .none else {
            throw TernError.broker(resource.errorCode, resource.errorMessage, context: "describe configs of topic '\(topic)'")
        }
        return resource.entries.map {
            TopicConfigEntry(
                name: $0.name, value: $0.value, source: $0.source.description, isReadOnly: $0.readOnly,
                isSensitive: $0.sensitive)
        }.sorted { $0.name < $1.name }
    }

    /// The on-disk state of the partitions of `topics` (all topics when empty): size, offsets,
    /// segments and the log cleaner's progress, sorted by topic and partition. Asks one broker
    /// (a single-node cluster holds every partition).
    public func describeLogDirs(topics: [String] = []) async throws -> [PartitionLogInfo] {
        let response = try await client.sendToAnyBroker(DescribeLogDirsRequest(topics: topics))
        var result: [PartitionLogInfo] = []
        for dir in response.logDirs {
            guard dir.errorCode == .none else {
                throw TernError.broker(dir.errorCode, nil, context: "describe log directory \(dir.path)")
            }
            for topic in dir.topics {
                for p in topic.partitions {
                    result.append(
                        PartitionLogInfo(
                            topic: topic.name, partition: p.partition, logDir: dir.path, sizeBytes: p.sizeBytes,
                            logStartOffset: p.logStartOffset, logEndOffset: p.logEndOffset, segmentCount: p.segmentCount,
                            firstDirtyOffset: p.firstDirtyOffset, lastCleanedMs: p.lastCleanedMs >= 0 ? p.lastCleanedMs : nil,
                            cleanerError: p.cleanerError))
                }
            }
        }
        return result.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    /// Sends to the controller when metadata names one (saving the broker a forwarding hop),
    /// else to any broker: every broker forwards the controller's APIs to it.
    func sendToController<R: WireRequest>(_ request: R) async throws -> R.Response {
        let controller = client.metadata.current.controllerId
        if controller >= 0, client.metadata.current.brokers[controller] != nil {
            do {
                return try await client.send(request, to: controller)
            } catch let error as TernError where error.code == .connectionFailed {
                client.logger.debug("controller unreachable, trying another broker", metadata: ["error": "\(error)"])
            }
        }
        return try await client.sendToAnyBroker(request)
    }

    /// Turns the per-topic result for `name` into an error when it is not NONE.
    static func check(_ results: [TopicResult], name: String, action: String) throws {
        guard let result = results.first(where: { $0.name == name }) else {
            throw TernError(.protocolError, "\(action) '\(name)': the broker's response does not mention the topic")
        }
        guard result.errorCode == .none else {
            throw TernError.broker(result.errorCode, result.errorMessage, context: "\(action) '\(name)'")
        }
    }
}
