import Logging
import Synchronization
import TernNet
import TernStorage
import TernWire

extension Broker {
    /// A topic's partition count from the topic metadata.
    var partitionCounts: GroupCoordinatorState.PartitionCounts {
        let topics = self.topics
        return { topics.topic($0)?.partitionCount }
    }

    /// Creates `__consumer_offsets` (compacted, `offsets.topic.num.partitions` partitions of
    /// `offsets.topic.segment.bytes` segments) if it does not exist.
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

    /// Appends group records, one batch per `__consumer_offsets` partition; returns what must be
    /// durable before the change is acknowledged.
    func appendGroupRecords(_ records: [Int32: [GroupRecord]]) throws -> [(log: PartitionLog, end: Int64)] {
        var waits: [(log: PartitionLog, end: Int64)] = []
        for (partition, batch) in records.sorted(by: { $0.key < $1.key }) where !batch.isEmpty {
            let tp = TopicPartition(GroupCoordinator.topicName, partition)
            guard let log = logManager.log(for: tp) else {
                throw StorageError(.ioError, "\(tp) does not exist")
            }
            var builder = RecordBatchBuilder(baseTimestamp: Self.wallClockMilliseconds(), capacity: 512)
            for record in batch { builder.append(key: record.key, value: record.value) }
            var bytes = builder.finish()
            let batches = try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
            let result = try log.append(&bytes, batches: batches, leaderEpoch: 0)
            purgatory.didAppend(to: tp, bytes: bytes.count)
            waits.append((log, result.lastOffset + 1))
        }
        return waits
    }

    /// Runs `body` on the coordinator state for `groupIds`, appends the records it produced and
    /// answers once they are durable. If the append fails the groups are restored and `failure`
    /// answers instead.
    func performGroupChange<R: WireResponse>(
        _ groupIds: [String], _ context: RequestContext,
        failure: @escaping @Sendable (ErrorCode, String) -> R,
        _ body: (inout GroupCoordinatorState) -> GroupCoordinatorState.Outcome<R>
    ) {
        do {
            try ensureOffsetsTopic()
        } catch {
            return context.respond(failure(.coordinatorNotAvailable, "cannot create __consumer_offsets: \(error)"))
        }
        let result = groupCoordinator.state.withLock {
            state -> Result<(R, [(log: PartitionLog, end: Int64)]), any Error> in
            let saved = groupIds.map { ($0, state.groups[$0]) }
            let outcome = body(&state)
            do {
                return .success((outcome.response, try appendGroupRecords(outcome.records)))
            } catch {
                for (id, group) in saved { state.restore(id, group) }
                return .failure(error)
            }
        }
        switch result {
        case .failure(let error):
            logger.error("cannot persist group change", metadata: ["error": "\(error)"])
            context.respond(failure(.kafkaStorageError, "\(error)"))
        case .success(let (response, waits)):
            guard case .sync = config.flushMode, !waits.isEmpty else { return context.respond(response) }
            let remaining = Mutex((count: waits.count, failed: nil as String?))
            for wait in waits {
                logManager.whenDurable(wait.log, upTo: wait.end) { outcome in
                    let done = remaining.withLock { state -> (Bool, String?) in
                        if case .failure(let error) = outcome { state.failed = "\(error)" }
                        state.count -= 1
                        return (state.count == 0, state.failed)
                    }
                    guard done.0 else { return }
                    if let failed = done.1 {
                        context.respond(failure(.kafkaStorageError, "not durable: \(failed)"))
                    } else {
                        context.respond(response)
                    }
                }
            }
        }
    }

    // MARK: Handlers

    func handleFindCoordinator(_ request: FindCoordinatorRequest) -> FindCoordinatorResponse {
        func fail(_ code: ErrorCode, _ message: String) -> FindCoordinatorResponse {
            FindCoordinatorResponse(errorCode: code, errorMessage: message, nodeId: -1, host: "", port: -1)
        }
        guard request.keyType == FindCoordinatorRequest.groupKeyType else {
            return fail(.invalidRequest, "keyType \(request.keyType) is not 0 (consumer group)")
        }
        if let (code, message) = groupCoordinator.state.withLock({ $0.check(group: request.key) }) {
            return fail(code, message)
        }
        do {
            try ensureOffsetsTopic()
        } catch {
            return fail(.coordinatorNotAvailable, "cannot create __consumer_offsets: \(error)")
        }
        let me = advertisedBroker
        return FindCoordinatorResponse(nodeId: me.nodeId, host: me.host, port: me.port)
    }

    func handleConsumerGroupHeartbeat(_ request: ConsumerGroupHeartbeatRequest, _ context: RequestContext) {
        let counts = partitionCounts
        let now = GroupCoordinator.monotonicMs()
        let interval = groupCoordinator.state.withLock { $0.settings.heartbeatIntervalMs }
        performGroupChange(
            [request.groupId], context,
            failure: {
                ConsumerGroupHeartbeatResponse(
                    errorCode: $0, errorMessage: $1, memberId: request.memberId, memberEpoch: -1,
                    heartbeatIntervalMs: interval, assignment: [])
            }
        ) { state in
            state.heartbeat(
                request, clientId: context.header.clientId, clientHost: context.connection.peer, nowMs: now,
                counts: counts)
        }
    }

    func handleOffsetCommit(_ request: OffsetCommitRequest, _ context: RequestContext) {
        let counts = partitionCounts
        performGroupChange(
            [request.groupId], context,
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
        groupCoordinator.state.withLock { $0.fetch(request) }
    }

    func handleListGroups() -> ListGroupsResponse {
        groupCoordinator.state.withLock { $0.list() }
    }

    func handleDescribeGroups(_ request: DescribeGroupsRequest) -> DescribeGroupsResponse {
        let logs = logManager
        return groupCoordinator.state.withLock { state in
            state.describe(request.groupIds) { tp in
                logs.log(for: tp).map { (start: $0.logStartOffset, end: $0.logEndOffset) }
            }
        }
    }

    func handleDeleteGroups(_ request: DeleteGroupsRequest, _ context: RequestContext) {
        performGroupChange(
            request.groupIds, context,
            failure: { code, message in
                DeleteGroupsResponse(
                    results: request.groupIds.map { .init(groupId: $0, errorCode: code, errorMessage: message) })
            }
        ) { $0.delete(request.groupIds) }
    }

    func handleResetGroupOffsets(_ request: ResetGroupOffsetsRequest, _ context: RequestContext) {
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
                do {
                    offsets[tp] = try log.offsetForTimestamp(request.value)?.offset ?? end
                } catch {
                    return context.respond(fail(.kafkaStorageError, "\(tp): \(error)"))
                }
            default:
                return context.respond(fail(.invalidRequest, "unknown strategy \(request.strategy.rawValue)"))
            }
        }
        performGroupChange([request.groupId], context, failure: fail) { state in
            state.reset(groupId: request.groupId, offsets: offsets, dryRun: request.dryRun)
        }
    }
}
