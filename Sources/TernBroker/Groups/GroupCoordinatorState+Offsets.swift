import TernStorage
import TernWire

extension GroupCoordinatorState {
    /// Checks a member id and epoch sent with OffsetCommit or OffsetFetch. `-1` is a caller
    /// outside the group: accepted when `allowOutsider` says so.
    func checkMember(_ group: ConsumerGroup?, _ memberId: String, _ epoch: Int32, allowOutsider: Bool)
        -> (ErrorCode, String)?
    {
        let groupId = group?.groupId ?? ""
        if epoch == OffsetCommitRequest.noMemberEpoch {
            if allowOutsider { return nil }
            guard let group, !group.members.isEmpty else { return nil }
            return (
                .nonEmptyGroup,
                "group '\(groupId)' has \(group.members.count) members; only they can commit (with their member epoch)"
            )
        }
        guard epoch >= 0 else { return (.invalidRequest, "member epoch \(epoch) is not valid") }
        guard let member = group?.members[memberId] else {
            if group?.fenced.contains(memberId) == true {
                return (.fencedMemberEpoch, "member \(memberId) was fenced from group '\(groupId)'")
            }
            return (.unknownMemberId, "group '\(groupId)' has no member '\(memberId)'")
        }
        if epoch > member.memberEpoch {
            return (
                .fencedMemberEpoch, "member \(memberId) sent epoch \(epoch), newer than its epoch \(member.memberEpoch)"
            )
        }
        if epoch < member.memberEpoch {
            return (.staleMemberEpoch, "member \(memberId) sent epoch \(epoch), its epoch is now \(member.memberEpoch)")
        }
        return nil
    }

    // MARK: OffsetCommit

    /// Decides an OffsetCommit: the valid partitions' offsets, as one change of the group.
    func commit(_ r: OffsetCommitRequest, counts: PartitionCounts) -> Outcome<OffsetCommitResponse> {
        func fail(_ code: ErrorCode, _ message: String) -> Outcome<OffsetCommitResponse> {
            Outcome(
                response: OffsetCommitResponse(
                    errorCode: code, errorMessage: message,
                    topics: r.topics.map { t in
                        .init(
                            name: t.name,
                            partitions: t.partitions.map { .init(partition: $0.partition, errorCode: code) })
                    }))
        }
        if let (code, message) = check(group: r.groupId) { return fail(code, message) }
        if let (code, message) = checkMember(groups[r.groupId], r.memberId, r.memberEpoch, allowOutsider: false) {
            return fail(code, message)
        }
        var group = groups[r.groupId] ?? ConsumerGroup(groupId: r.groupId)
        var records: [GroupRecord] = []
        let topics = r.topics.map { topic in
            let count = counts(topic.name)
            return OffsetCommitResponse.Topic(
                name: topic.name,
                partitions: topic.partitions.map { p in
                    guard let count, p.partition >= 0, p.partition < count else {
                        return .init(partition: p.partition, errorCode: .unknownTopicOrPartition)
                    }
                    guard p.offset >= 0 else { return .init(partition: p.partition, errorCode: .invalidRequest) }
                    let tp = TopicPartition(topic.name, p.partition)
                    group.offsets[tp] = p.offset
                    records.append(.offset(group: r.groupId, tp, p.offset))
                    return .init(partition: p.partition)
                })
        }
        return Outcome(
            response: OffsetCommitResponse(topics: topics),
            change: records.isEmpty ? nil : change(r.groupId, to: group, records: records))
    }

    // MARK: OffsetFetch

    func fetch(_ r: OffsetFetchRequest) -> OffsetFetchResponse {
        if let (code, message) = check(group: r.groupId) {
            return OffsetFetchResponse(errorCode: code, errorMessage: message, topics: [])
        }
        let group = groups[r.groupId]
        if let (code, message) = checkMember(group, r.memberId, r.memberEpoch, allowOutsider: true) {
            return OffsetFetchResponse(errorCode: code, errorMessage: message, topics: [])
        }
        let offsets = group?.offsets ?? [:]
        if r.topics.isEmpty {
            let all = Dictionary(grouping: offsets.keys, by: \.topic).sorted { $0.key < $1.key }
            return OffsetFetchResponse(
                topics: all.map { topic, tps in
                    .init(
                        name: topic,
                        partitions: tps.sorted(by: GroupAssignor.order).map {
                            .init(partition: $0.partition, offset: offsets[$0] ?? -1)
                        })
                })
        }
        return OffsetFetchResponse(
            topics: r.topics.map { t in
                .init(
                    name: t.name,
                    partitions: t.partitions.map {
                        .init(partition: $0, offset: offsets[TopicPartition(t.name, $0)] ?? -1)
                    })
            })
    }

    // MARK: Reset, delete

    /// Decides storing `offsets` for an empty (or new) group.
    func reset(groupId: String, offsets: [TopicPartition: Int64], dryRun: Bool) -> Outcome<
        ResetGroupOffsetsResponse
    > {
        func fail(_ code: ErrorCode, _ message: String) -> Outcome<ResetGroupOffsetsResponse> {
            Outcome(response: ResetGroupOffsetsResponse(errorCode: code, errorMessage: message, partitions: []))
        }
        if let (code, message) = check(group: groupId) { return fail(code, message) }
        if let group = groups[groupId], !group.members.isEmpty {
            return fail(
                .nonEmptyGroup,
                "group '\(groupId)' has \(group.members.count) active members; stop them before resetting offsets")
        }
        let sorted = offsets.sorted { GroupAssignor.order($0.key, $1.key) }
        let response = ResetGroupOffsetsResponse(
            partitions: sorted.map { .init(partition: $0.key.partition, offset: $0.value) })
        guard !dryRun else { return Outcome(response: response) }
        var group = groups[groupId] ?? ConsumerGroup(groupId: groupId)
        for (tp, offset) in offsets { group.offsets[tp] = offset }
        return Outcome(
            response: response,
            change: change(groupId, to: group, records: sorted.map { .offset(group: groupId, $0.key, $0.value) }))
    }

    /// Decides deleting one empty group and its offsets. DeleteGroups asks this once per group:
    /// each group's deletion is its own change (its tombstones are one batch in its partition),
    /// with its own result, so groups on different partitions never share a fate.
    func delete(_ id: String) -> Outcome<DeleteGroupsResponse.Result> {
        if let (code, message) = check(group: id) {
            return Outcome(response: .init(groupId: id, errorCode: code, errorMessage: message))
        }
        guard let group = groups[id] else {
            return Outcome(
                response: .init(groupId: id, errorCode: .groupIdNotFound, errorMessage: "group '\(id)' does not exist"))
        }
        guard group.members.isEmpty else {
            return Outcome(
                response: .init(
                    groupId: id, errorCode: .nonEmptyGroup,
                    errorMessage: "group '\(id)' has \(group.members.count) active members"))
        }
        var tombstones: [GroupRecord] = group.offsets.keys.sorted(by: GroupAssignor.order).map {
            .offset(group: id, $0, nil)
        }
        tombstones.append(.group(id, nil))
        return Outcome(response: .init(groupId: id), change: change(id, to: nil, records: tombstones))
    }

    // MARK: List, describe

    func list() -> ListGroupsResponse {
        ListGroupsResponse(
            groups: groups.values.filter { check(group: $0.groupId) == nil }.sorted { $0.groupId < $1.groupId }.map {
                .init(groupId: $0.groupId, state: $0.state, memberCount: Int32($0.members.count))
            })
    }

    /// - Parameter logOffsets: a partition's log start and end offsets, nil when it does not exist.
    func describe(_ groupIds: [String], logOffsets: (TopicPartition) -> (start: Int64, end: Int64)?)
        -> DescribeGroupsResponse
    {
        DescribeGroupsResponse(
            groups: groupIds.map { id in
                if let (code, message) = check(group: id) {
                    return .init(
                        errorCode: code, errorMessage: message, groupId: id, state: "Dead", groupEpoch: -1, members: [],
                        offsets: [])
                }
                guard let group = groups[id] else {
                    return .init(
                        errorCode: .groupIdNotFound, errorMessage: "group '\(id)' does not exist", groupId: id,
                        state: "Dead", groupEpoch: -1, members: [], offsets: [])
                }
                let members = group.members.values.sorted { $0.memberId < $1.memberId }.map { m in
                    DescribeGroupsResponse.Member(
                        memberId: m.memberId, instanceId: m.instanceId, clientId: m.clientId, clientHost: m.clientHost,
                        memberEpoch: m.memberEpoch, subscribedTopics: m.subscribedTopics.sorted(),
                        assignment: GroupRecord.lists(m.assigned))
                }
                var tps = Set(group.offsets.keys)
                for m in group.members.values { tps.formUnion(m.assigned) }
                let offsets = Dictionary(grouping: tps, by: \.topic).sorted { $0.key < $1.key }.map { topic, tps in
                    TopicPartitions(
                        name: topic,
                        partitions: tps.sorted(by: GroupAssignor.order).map { tp in
                            let committed = group.offsets[tp] ?? -1
                            guard let log = logOffsets(tp) else {
                                return DescribeGroupsResponse.Offset(
                                    partition: tp.partition, committedOffset: committed, logEndOffset: -1, lag: -1)
                            }
                            let from = committed >= 0 ? committed : log.start
                            return DescribeGroupsResponse.Offset(
                                partition: tp.partition, committedOffset: committed, logEndOffset: log.end,
                                lag: max(0, log.end - from))
                        })
                }
                return .init(
                    groupId: id, state: group.state, groupEpoch: group.groupEpoch, members: members, offsets: offsets)
            })
    }
}
