import TernStorage
import TernWire

/// The consumer-group coordinator as an I/O-free state machine: requests and clock ticks go in,
/// responses and the `__consumer_offsets` records that make the change durable come out. The
/// broker's ``GroupCoordinator`` holds it behind a lock and writes the records; tests drive it
/// directly with a fake clock.
struct GroupCoordinatorState: Sendable {
    struct Settings: Sendable {
        /// Partitions of `__consumer_offsets`.
        var offsetsPartitions: Int32
        /// The `__consumer_offsets` partitions this broker leads; nil: all of them.
        var ledPartitions: Set<Int32>?
        var heartbeatIntervalMs: Int32
        var minSessionTimeoutMs: Int32
        var maxSessionTimeoutMs: Int32
    }

    /// A response and the records to append (by `__consumer_offsets` partition) before sending it.
    struct Outcome<Response: Sendable>: Sendable {
        var response: Response
        var records: [Int32: [GroupRecord]] = [:]
    }

    /// The partition count of a topic, nil when it does not exist.
    typealias PartitionCounts = (String) -> Int32?

    let settings: Settings
    var groups: [String: ConsumerGroup] = [:]
    /// Makes member ids for joins that bring none.
    let newMemberId: @Sendable () -> String

    init(settings: Settings, newMemberId: @escaping @Sendable () -> String) {
        self.settings = settings
        self.newMemberId = newMemberId
    }

    /// The `__consumer_offsets` partition that holds `groupId`.
    static func coordinatorPartition(_ groupId: String, partitions: Int32) -> Int32 {
        (Murmur2.hash(Array(groupId.utf8)) & 0x7fff_ffff) % max(partitions, 1)
    }

    func partition(of groupId: String) -> Int32 {
        Self.coordinatorPartition(groupId, partitions: settings.offsetsPartitions)
    }

    /// INVALID_GROUP_ID or NOT_COORDINATOR for a group this broker cannot serve.
    func check(group groupId: String) -> (ErrorCode, String)? {
        if groupId.isEmpty || groupId.utf8.count > 255 {
            return (.invalidGroupId, "group id must be 1-255 bytes of UTF-8")
        }
        if let led = settings.ledPartitions, !led.contains(partition(of: groupId)) {
            return (
                .notCoordinator,
                "this broker does not coordinate group '\(groupId)' (__consumer_offsets-\(partition(of: groupId)))"
            )
        }
        return nil
    }

    /// Restores a group to what it was (after a failed append).
    mutating func restore(_ groupId: String, _ group: ConsumerGroup?) {
        groups[groupId] = group
    }

    // MARK: Heartbeat

    mutating func heartbeat(
        _ r: ConsumerGroupHeartbeatRequest, clientId: String, clientHost: String, nowMs: Int64, counts: PartitionCounts
    ) -> Outcome<ConsumerGroupHeartbeatResponse> {
        let interval = settings.heartbeatIntervalMs
        func fail(_ code: ErrorCode, _ message: String) -> Outcome<ConsumerGroupHeartbeatResponse> {
            Outcome(
                response: ConsumerGroupHeartbeatResponse(
                    errorCode: code, errorMessage: message, memberId: r.memberId, memberEpoch: -1,
                    heartbeatIntervalMs: interval, assignment: []))
        }
        if let (code, message) = check(group: r.groupId) { return fail(code, message) }
        var group = groups[r.groupId] ?? ConsumerGroup(groupId: r.groupId)
        let before = Self.snapshot(group)
        var memberId = r.memberId
        let sessionOK =
            r.sessionTimeoutMs >= settings.minSessionTimeoutMs && r.sessionTimeoutMs <= settings.maxSessionTimeoutMs
        let sessionError =
            "session timeout \(r.sessionTimeoutMs) ms is outside group.min.session.timeout.ms "
            + "\(settings.minSessionTimeoutMs) ... group.max.session.timeout.ms \(settings.maxSessionTimeoutMs)"

        switch r.memberEpoch {
        case ConsumerGroupHeartbeatRequest.leaveEpoch, ConsumerGroupHeartbeatRequest.staticLeaveEpoch:
            guard var member = group.members[memberId] else { return unknownMember(group, memberId, fail) }
            if r.memberEpoch == ConsumerGroupHeartbeatRequest.staticLeaveEpoch && member.instanceId != nil {
                member.staticLeft = true
                member.lastHeartbeatMs = nowMs
                group.members[memberId] = member
            } else {
                group.members[memberId] = nil
                group.target[memberId] = nil
                group.groupEpoch += 1
            }
            refreshTarget(&group, counts)
            groups[r.groupId] = group
            return Outcome(
                response: ConsumerGroupHeartbeatResponse(
                    memberId: memberId, memberEpoch: r.memberEpoch, heartbeatIntervalMs: interval, assignment: []),
                records: records(group, changedFrom: before))

        case ConsumerGroupHeartbeatRequest.joinEpoch:
            guard sessionOK else { return fail(.invalidSessionTimeout, sessionError) }
            let subscription = Set(r.subscribedTopics)
            if let instanceId = r.instanceId,
                let old = group.members.values.first(where: { $0.instanceId == instanceId })
            {
                // A static member comes back (or a restarted process replaces its old self): it
                // takes over the old member's partitions, with no reassignment.
                group.members[old.memberId] = nil
                if old.staticLeft {
                    memberId = old.memberId
                } else {
                    group.remember(fenced: old.memberId)
                    memberId = r.memberId.isEmpty || r.memberId == old.memberId ? newMemberId() : r.memberId
                }
                if let target = group.target.removeValue(forKey: old.memberId) { group.target[memberId] = target }
                var member = old
                member.memberId = memberId
                member.staticLeft = false
                member.previousEpoch = old.memberEpoch + 1
                member.memberEpoch = old.memberEpoch + 1
                member.owned = []
                member.clientId = clientId
                member.clientHost = clientHost
                member.sessionTimeoutMs = r.sessionTimeoutMs
                member.rebalanceTimeoutMs = r.rebalanceTimeoutMs
                member.lastHeartbeatMs = nowMs
                member.revocationDeadlineMs = nil
                if member.subscribedTopics != subscription {
                    member.subscribedTopics = subscription
                    group.groupEpoch += 1
                }
                group.members[memberId] = member
            } else {
                if memberId.isEmpty || group.fenced.contains(memberId) { memberId = newMemberId() }
                if group.members[memberId] != nil {
                    // Rejoining from scratch: whatever it held is released.
                    group.members[memberId] = nil
                    group.target[memberId] = nil
                }
                group.members[memberId] = GroupMember(
                    memberId: memberId, instanceId: r.instanceId, clientId: clientId, clientHost: clientHost,
                    memberEpoch: 1, previousEpoch: 0, sessionTimeoutMs: r.sessionTimeoutMs,
                    rebalanceTimeoutMs: r.rebalanceTimeoutMs, subscribedTopics: subscription, assigned: [], owned: [],
                    staticLeft: false, lastHeartbeatMs: nowMs, revocationDeadlineMs: nil)
                group.groupEpoch += 1
            }

        default:
            guard r.memberEpoch > 0, !memberId.isEmpty else {
                return fail(.invalidRequest, "member epoch \(r.memberEpoch) with member id '\(memberId)' is not valid")
            }
            guard var member = group.members[memberId] else { return unknownMember(group, memberId, fail) }
            guard r.memberEpoch == member.memberEpoch || r.memberEpoch == member.previousEpoch else {
                return fail(
                    .fencedMemberEpoch,
                    "member \(memberId) sent epoch \(r.memberEpoch), its epoch is \(member.memberEpoch); rejoin")
            }
            guard sessionOK else { return fail(.invalidSessionTimeout, sessionError) }
            member.owned = Self.set(r.ownedPartitions)
            member.lastHeartbeatMs = nowMs
            member.staticLeft = false
            member.sessionTimeoutMs = r.sessionTimeoutMs
            member.rebalanceTimeoutMs = r.rebalanceTimeoutMs
            member.clientId = clientId
            member.clientHost = clientHost
            let subscription = Set(r.subscribedTopics)
            if member.subscribedTopics != subscription {
                member.subscribedTopics = subscription
                group.groupEpoch += 1
            }
            group.members[memberId] = member
        }

        refreshTarget(&group, counts)
        reconcile(&group, memberId, nowMs: nowMs)
        groups[r.groupId] = group
        let member = group.members[memberId]
        return Outcome(
            response: ConsumerGroupHeartbeatResponse(
                memberId: memberId, memberEpoch: member?.memberEpoch ?? -1, heartbeatIntervalMs: interval,
                assignment: GroupRecord.lists(member?.assigned ?? [])),
            records: records(group, changedFrom: before))
    }

    private func unknownMember(
        _ group: ConsumerGroup, _ memberId: String,
        _ fail: (ErrorCode, String) -> Outcome<ConsumerGroupHeartbeatResponse>
    ) -> Outcome<ConsumerGroupHeartbeatResponse> {
        if group.fenced.contains(memberId) {
            return fail(.fencedMemberEpoch, "member \(memberId) was fenced from group '\(group.groupId)'; rejoin")
        }
        return fail(.unknownMemberId, "group '\(group.groupId)' has no member \(memberId)")
    }

    /// Recomputes the target assignment when the group epoch or a subscribed topic's partition
    /// count changed.
    mutating func refreshTarget(_ group: inout ConsumerGroup, _ counts: PartitionCounts) {
        var current: [String: Int32] = [:]
        for topic in Set(group.members.values.flatMap(\.subscribedTopics)) {
            if let count = counts(topic) { current[topic] = count }
        }
        if current != group.partitionCounts {
            group.partitionCounts = current
            if !group.members.isEmpty { group.groupEpoch += 1 }
        }
        guard group.targetEpoch != group.groupEpoch else { return }
        var previous: [String: Set<TopicPartition>] = [:]
        for (id, member) in group.members { previous[id] = group.target[id] ?? member.assigned }
        group.target = GroupAssignor.assign(
            subscriptions: group.members.mapValues(\.subscribedTopics), partitionCounts: current, previous: previous)
        group.targetEpoch = group.groupEpoch
    }

    /// Gives `memberId` what it may have now: what it keeps of its target, plus target partitions
    /// nobody else holds (assigned or not yet released).
    func reconcile(_ group: inout ConsumerGroup, _ memberId: String, nowMs: Int64) {
        guard var member = group.members[memberId] else { return }
        let target = group.target[memberId] ?? []
        var heldByOthers = Set<TopicPartition>()
        for (id, other) in group.members where id != memberId { heldByOthers.formUnion(other.holding) }
        let next = member.assigned.intersection(target).union(
            target.subtracting(member.assigned).subtracting(heldByOthers))
        if next != member.assigned {
            member.previousEpoch = member.memberEpoch
            member.memberEpoch += 1
            member.assigned = next
        }
        if member.owned.isSubset(of: member.assigned) {
            member.revocationDeadlineMs = nil
        } else if member.revocationDeadlineMs == nil {
            member.revocationDeadlineMs = nowMs + Int64(member.rebalanceTimeoutMs)
        }
        group.members[memberId] = member
    }

    // MARK: Timeouts

    /// Fences members whose session or revocation deadline passed; returns the records.
    mutating func tick(nowMs: Int64, counts: PartitionCounts) -> [Int32: [GroupRecord]] {
        var out: [Int32: [GroupRecord]] = [:]
        for (id, var group) in groups {
            let expired = group.members.values.filter { m in
                nowMs - m.lastHeartbeatMs > Int64(m.sessionTimeoutMs)
                    || (m.revocationDeadlineMs.map { nowMs > $0 } ?? false)
            }
            guard !expired.isEmpty else { continue }
            let before = Self.snapshot(group)
            for member in expired {
                group.members[member.memberId] = nil
                group.target[member.memberId] = nil
                group.remember(fenced: member.memberId)
            }
            group.groupEpoch += 1
            refreshTarget(&group, counts)
            groups[id] = group
            out.merge(records(group, changedFrom: before)) { $0 + $1 }
        }
        return out
    }

    // MARK: Records

    static func snapshot(_ group: ConsumerGroup) -> GroupRecord.GroupSnapshot {
        GroupRecord.GroupSnapshot(
            groupEpoch: group.groupEpoch, members: group.members.values.sorted { $0.memberId < $1.memberId })
    }

    /// The group record, when what is persisted of the group changed.
    func records(_ group: ConsumerGroup, changedFrom before: GroupRecord.GroupSnapshot) -> [Int32: [GroupRecord]] {
        let after = Self.snapshot(group)
        guard Self.persisted(after) != Self.persisted(before) else { return [:] }
        return [partition(of: group.groupId): [.group(group.groupId, after)]]
    }

    /// The persisted fields only (heartbeat times and owned sets change on every heartbeat).
    private static func persisted(_ s: GroupRecord.GroupSnapshot) -> [String] {
        ["\(s.groupEpoch)"]
            + s.members.map {
                "\($0.memberId)|\($0.instanceId ?? "-")|\($0.clientId)|\($0.clientHost)|\($0.memberEpoch)|"
                    + "\($0.sessionTimeoutMs)|\($0.rebalanceTimeoutMs)|\($0.subscribedTopics.sorted())|"
                    + "\($0.assigned.sorted(by: GroupAssignor.order))|\($0.staticLeft)"
            }
    }

    /// Applies a record read back from `__consumer_offsets` at load.
    mutating func apply(_ record: GroupRecord) {
        switch record {
        case .offset(let groupId, let tp, let offset):
            groups[groupId, default: ConsumerGroup(groupId: groupId)].offsets[tp] = offset
        case .group(let groupId, nil):
            groups[groupId] = nil
        case .group(let groupId, let snapshot?):
            var group = groups[groupId] ?? ConsumerGroup(groupId: groupId)
            group.groupEpoch = snapshot.groupEpoch
            group.members = Dictionary(snapshot.members.map { ($0.memberId, $0) }, uniquingKeysWith: { $1 })
            group.target = [:]
            group.targetEpoch = -1
            group.partitionCounts = [:]
            groups[groupId] = group
        }
    }

    static func set(_ lists: [TopicPartitionList]) -> Set<TopicPartition> {
        Set(lists.flatMap { t in t.partitions.map { TopicPartition(t.name, $0) } })
    }
}
