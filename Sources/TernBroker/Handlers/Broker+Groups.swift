import Dispatch
import Logging
import Synchronization
import TernNet
import TernStorage
import TernWire

extension Broker: GroupLogs {
    /// A topic's partition count from the topic metadata.
    var partitionCounts: GroupCoordinatorState.PartitionCounts {
        let topics = self.topics
        return { topics.topic($0)?.partitionCount }
    }

    /// Creates `__consumer_offsets` (compacted, `offsets.topic.num.partitions` partitions of
    /// `offsets.topic.segment.bytes` segments) if it does not exist, through the active
    /// controller (``createTopic(name:partitions:configs:by:)``). Blocks: only on the group
    /// coordinator's I/O queue.
    func ensureOffsetsTopic() throws {
        guard topics.topic(GroupCoordinator.topicName) == nil else { return }
        let partitions = Int32(config["offsets.topic.num.partitions"] ?? "") ?? 50
        let segmentBytes = config["offsets.topic.segment.bytes"] ?? "104857600"
        if try createTopic(
            name: GroupCoordinator.topicName, partitions: partitions,
            configs: ["cleanup.policy": "compact", "segment.bytes": segmentBytes]) != nil
        {
            logger.info("created the consumer offsets topic", metadata: ["partitions": "\(partitions)"])
        }
    }

    // MARK: GroupLogs

    func offsetsLog(_ partition: Int32) throws -> PartitionLog {
        try ensureOffsetsTopic()
        let tp = TopicPartition(GroupCoordinator.topicName, partition)
        guard let log = logManager.log(for: tp) else { throw StorageError(.notFound, "\(tp) does not exist") }
        return log
    }

    func appendGroupBatch(_ bytes: inout [UInt8], batches: [ValidatedBatch], to log: PartitionLog) throws
        -> AppendResult
    {
        let tp = log.topicPartition
        let result = try log.append(
            &bytes, batches: batches, leaderEpoch: partitionLeaderEpoch(tp.topic, tp.partition) ?? 0)
        purgatory.didAppend(to: log.topicPartition, bytes: bytes.count)
        return result
    }

    func whenDurable(
        _ log: PartitionLog, upTo offset: Int64, completion: @escaping @Sendable (Result<Void, StorageError>) -> Void
    ) {
        logManager.whenDurable(log, upTo: offset, completion: completion)
    }

    // MARK: Requests

    /// Runs a group request through the coordinator (decided in the group's turn, persisted off
    /// this queue, applied once durable) and answers it.
    func submitGroupRequest<R: WireResponse>(
        _ groupId: String, _ context: RequestContext,
        failure: @escaping @Sendable (ErrorCode, String) -> R,
        _ decide: @escaping @Sendable (GroupCoordinatorState) -> GroupCoordinatorState.Outcome<R>
    ) {
        groupCoordinator.submit(groupId, logs: self, decide: decide, failure: failure) { context.respond($0) }
    }

    // MARK: Handlers

    /// FindCoordinator: this broker, once `__consumer_offsets` exists (created on the group
    /// coordinator's I/O queue, not on this network queue, the first time).
    func handleFindCoordinator(_ request: FindCoordinatorRequest, _ context: RequestContext) {
        @Sendable func fail(_ code: ErrorCode, _ message: String) -> FindCoordinatorResponse {
            FindCoordinatorResponse(errorCode: code, errorMessage: message, nodeId: -1, host: "", port: -1)
        }
        guard request.keyType == FindCoordinatorRequest.groupKeyType else {
            return context.respond(fail(.invalidRequest, "keyType \(request.keyType) is not 0 (consumer group)"))
        }
        if let (code, message) = groupCoordinator.read({ $0.check(group: request.key) }) {
            return context.respond(fail(code, message))
        }
        guard topics.topic(GroupCoordinator.topicName) == nil else { return context.respond(coordinatorResponse(listener: context.listener)) }
        groupCoordinator.onIOQueue { [self] in
            do {
                try ensureOffsetsTopic()
                context.respond(coordinatorResponse(listener: context.listener))
            } catch {
                context.respond(fail(.coordinatorNotAvailable, "cannot create __consumer_offsets: \(error)"))
            }
        }
    }

    private func coordinatorResponse(listener: Int) -> FindCoordinatorResponse {
        let me = advertisedBroker(listener: listener)
        return FindCoordinatorResponse(nodeId: me.nodeId, host: me.host, port: me.port)
    }

    func handleConsumerGroupHeartbeat(_ request: ConsumerGroupHeartbeatRequest, _ context: RequestContext) {
        let counts = partitionCounts
        let now = GroupCoordinator.monotonicMs()
        let interval = groupCoordinator.read { $0.settings.heartbeatIntervalMs }
        let clientId = context.header.clientId
        let peer = context.connection.peer
        submitGroupRequest(
            request.groupId, context,
            failure: {
                ConsumerGroupHeartbeatResponse(
                    errorCode: $0, errorMessage: $1, memberId: request.memberId, memberEpoch: -1,
                    heartbeatIntervalMs: interval, assignment: [])
            }
        ) { state in
            state.heartbeat(request, clientId: clientId, clientHost: peer, nowMs: now, counts: counts)
        }
    }

    func handleOffsetCommit(_ request: OffsetCommitRequest, _ context: RequestContext) {
        let counts = partitionCounts
        submitGroupRequest(
            request.groupId, context,
            failure: { code, message in
                OffsetCommitResponse(
                    errorCode: code, errorMessage: message,
                    topics: request.topics.map { t in
                        .init(
                            name: t.name,
                            partitions: t.partitions.map { .init(partition: $0.partition, errorCode: code) })
                    })
            }
        ) { state in
            state.commit(request, counts: counts)
        }
    }

    func handleOffsetFetch(_ request: OffsetFetchRequest) -> OffsetFetchResponse {
        groupCoordinator.read { $0.fetch(request) }
    }

    func handleListGroups() -> ListGroupsResponse {
        groupCoordinator.read { $0.list() }
    }

    func handleDescribeGroups(_ request: DescribeGroupsRequest) -> DescribeGroupsResponse {
        let logs = logManager
        return groupCoordinator.read { state in
            state.describe(request.groupIds) { tp in
                logs.log(for: tp).map { (start: $0.logStartOffset, end: $0.logEndOffset) }
            }
        }
    }

    /// DeleteGroups: each group's deletion is its own change, persisted in its own partition and
    /// answered with its own result; the response goes once every group has its result.
    func handleDeleteGroups(_ request: DeleteGroupsRequest, _ context: RequestContext) {
        let ids = request.groupIds
        guard !ids.isEmpty else { return context.respond(DeleteGroupsResponse(results: [])) }
        let collected = Mutex(
            (results: [DeleteGroupsResponse.Result?](repeating: nil, count: ids.count), left: ids.count))
        for (index, id) in ids.enumerated() {
            groupCoordinator.submit(
                id, logs: self, decide: { $0.delete(id) },
                failure: { DeleteGroupsResponse.Result(groupId: id, errorCode: $0, errorMessage: $1) }
            ) { result in
                let done = collected.withLock { collected -> [DeleteGroupsResponse.Result]? in
                    collected.results[index] = result
                    collected.left -= 1
                    return collected.left == 0 ? collected.results.compactMap { $0 } : nil
                }
                if let done { context.respond(DeleteGroupsResponse(results: done)) }
            }
        }
    }

    /// ResetGroupOffsets. By timestamp, each partition's offset is found by reading its segment
    /// files (``PartitionLog/offsetForTimestamp(_:)`` opens them and reads batches), so that runs
    /// on the admin worker (``adminQueue``), as CreateTopics and AlterConfigs do, never on the
    /// connection's network queue; the other strategies need only in-memory log bounds.
    func handleResetGroupOffsets(_ request: ResetGroupOffsetsRequest, _ context: RequestContext) {
        guard request.strategy == .timestamp else { return resetGroupOffsets(request, context) }
        adminQueue.async { self.resetGroupOffsets(request, context) }
    }

    private func resetGroupOffsets(_ request: ResetGroupOffsetsRequest, _ context: RequestContext) {
        @Sendable func fail(_ code: ErrorCode, _ message: String) -> ResetGroupOffsetsResponse {
            ResetGroupOffsetsResponse(errorCode: code, errorMessage: message, partitions: [])
        }
        guard let info = topics.topic(request.topic), !info.isInternal else {
            return context.respond(fail(.unknownTopicOrPartition, "topic '\(request.topic)' does not exist"))
        }
        let wanted = request.partitions.isEmpty ? Array(0..<info.partitionCount) : request.partitions
        var offsets: [TopicPartition: Int64] = [:]
        for partition in wanted {
            let tp = TopicPartition(request.topic, partition)
            guard partition >= 0, partition < info.partitionCount, let log = logManager.log(for: tp) else {
                return context.respond(
                    fail(.unknownTopicOrPartition, "topic '\(request.topic)' has no partition \(partition)"))
            }
            let start = log.logStartOffset
            let end = log.logEndOffset
            switch request.strategy {
            case .earliest: offsets[tp] = start
            case .latest: offsets[tp] = end
            case .offset:
                guard request.value >= 0 else { return context.respond(fail(.invalidRequest, "offset must be >= 0")) }
                offsets[tp] = min(max(request.value, start), end)
            case .timestamp:
                guard request.value >= 0 else {
                    return context.respond(fail(.invalidRequest, "timestamp must be >= 0"))
                }
                dispatchPrecondition(condition: .onQueue(adminQueue))
                do {
                    offsets[tp] = try log.offsetForTimestamp(request.value)?.offset ?? end
                } catch {
                    return context.respond(fail(.kafkaStorageError, "\(tp): \(error)"))
                }
            default:
                return context.respond(fail(.invalidRequest, "unknown strategy \(request.strategy.rawValue)"))
            }
        }
        let resolved = offsets
        submitGroupRequest(request.groupId, context, failure: fail) { state in
            state.reset(groupId: request.groupId, offsets: resolved, dryRun: request.dryRun)
        }
    }
}
