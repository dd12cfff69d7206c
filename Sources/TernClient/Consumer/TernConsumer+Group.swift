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
        let subscribed = group.withLock { $0.subscribed }
        if !subscribed && !assignment.isEmpty {
            throw TernError(.invalidArgument, "a consumer with assigned partitions cannot also subscribe")
        }
        try withOpenState { _ in }
        group.withLock { g in
            g.topics = Array(Set(topics)).sorted()
            g.listener = onRebalance
            g.subscribed = true
        }
        groupTask.withLock { task in
            guard task == nil else { return }
            task = Task { await self.runGroupLoop() }
        }
    }

    /// The group member id the coordinator gave this consumer ("" before it joined).
    public var memberId: String { group.withLock { $0.memberId } }

    /// The member epoch of the last heartbeat response (0 before joining).
    public var memberEpoch: Int32 { group.withLock { $0.memberEpoch } }

    // MARK: Committing

    /// Commits `offsets` (the offset of the next record to read, per partition), or by default the
    /// current position of every partition this consumer reads, and waits until the coordinator
    /// stored them durably.
    /// - Throws: ``TernError``: `.invalidArgument` without a group id; `.broker` with
    ///   FENCED_MEMBER_EPOCH or UNKNOWN_MEMBER_ID when this member was fenced, or the partition's
    ///   error.
    public func commitSync(_ offsets: [TopicPartition: Int64]? = nil) async throws {
        let offsets = offsets ?? committablePositions(onlyChanged: false)
        guard !offsets.isEmpty else { return }
        try await commit(offsets)
    }

    /// Starts a commit like ``commitSync(_:)`` without waiting; `completion` gets its error (nil
    /// on success).
    public func commitAsync(
        _ offsets: [TopicPartition: Int64]? = nil, completion: (@Sendable (TernError?) -> Void)? = nil
    ) {
        let offsets = offsets ?? committablePositions(onlyChanged: false)
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
    func committablePositions(onlyChanged: Bool) -> [TopicPartition: Int64] {
        let (owned, releasing, committed) = group.withLock { ($0.owned, $0.releasing, $0.committed) }
        var positions = releasing
        state.withLock { state in
            for tp in (group.withLock { $0.subscribed } ? owned : state.assignment) {
                if let position = state.position(tp) { positions[tp] = position }
            }
        }
        if onlyChanged { positions = positions.filter { committed[$0.key] != $0.value } }
        return positions
    }

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
        var attempt = 0
        while true {
            attempt += 1
            let (memberId, epoch) = group.withLock { g in
                g.memberEpoch > 0 ? (g.memberId, g.memberEpoch) : ("", OffsetCommitRequest.noMemberEpoch)
            }
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
                    group.withLock { g in for (tp, offset) in offsets { g.committed[tp] = offset } }
                    return
                }
                if response.errorCode == .notCoordinator { group.withLock { $0.coordinator = nil } }
                throw TernError.broker(
                    response.errorCode, response.errorMessage, context: "commit for group '\(groupId)'")
            } catch let error as TernError where error.isRetriable && attempt < 20 {
                if error.brokerError == nil { group.withLock { $0.coordinator = nil } }
                try await Task.sleep(for: configuration.retryBackoff)
            }
        }
    }

    func fetchCommitted(_ partitions: Set<TopicPartition>) async throws -> [TopicPartition: Int64] {
        guard let groupId = configuration.groupId else {
            throw TernError(.invalidArgument, "committed offsets need ConsumerConfiguration.groupId")
        }
        let (memberId, epoch) = group.withLock { g in
            g.memberEpoch > 0 ? (g.memberId, g.memberEpoch) : ("", Int32(-1))
        }
        let topics = Dictionary(grouping: partitions, by: \.topic).sorted { $0.key < $1.key }.map {
            TopicPartitionList(name: $0.key, partitions: $0.value.map(\.partition).sorted())
        }
        let node = try await coordinatorNode()
        let response = try await client.pool.connection(to: node).send(
            OffsetFetchRequest(groupId: groupId, memberId: memberId, memberEpoch: epoch, topics: topics))
        guard response.errorCode == .none else {
            if response.errorCode == .notCoordinator { group.withLock { $0.coordinator = nil } }
            throw TernError.broker(
                response.errorCode, response.errorMessage, context: "committed offsets of group '\(groupId)'")
        }
        var result: [TopicPartition: Int64] = [:]
        for topic in response.topics {
            for p in topic.partitions { result[TopicPartition(topic: topic.name, partition: p.partition)] = p.offset }
        }
        return result
    }

    // MARK: Membership

    /// The coordinator's node id, looked up with FindCoordinator when not known.
    func coordinatorNode() async throws -> Int32 {
        if let node = group.withLock({ $0.coordinator }) { return node }
        guard let groupId = configuration.groupId else { throw TernError(.invalidArgument, "no group id") }
        let response = try await client.sendToAnyBroker(FindCoordinatorRequest(key: groupId))
        guard response.errorCode == .none else {
            throw TernError.broker(
                response.errorCode, response.errorMessage, context: "finding the coordinator of '\(groupId)'")
        }
        if client.metadata.current.brokers[response.nodeId] == nil { _ = try await client.metadata.refresh() }
        group.withLock { $0.coordinator = response.nodeId }
        return response.nodeId
    }

    /// Heartbeats until the consumer closes, with automatic commits in between.
    func runGroupLoop() async {
        var lastAutoCommit = ContinuousClock.now
        while !Task.isCancelled {
            var again = false
            do {
                again = try await heartbeatOnce()
            } catch let error as TernError where !error.isRetriable && error.brokerError != nil {
                client.logger.warning("consumer group heartbeat failed", metadata: ["error": "\(error)"])
                state.withLock { $0.error = error }
                wakeRecordWaiters()
                if error.brokerError == .invalidSessionTimeout || error.brokerError == .invalidGroupId { return }
                try? await Task.sleep(for: max(configuration.retryBackoff, .milliseconds(500)))
                continue
            } catch {
                client.logger.debug("consumer group heartbeat failed", metadata: ["error": "\(error)"])
                group.withLock { $0.coordinator = nil }
                try? await Task.sleep(for: max(configuration.retryBackoff, .milliseconds(100)))
                continue
            }
            if configuration.enableAutoCommit, ContinuousClock.now - lastAutoCommit >= configuration.autoCommitInterval
            {
                lastAutoCommit = .now
                let positions = committablePositions(onlyChanged: true)
                if !positions.isEmpty {
                    do {
                        try await commit(positions)
                    } catch {
                        client.logger.debug("automatic commit failed", metadata: ["error": "\(error)"])
                    }
                }
            }
            if again { continue }
            let interval = group.withLock { $0.heartbeatInterval }
            let untilCommit =
                configuration.enableAutoCommit
                ? max(.zero, configuration.autoCommitInterval - (ContinuousClock.now - lastAutoCommit)) : interval
            do {
                try await Task.sleep(for: max(.milliseconds(1), min(interval, untilCommit)))
            } catch {
                return
            }
        }
    }

    /// One heartbeat and what its answer asks for. Returns true when the next should follow at
    /// once (this one released or lost partitions).
    private func heartbeatOnce() async throws -> Bool {
        guard let groupId = configuration.groupId else { return false }
        let node = try await coordinatorNode()
        let request = group.withLock { g in
            ConsumerGroupHeartbeatRequest(
                groupId: groupId, memberId: g.memberId, memberEpoch: g.memberEpoch,
                instanceId: configuration.groupInstanceId,
                rebalanceTimeoutMs: Int32(clamping: configuration.rebalanceTimeout.wholeMilliseconds),
                sessionTimeoutMs: Int32(clamping: configuration.sessionTimeout.wholeMilliseconds),
                subscribedTopics: g.topics, ownedPartitions: Self.lists(g.owned))
        }
        let response = try await client.pool.connection(to: node).send(request)
        switch response.errorCode {
        case .none:
            break
        case .fencedMemberEpoch, .unknownMemberId:
            let (lost, listener) = group.withLock {
                g -> (Set<TopicPartition>, (@Sendable (RebalanceEvent) async -> Void)?) in
                defer {
                    g.owned = []
                    g.memberEpoch = 0
                    if response.errorCode == .unknownMemberId { g.memberId = "" }
                }
                return (g.owned, g.listener)
            }
            client.logger.info(
                "consumer left the group involuntarily; rejoining",
                metadata: ["group": "\(groupId)", "reason": "\(response.errorCode)"])
            state.withLock { $0.remove(lost) }
            if !lost.isEmpty { await listener?(.lost(lost.sorted())) }
            return true
        default:
            if response.errorCode == .notCoordinator { group.withLock { $0.coordinator = nil } }
            throw TernError.broker(
                response.errorCode, response.errorMessage, context: "heartbeat to group '\(groupId)'")
        }

        let assignment = Set(
            response.assignment.flatMap { t in t.partitions.map { TopicPartition(topic: t.name, partition: $0) } })
        let (revoked, added, listener) = group.withLock { g in
            g.memberId = response.memberId
            g.memberEpoch = response.memberEpoch
            g.heartbeatInterval = .milliseconds(max(1, Int(response.heartbeatIntervalMs)))
            return (g.owned.subtracting(assignment), assignment.subtracting(g.owned), g.listener)
        }
        if !revoked.isEmpty {
            // Stop handing out their records, then let the application (and auto-commit) commit
            // what was consumed, then release them with the next heartbeat.
            let positions = state.withLock { state -> [TopicPartition: Int64] in
                var positions: [TopicPartition: Int64] = [:]
                for tp in revoked { if let p = state.position(tp) { positions[tp] = p } }
                state.remove(revoked)
                return positions
            }
            group.withLock { $0.releasing = positions }
            await listener?(.revoked(revoked.sorted()))
            if configuration.enableAutoCommit {
                let changed = group.withLock { g in positions.filter { g.committed[$0.key] != $0.value } }
                if !changed.isEmpty {
                    do {
                        try await commit(changed)
                    } catch {
                        client.logger.warning("commit of revoked partitions failed", metadata: ["error": "\(error)"])
                    }
                }
            }
            group.withLock { g in
                g.releasing = [:]
                g.owned.subtract(revoked)
            }
        }
        if !added.isEmpty {
            let committed = try await fetchCommitted(added)
            let reset: SeekPosition = configuration.autoOffsetReset == .earliest ? .earliest : .latest
            var starts: [TopicPartition: SeekPosition] = [:]
            for tp in added {
                if let offset = committed[tp], offset >= 0 { starts[tp] = .offset(offset) } else { starts[tp] = reset }
            }
            try withOpenState { $0.add(starts) }
            group.withLock { $0.owned.formUnion(added) }
            startFetchLoop()
            await listener?(.assigned(added.sorted()))
        }
        return !revoked.isEmpty
    }

    /// Commits (with auto-commit) and leaves the group: epoch -1, or -2 for a static member, which
    /// keeps its partitions for its session timeout.
    func leaveGroup() async {
        let task = groupTask.withLock { task in
            defer { task = nil }
            return task
        }
        guard let task else { return }
        task.cancel()
        await task.value
        guard let groupId = configuration.groupId else { return }
        if configuration.enableAutoCommit {
            let positions = committablePositions(onlyChanged: true)
            if !positions.isEmpty {
                do {
                    try await commit(positions)
                } catch {
                    client.logger.warning("final commit failed", metadata: ["error": "\(error)"])
                }
            }
        }
        let (memberId, epoch) = group.withLock { ($0.memberId, $0.memberEpoch) }
        guard epoch > 0 else { return }
        let leaveEpoch =
            configuration.groupInstanceId == nil
            ? ConsumerGroupHeartbeatRequest.leaveEpoch : ConsumerGroupHeartbeatRequest.staticLeaveEpoch
        do {
            let node = try await coordinatorNode()
            _ = try await client.pool.connection(to: node).send(
                ConsumerGroupHeartbeatRequest(
                    groupId: groupId, memberId: memberId, memberEpoch: leaveEpoch,
                    instanceId: configuration.groupInstanceId,
                    rebalanceTimeoutMs: Int32(clamping: configuration.rebalanceTimeout.wholeMilliseconds),
                    sessionTimeoutMs: Int32(clamping: configuration.sessionTimeout.wholeMilliseconds),
                    subscribedTopics: [], ownedPartitions: []))
        } catch {
            client.logger.debug("leaving the group failed", metadata: ["error": "\(error)"])
        }
        group.withLock { g in
            g.memberEpoch = 0
            g.owned = []
        }
    }

    static func lists(_ tps: Set<TopicPartition>) -> [TopicPartitionList] {
        Dictionary(grouping: tps, by: \.topic).sorted { $0.key < $1.key }.map {
            TopicPartitionList(name: $0.key, partitions: $0.value.map(\.partition).sorted())
        }
    }
}

extension Duration {
    /// Whole milliseconds.
    var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
