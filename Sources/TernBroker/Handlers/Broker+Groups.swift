import Dispatch
import Logging
import Synchronization
import TernNet
import TernStorage
import TernWire

#if canImport(Glibc)
import Glibc
#endif

extension Broker: GroupLogs {
    /// A topic's partition count from the metadata image (the coordinator need not hold a
    /// replica of a topic its members read).
    var partitionCounts: GroupCoordinatorState.PartitionCounts {
        let image = cluster.image
        return { image.topic(named: $0).map(Broker.partitionCount) }
    }

    /// Creates `__consumer_offsets` (compacted, `offsets.topic.num.partitions` partitions of
    /// `offsets.topic.segment.bytes` segments, `offsets.topic.replication.factor` replicas or as
    /// many as there are live brokers when fewer) if it does not exist, through the active
    /// controller (``createTopic(name:partitions:replicationFactor:configs:by:)``). Blocks: only
    /// on the group coordinator's I/O queue.
    func ensureOffsetsTopic() throws {
        guard cluster.image.topic(named: GroupCoordinator.topicName) == nil else { return }
        let partitions = Int32(config["offsets.topic.num.partitions"] ?? "") ?? 50
        let segmentBytes = config["offsets.topic.segment.bytes"] ?? "104857600"
        let wanted = Int16(config["offsets.topic.replication.factor"] ?? "") ?? 3
        let live = cluster.image.unfencedBrokerIds.count
        let factor = max(1, min(wanted, Int16(clamping: live)))
        if try createTopic(
            name: GroupCoordinator.topicName, partitions: partitions, replicationFactor: factor,
            configs: ["cleanup.policy": "compact", "segment.bytes": segmentBytes]) != nil
        {
            logger.info(
                "created the consumer offsets topic",
                metadata: ["partitions": "\(partitions)", "tern_replication_factor": "\(factor)"])
            return
        }
        // Another broker created it and this broker's image has not caught up yet: wait for it
        // (bounded), so the answer names its leaders rather than "does not exist".
        let deadline = ContinuousClock.now + .seconds(5)
        while cluster.image.topic(named: GroupCoordinator.topicName) == nil && ContinuousClock.now < deadline {
            usleep(5000)
        }
    }

    /// Runs `body` once `__consumer_offsets` exists: at once when it does, else after creating it
    /// on the coordinator's I/O queue (a group's first request on a new cluster), and after the
    /// loads of the partitions this broker came to lead by it (queued on that queue by then), so
    /// that a single node serves the request rather than answering COORDINATOR_LOAD_IN_PROGRESS.
    /// `failure` gets COORDINATOR_LOAD_IN_PROGRESS while the broker starts (its image may be an
    /// old one) and COORDINATOR_NOT_AVAILABLE when the topic cannot be created.
    func withOffsetsTopic(
        failure: @escaping @Sendable (ErrorCode, String) -> Void, _ body: @escaping @Sendable () -> Void
    ) {
        guard imageIsCurrent else {
            return failure(.coordinatorLoadInProgress, "broker \(config.nodeId) is starting: its metadata is not current yet")
        }
        guard cluster.image.topic(named: GroupCoordinator.topicName) == nil else { return body() }
        groupCoordinator.onIOQueue { [self] in
            do {
                try ensureOffsetsTopic()
            } catch {
                return failure(.coordinatorNotAvailable, "cannot create \(GroupCoordinator.topicName): \(error)")
            }
            groupCoordinator.onIOQueue(body)
        }
    }

    /// Reads the groups' state for a request that changes nothing: the coordinator's, or, while
    /// `__consumer_offsets` does not exist, an empty one (no group has state anywhere); nil while
    /// the broker starts (its image may be an old one: it cannot tell).
    func readGroups<T: Sendable>(_ body: (GroupCoordinatorState) -> T) -> T? {
        guard imageIsCurrent else { return nil }
        guard cluster.image.topic(named: GroupCoordinator.topicName) != nil else {
            return body(groupCoordinator.read { $0.withoutOffsetsTopic() })
        }
        return groupCoordinator.read(body)
    }

    // MARK: GroupLogs

    func offsetsLog(_ partition: Int32) throws -> PartitionLog {
        try ensureOffsetsTopic()
        let tp = TopicPartition(GroupCoordinator.topicName, partition)
        guard let log = logManager.log(for: tp) else { throw StorageError(.notFound, "\(tp) does not exist") }
        return log
    }

    // MARK: Requests

    /// Runs a group request through the coordinator (decided in the group's turn, persisted off
    /// this queue, applied once durable) and answers it.
    func submitGroupRequest<R: WireResponse>(
        _ groupId: String, _ context: RequestContext,
        failure: @escaping @Sendable (ErrorCode, String) -> R,
        _ decide: @escaping @Sendable (GroupCoordinatorState) -> GroupCoordinatorState.Outcome<R>
    ) {
        submitGroupChange(groupId, decide: decide, failure: failure) { context.respond($0) }
    }

    /// ``GroupCoordinator/submit(_:logs:decide:failure:completion:)`` once `__consumer_offsets`
    /// exists (``withOffsetsTopic(failure:_:)``).
    func submitGroupChange<R: Sendable>(
        _ groupId: String, decide: @escaping @Sendable (GroupCoordinatorState) -> GroupCoordinatorState.Outcome<R>,
        failure: @escaping @Sendable (ErrorCode, String) -> R, completion: @escaping @Sendable (R) -> Void
    ) {
        withOffsetsTopic(failure: { completion(failure($0, $1)) }) { [self] in
            groupCoordinator.submit(groupId, logs: self, decide: decide, failure: failure, completion: completion)
        }
    }

    // MARK: Handlers

    /// FindCoordinator, on any broker: the leader of the group's `__consumer_offsets` partition
    /// in the metadata image (``coordinatorAnswer(_:image:listener:)``), once the topic exists
    /// (created on the group coordinator's I/O queue, not on this network queue, the first time).
    func handleFindCoordinator(_ request: FindCoordinatorRequest, _ context: RequestContext) {
        @Sendable func fail(_ code: ErrorCode, _ message: String) -> FindCoordinatorResponse {
            FindCoordinatorResponse(errorCode: code, errorMessage: message, nodeId: -1, host: "", port: -1)
        }
        guard request.keyType == FindCoordinatorRequest.groupKeyType else {
            return context.respond(fail(.invalidRequest, "keyType \(request.keyType) is not 0 (consumer group)"))
        }
        if let (code, message) = GroupCoordinatorState.checkId(request.key) {
            return context.respond(fail(code, message))
        }
        // COORDINATOR_NOT_AVAILABLE rather than the starting broker's LOAD_IN_PROGRESS: the
        // client asks again, maybe another broker.
        withOffsetsTopic(failure: { context.respond(fail(.coordinatorNotAvailable, $1)) }) { [self] in
            context.respond(coordinatorAnswer(request.key, image: cluster.image, listener: context.listener))
        }
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
        readGroups { $0.fetch(request) }
            ?? OffsetFetchResponse(errorCode: .coordinatorLoadInProgress, errorMessage: Self.startingMessage, topics: [])
    }

    /// The groups this broker coordinates (those of the `__consumer_offsets` partitions it leads
    /// and has loaded): a cluster's groups are the union over its brokers.
    func handleListGroups() -> ListGroupsResponse {
        readGroups { $0.list() } ?? ListGroupsResponse(groups: [])
    }

    func handleDescribeGroups(_ request: DescribeGroupsRequest) -> DescribeGroupsResponse {
        let logs = logManager
        return readGroups { state in
            state.describe(request.groupIds) { tp in
                logs.log(for: tp).map { (start: $0.logStartOffset, end: $0.logEndOffset) }
            }
        }
            ?? DescribeGroupsResponse(
                groups: request.groupIds.map {
                    .init(
                        errorCode: .coordinatorLoadInProgress, errorMessage: Self.startingMessage, groupId: $0,
                        state: "Dead", groupEpoch: -1, members: [], offsets: [])
                })
    }

    static let startingMessage = "this broker is starting: its metadata is not current yet"

    /// DeleteGroups: each group's deletion is its own change, persisted in its own partition and
    /// answered with its own result; the response goes once every group has its result.
    func handleDeleteGroups(_ request: DeleteGroupsRequest, _ context: RequestContext) {
        let ids = request.groupIds
        guard !ids.isEmpty else { return context.respond(DeleteGroupsResponse(results: [])) }
        let collected = Mutex(
            (results: [DeleteGroupsResponse.Result?](repeating: nil, count: ids.count), left: ids.count))
        for (index, id) in ids.enumerated() {
            submitGroupChange(
                id, decide: { $0.delete(id) },
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
