import TernStorage
import TernWire

/// The consumer-group coordinator as an I/O-free state machine, in two steps: deciding (requests
/// and clock ticks go in; a response and a ``GroupChange`` of one group come out, and the state is
/// not touched) and applying (``apply(_:)`` makes a decided change the state). The broker's
/// ``GroupCoordinator`` decides under its lock, appends the change's records and waits for them
/// to be durable without the lock, then applies; so the state only ever holds what the log holds,
/// and a change whose records fail leaves it as it was. Tests drive it directly with a fake clock.
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

    /// A decided request: its response, and the change to make durable and apply before sending
    /// it (nil when nothing changes, e.g. a refused request).
    struct Outcome<Response: Sendable>: Sendable {
        var response: Response
        var change: GroupChange? = nil
    }

    /// The partition count of a topic, nil when it does not exist.
    typealias PartitionCounts = @Sendable (String) -> Int32?

    /// Mutable only for leadership (``Settings/ledPartitions`` and the partition count follow
    /// the metadata image: `GroupCoordinatorState+Leadership.swift`).
    var settings: Settings
    var groups: [String: ConsumerGroup] = [:]
    /// Led `__consumer_offsets` partitions whose groups are being read from the log: their
    /// groups answer COORDINATOR_LOAD_IN_PROGRESS until then.
    var loadingPartitions: Set<Int32> = []
    /// `__consumer_offsets` partitions whose flush failed: a batch that was written but maybe not
    /// kept, so what a restart replays for their groups is unknown until then. Their groups are
    /// not served (COORDINATOR_NOT_AVAILABLE) rather than served from a state the log may
    /// contradict; the log itself is offline after such a failure until a restart recovers it.
    var unavailablePartitions: Set<Int32> = []
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

    /// INVALID_GROUP_ID, COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR or
    /// COORDINATOR_NOT_AVAILABLE for a group this broker cannot serve.
    func check(group groupId: String) -> (ErrorCode, String)? {
        if let invalid = Self.checkId(groupId) { return invalid }
        if !loadingPartitions.isEmpty, loadingPartitions.contains(partition(of: groupId)) {
            return (
                .coordinatorLoadInProgress,
                "this broker is loading __consumer_offsets-\(partition(of: groupId)), which holds group '\(groupId)'"
            )
        }
        if let led = settings.ledPartitions, !led.contains(partition(of: groupId)) {
            return (
                .notCoordinator,
                "this broker does not coordinate group '\(groupId)' (__consumer_offsets-\(partition(of: groupId)))"
            )
        }
        if !unavailablePartitions.isEmpty, unavailablePartitions.contains(partition(of: groupId)) {
            return (
                .coordinatorNotAvailable,
                "__consumer_offsets-\(partition(of: groupId)), which holds group '\(groupId)', failed to flush; "
                    + "its groups are unavailable until the broker restarts"
            )
        }
        return nil
    }

    /// INVALID_GROUP_ID for an id no group may have.
    static func checkId(_ groupId: String) -> (ErrorCode, String)? {
        if groupId.isEmpty || groupId.utf8.count > 255 {
            return (.invalidGroupId, "group id must be 1-255 bytes of UTF-8")
        }
        return nil
    }

    /// Makes a decided change the state (once its records are durable). The change was decided
    /// on the group as it is now: the coordinator decides nothing else for that group meanwhile.
    mutating func apply(_ change: GroupChange) {
        groups[change.groupId] = change.group
    }

    /// The change that replaces a group with `group` (nil: removes it), with `records`.
    func change(_ groupId: String, to group: ConsumerGroup?, records: [GroupRecord]) -> GroupChange {
        GroupChange(groupId: groupId, partition: partition(of: groupId), group: group, records: records)
    }

    // MARK: Heartbeat

    /// Decides a ConsumerGroupHeartbeat (join, heartbeat, leave).
    func heartbeat(
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
            return Outcome(
                response: ConsumerGroupHeartbeatResponse(
                    memberId: memberId, memberEpoch: r.memberEpoch, heartbeatIntervalMs: interval, assignment: []),
                change: change(r.groupId, to: group, records: records(group, changedFrom: before)))

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
        let member = group.members[memberId]
        return Outcome(
            response: ConsumerGroupHeartbeatResponse(
                memberId: memberId, memberEpoch: member?.memberEpoch ?? -1, heartbeatIntervalMs: interval,
                assignment: GroupRecord.lists(member?.assigned ?? [])),
            change: change(r.groupId, to: group, records: records(group, changedFrom: before)))
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
    func refreshTarget(_ group: inout ConsumerGroup, _ counts: PartitionCounts) {
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

    /// Groups with a member whose session or revocation deadline passed at `nowMs`, sorted.
    func expiredGroups(nowMs: Int64) -> [String] {
        groups.values.filter { !expired($0, nowMs: nowMs).isEmpty }.map(\.groupId).sorted()
    }

    private func expired(_ group: ConsumerGroup, nowMs: Int64) -> [GroupMember] {
        group.members.values.filter { m in
            nowMs - m.lastHeartbeatMs > Int64(m.sessionTimeoutMs)
                || (m.revocationDeadlineMs.map { nowMs > $0 } ?? false)
        }
    }

    /// Decides the fencing of a group's expired members; nil when none has expired (any more).
    func expire(_ groupId: String, nowMs: Int64, counts: PartitionCounts) -> GroupChange? {
        guard var group = groups[groupId] else { return nil }
        let expired = expired(group, nowMs: nowMs)
        guard !expired.isEmpty else { return nil }
        let before = Self.snapshot(group)
        for member in expired.sorted(by: { $0.memberId < $1.memberId }) {
            group.members[member.memberId] = nil
            group.target[member.memberId] = nil
            group.remember(fenced: member.memberId)
        }
        group.groupEpoch += 1
        refreshTarget(&group, counts)
        return change(groupId, to: group, records: records(group, changedFrom: before))
    }

    // MARK: Records

    static func snapshot(_ group: ConsumerGroup) -> GroupRecord.GroupSnapshot {
        GroupRecord.GroupSnapshot(
            groupEpoch: group.groupEpoch, members: group.members.values.sorted { $0.memberId < $1.memberId })
    }

    /// The group record, when what is persisted of the group changed.
    func records(_ group: ConsumerGroup, changedFrom before: GroupRecord.GroupSnapshot) -> [GroupRecord] {
        let after = Self.snapshot(group)
        guard Self.persisted(after) != Self.persisted(before) else { return [] }
        return [.group(group.groupId, after)]
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

    /// Replays a record read back from `__consumer_offsets` at load.
    mutating func replay(_ record: GroupRecord) {
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
