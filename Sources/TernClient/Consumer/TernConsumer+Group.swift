import Logging
import Synchronization
import TernWire

extension TernConsumer {
    // MARK: Subscribing

    /// Joins the consumer group ``ConsumerConfiguration/groupId`` and reads the partitions of
    /// `topics` the group's coordinator assigns to this consumer; the assignment follows members
    /// joining and leaving (incrementally: partitions this consumer keeps are never paused) and
    /// new partitions or topics. A heartbeat runs in the background until ``close()``.
    ///
    /// - Parameters:
    ///   - topics: topic names; ones that do not exist yet are picked up when created.
    ///   - onRebalance: told about assigned, revoked and lost partitions (see ``RebalanceEvent``);
    ///     the consumer waits for it.
    /// - Throws: ``TernError`` `.invalidArgument` without a group id, with no topics, or after
    ///   ``assign(_:)``; `.closed` after ``close()``.
    public func subscribe(
        topics: [String], onRebalance: (@Sendable (RebalanceEvent) async -> Void)? = nil
    ) async throws {
        guard let groupId = configuration.groupId, !groupId.isEmpty else {
            throw TernError(.invalidArgument, "subscribe needs ConsumerConfiguration.groupId")
        }
        guard !topics.isEmpty else { throw TernError(.invalidArgument, "subscribe needs at least one topic") }
        let subscribed = group.withLock { $0.machine.subscribed }
        if !subscribed && !assignment.isEmpty {
            throw TernError(.invalidArgument, "a consumer with assigned partitions cannot also subscribe")
        }
        try withOpenState { _ in }
        wakeGroupTask { g in
            g.listener = onRebalance
            g.machine.subscribe(topics: topics, now: .now)
        }
        groupTask.withLock { task in
            guard task == nil else { return }
            task = Task { await self.runGroupLoop() }
        }
    }

    /// The group member id the coordinator gave this consumer ("" before it joined).
    public var memberId: String { group.withLock { $0.machine.memberId } }

    /// The member epoch of the last heartbeat response (0 before joining).
    public var memberEpoch: Int32 { group.withLock { $0.machine.memberEpoch } }

    // MARK: Committing

    /// Commits `offsets` (the offset of the next record to read, per partition), or by default the
    /// current position of every partition this consumer reads, and waits until the coordinator
    /// stored them durably.
    /// - Throws: ``TernError``: `.invalidArgument` without a group id; `.broker` with
    ///   FENCED_MEMBER_EPOCH or UNKNOWN_MEMBER_ID when this member was fenced, or the partition's
    ///   error.
    public func commitSync(_ offsets: [TopicPartition: Int64]? = nil) async throws {
        let offsets = offsets ?? committablePositions()
        guard !offsets.isEmpty else { return }
        try await commit(offsets)
    }

    /// Starts a commit like ``commitSync(_:)`` without waiting; `completion` gets its error (nil
    /// on success).
    public func commitAsync(
        _ offsets: [TopicPartition: Int64]? = nil, completion: (@Sendable (TernError?) -> Void)? = nil
    ) {
        let offsets = offsets ?? committablePositions()
        Task {
            do {
                if !offsets.isEmpty { try await self.commit(offsets) }
                completion?(nil)
            } catch {
                completion?(error as? TernError ?? TernError(.connectionFailed, "\(error)"))
            }
        }
    }

    /// The committed offsets of `partitions` (nil: -1 where the group has none).
    /// - Throws: ``TernError`` from the coordinator.
    public func committed(_ partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        try await fetchCommitted(Set(partitions))
    }

    /// Positions of the partitions read now (and of those being revoked).
    func committablePositions() -> [TopicPartition: Int64] {
        let (subscribed, owned, revoking) = group.withLock {
            ($0.machine.subscribed, $0.machine.owned, $0.machine.revoking)
        }
        return state.withLock { state in
            var positions = revoking
            for tp in subscribed ? owned : state.assignment {
                if let position = state.position(tp) { positions[tp] = position }
            }
            return positions
        }
    }

    /// Commits `offsets` with the member's identity, retrying retriable failures for up to the
    /// session timeout (at least 10 s: long enough for a coordinator's failover, whose new
    /// coordinator is looked up again) with a doubling backoff.
    func commit(_ offsets: [TopicPartition: Int64]) async throws {
        guard let groupId = configuration.groupId else {
            throw TernError(.invalidArgument, "committing needs ConsumerConfiguration.groupId")
        }
        let byTopic = Dictionary(grouping: offsets, by: \.key.topic).sorted { $0.key < $1.key }.map { topic, entries in
            OffsetCommitRequest.Topic(
                name: topic,
                partitions: entries.sorted { $0.key < $1.key }.map {
                    .init(partition: $0.key.partition, offset: $0.value)
                })
        }
        let deadline = ContinuousClock.now + max(configuration.sessionTimeout, .seconds(10))
        var attempt = 0
        while true {
            attempt += 1
            let (memberId, epoch) = group.withLock { $0.machine.commitIdentity }
            do {
                let node = try await coordinatorNode()
                let response = try await client.pool.connection(to: node).send(
                    OffsetCommitRequest(groupId: groupId, memberId: memberId, memberEpoch: epoch, topics: byTopic))
                if response.errorCode == .none {
                    for topic in response.topics {
                        for p in topic.partitions where p.errorCode != .none {
                            throw TernError.broker(
                                p.errorCode, nil,
                                context: "commit of \(topic.name)-\(p.partition) for group '\(groupId)'")
                        }
                    }
                    group.withLock { $0.machine.recordCommitted(offsets) }
                    return
                }
                throw TernError.broker(
                    response.errorCode, response.errorMessage, context: "commit for group '\(groupId)'")
            } catch let error as TernError where error.isRetriable && ContinuousClock.now < deadline {
                if Self.coordinatorMoved(error) { group.withLock { $0.machine.forgetCoordinator() } }
                let delay = group.withLock { $0.machine.retryDelay(failures: attempt) }
                try await Task.sleep(for: delay)
            }
        }
    }

    func fetchCommitted(_ partitions: Set<TopicPartition>) async throws -> [TopicPartition: Int64] {
        guard let groupId = configuration.groupId else {
            throw TernError(.invalidArgument, "committed offsets need ConsumerConfiguration.groupId")
        }
        let (memberId, epoch) = group.withLock { $0.machine.commitIdentity }
        let topics = Dictionary(grouping: partitions, by: \.topic).sorted { $0.key < $1.key }.map {
            TopicPartitionList(name: $0.key, partitions: $0.value.map(\.partition).sorted())
        }
        let node = try await coordinatorNode()
        let response = try await client.pool.connection(to: node).send(
            OffsetFetchRequest(groupId: groupId, memberId: memberId, memberEpoch: epoch, topics: topics))
        guard response.errorCode == .none else {
            let error = TernError.broker(
                response.errorCode, response.errorMessage, context: "committed offsets of group '\(groupId)'")
            if Self.coordinatorMoved(error) { group.withLock { $0.machine.forgetCoordinator() } }
            throw TernError.broker(
                response.errorCode, response.errorMessage, context: "committed offsets of group '\(groupId)'")
        }
        var result: [TopicPartition: Int64] = [:]
        for topic in response.topics {
            for p in topic.partitions { result[TopicPartition(topic: topic.name, partition: p.partition)] = p.offset }
        }
        return result
    }

    /// True when `error` means the coordinator must be looked up again: it moved
    /// (NOT_COORDINATOR), has none (COORDINATOR_NOT_AVAILABLE) or cannot be reached. A
    /// coordinator still loading (COORDINATOR_LOAD_IN_PROGRESS) is the right one: asked again.
    static func coordinatorMoved(_ error: TernError) -> Bool {
        guard let code = error.brokerError else { return error.isRetriable }
        return code == .notCoordinator || code == .coordinatorNotAvailable
    }

    // MARK: Membership

    /// The coordinator's node id, looked up with FindCoordinator when not known.
    func coordinatorNode() async throws -> Int32 {
        if let node = group.withLock({ $0.machine.coordinator }) { return node }
        let node = try await findCoordinator()
        group.withLock { $0.machine.learnedCoordinator(node) }
        return node
    }

    /// Asks any broker which one coordinates the group.
    func findCoordinator() async throws -> Int32 {
        guard let groupId = configuration.groupId else { throw TernError(.invalidArgument, "no group id") }
        let response = try await client.sendToAnyBroker(FindCoordinatorRequest(key: groupId))
        guard response.errorCode == .none else {
            throw TernError.broker(
                response.errorCode, response.errorMessage, context: "finding the coordinator of '\(groupId)'")
        }
        if client.metadata.current.brokers[response.nodeId] == nil { _ = try await client.metadata.refresh() }
        return response.nodeId
    }

    /// Commits (with auto-commit) and leaves the group: epoch -1, or -2 for a static member, which
    /// keeps its partitions for its session timeout. Returns once the heartbeat task ended.
    func leaveGroup() async {
        let task = groupTask.withLock { task in
            defer { task = nil }
            return task
        }
        guard let task else { return }
        wakeGroupTask { $0.machine.leave(now: .now) }
        await task.value
    }

    /// Runs `event` on the membership and wakes the heartbeat task to look at it.
    func wakeGroupTask(_ event: (inout GroupMembership) -> Void) {
        group.withLock { g in
            event(&g)
            return g.wakeUp()
        }?.resume()
    }
}

extension Duration {
    /// Whole milliseconds.
    var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
