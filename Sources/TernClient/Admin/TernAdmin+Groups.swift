import Logging
import TernWire

extension TernAdmin {
    /// Every consumer group, sorted by id. Each broker lists the groups it coordinates, so every
    /// live broker of the cluster is asked (as Kafka's admin does).
    /// - Throws: ``TernError`` when a broker does not answer: a listing without its groups would
    ///   look complete.
    public func listGroups() async throws -> [GroupListing] {
        let brokers = try await client.metadata.refresh().brokers.keys.sorted()
        var groups: [String: GroupListing] = [:]
        try await withThrowingTaskGroup(of: ListGroupsResponse.self) { tasks in
            for node in brokers {
                tasks.addTask {
                    do {
                        return try await self.client.send(ListGroupsRequest(), to: node)
                    } catch let error as TernError {
                        throw TernError(error.code, "listing the groups of broker \(node): \(error.message)")
                    }
                }
            }
            for try await response in tasks {
                for group in response.groups where groups[group.groupId] == nil {
                    groups[group.groupId] = GroupListing(
                        groupId: group.groupId, state: group.state, memberCount: Int(group.memberCount))
                }
            }
        }
        return groups.values.sorted { $0.groupId < $1.groupId }
    }

    /// A group's state, members with their assignments, and committed offsets with lag.
    /// - Throws: ``TernError`` `.broker` with GROUP_ID_NOT_FOUND when there is no such group.
    public func describeGroup(_ groupId: String) async throws -> GroupDescription {
        let response = try await sendToCoordinator(groupId, DescribeGroupsRequest(groupIds: [groupId])) {
            $0.groups.first { $0.groupId == groupId }?.errorCode
        }
        guard let group = response.groups.first(where: { $0.groupId == groupId }) else {
            throw TernError(.protocolError, "describe group '\(groupId)': the response does not mention it")
        }
        guard group.errorCode == .none else {
            throw TernError.broker(group.errorCode, group.errorMessage, context: "describe group '\(groupId)'")
        }
        var owner: [TopicPartition: String] = [:]
        let members = group.members.map { m in
            let assignment = m.assignment.flatMap { t in
                t.partitions.map { TopicPartition(topic: t.name, partition: $0) }
            }
            for tp in assignment { owner[tp] = m.memberId }
            return GroupDescription.Member(
                memberId: m.memberId, instanceId: m.instanceId, clientId: m.clientId, clientHost: m.clientHost,
                memberEpoch: m.memberEpoch, subscribedTopics: m.subscribedTopics, assignment: assignment.sorted())
        }
        let partitions = group.offsets.flatMap { topic in
            topic.partitions.map { p in
                GroupDescription.PartitionOffsets(
                    topic: topic.name, partition: p.partition,
                    committedOffset: p.committedOffset >= 0 ? p.committedOffset : nil,
                    logEndOffset: p.logEndOffset >= 0 ? p.logEndOffset : nil, lag: p.lag >= 0 ? p.lag : nil,
                    memberId: owner[TopicPartition(topic: topic.name, partition: p.partition)])
            }
        }
        return GroupDescription(
            groupId: group.groupId, state: group.state, groupEpoch: group.groupEpoch, members: members,
            partitions: partitions)
    }

    /// Deletes a group without members and its committed offsets.
    /// - Throws: ``TernError`` `.broker` with GROUP_ID_NOT_FOUND or NON_EMPTY_GROUP.
    public func deleteGroup(_ groupId: String) async throws {
        let response = try await sendToCoordinator(groupId, DeleteGroupsRequest(groupIds: [groupId])) {
            $0.results.first { $0.groupId == groupId }?.errorCode
        }
        if let result = response.results.first(where: { $0.groupId == groupId }), result.errorCode != .none {
            throw TernError.broker(result.errorCode, result.errorMessage, context: "delete group '\(groupId)'")
        }
    }

    /// Moves the committed offsets of a group that has no active members.
    /// - Parameters:
    ///   - partitions: partitions of `topic` to reset; nil for all of them.
    ///   - dryRun: compute the new offsets without storing them.
    /// - Returns: the new offset of each partition.
    /// - Throws: ``TernError`` `.broker` with NON_EMPTY_GROUP while members are active,
    ///   `.unknownTopic` for a missing topic or partition.
    @discardableResult
    public func resetGroupOffsets(
        group groupId: String, topic: String, partitions: [Int32]? = nil, to target: OffsetResetTarget,
        dryRun: Bool = false
    ) async throws -> [TopicPartition: Int64] {
        let (strategy, value): (ResetGroupOffsetsRequest.Strategy, Int64) =
            switch target {
            case .earliest: (.earliest, 0)
            case .latest: (.latest, 0)
            case .offset(let offset): (.offset, offset)
            case .timestamp(let ms): (.timestamp, ms)
            }
        let response = try await sendToCoordinator(
            groupId,
            ResetGroupOffsetsRequest(
                groupId: groupId, topic: topic, partitions: partitions ?? [], strategy: strategy, value: value,
                dryRun: dryRun)
        ) { $0.errorCode }
        guard response.errorCode == .none else {
            throw TernError.broker(
                response.errorCode, response.errorMessage, context: "reset offsets of group '\(groupId)' on '\(topic)'")
        }
        var result: [TopicPartition: Int64] = [:]
        for p in response.partitions { result[TopicPartition(topic: topic, partition: p.partition)] = p.offset }
        return result
    }

    /// Sends to the group's coordinator (found with FindCoordinator). While the coordinator
    /// moves — FindCoordinator answers COORDINATOR_NOT_AVAILABLE, the broker found is unreachable,
    /// or its answer (`coordinatorError`) is NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or
    /// COORDINATOR_LOAD_IN_PROGRESS — it looks the coordinator up again and retries, with a
    /// doubling backoff, for up to 30 s; then the last answer or error is returned or thrown.
    func sendToCoordinator<R: WireRequest>(
        _ groupId: String, _ request: R, coordinatorError: @Sendable (R.Response) -> ErrorCode?
    ) async throws -> R.Response {
        let retried: Set<ErrorCode> = [.notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress]
        let deadline = ContinuousClock.now + .seconds(30)
        var backoff = Duration.milliseconds(100)
        while true {
            let last = ContinuousClock.now + backoff >= deadline
            do {
                let found = try await client.sendToAnyBroker(FindCoordinatorRequest(key: groupId))
                guard found.errorCode == .none else {
                    throw TernError.broker(
                        found.errorCode, found.errorMessage, context: "finding the coordinator of '\(groupId)'")
                }
                if client.metadata.current.brokers[found.nodeId] == nil { _ = try await client.metadata.refresh() }
                let response = try await client.send(request, to: found.nodeId)
                guard !last, let code = coordinatorError(response), retried.contains(code) else { return response }
            } catch let error as TernError where !last && error.isRetriable {
                client.logger.debug("retrying a group request", metadata: ["group": "\(groupId)", "error": "\(error)"])
            }
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(1))
        }
    }
}
