import Synchronization
import TernStorage
import TernWire
import XCTest

@testable import TernBroker

/// The coordinator's state machine, driven deterministically: members, epochs, balanced sticky
/// targets, the incremental hand-off, fencing, static members, and the bad-input error codes.
final class GroupCoordinatorStateTests: XCTestCase {
    /// A coordinator with a fake clock and topic table.
    struct Harness {
        var state: GroupCoordinatorState
        var counts: [String: Int32] = ["t": 6]
        var now: Int64 = 1_000
        /// The last epoch and assignment each member received.
        var epochs: [String: Int32] = [:]
        var assigned: [String: Set<TopicPartition>] = [:]
        var lastRecords: [GroupRecord] = []
        /// The subscription every heartbeat carries unless told otherwise.
        var topics = ["t"]

        init(led: Set<Int32>? = nil) {
            let ids = Mutex(0)
            state = GroupCoordinatorState(
                settings: .init(
                    offsetsPartitions: 5, ledPartitions: led, heartbeatIntervalMs: 100, minSessionTimeoutMs: 1000,
                    maxSessionTimeoutMs: 10_000),
                newMemberId: {
                    ids.withLock {
                        $0 += 1
                        return "m\($0)"
                    }
                })
        }

        mutating func send(
            _ memberId: String, epoch: Int32, instance: String? = nil, session: Int32 = 3000,
            topics: [String]? = nil, owned: Set<TopicPartition>? = nil, group: String = "g"
        ) -> ConsumerGroupHeartbeatResponse {
            let counts = self.counts
            let request = ConsumerGroupHeartbeatRequest(
                groupId: group, memberId: memberId, memberEpoch: epoch, instanceId: instance, rebalanceTimeoutMs: 5000,
                sessionTimeoutMs: session, subscribedTopics: topics ?? self.topics,
                ownedPartitions: GroupRecord.lists(owned ?? assigned[memberId] ?? []))
            let outcome = state.heartbeat(request, clientId: "c", clientHost: "h", nowMs: now, counts: { counts[$0] })
            lastRecords = outcome.change?.records ?? []
            apply(outcome)
            let r = outcome.response
            if r.errorCode == .none && r.memberEpoch > 0 {
                epochs[r.memberId] = r.memberEpoch
                assigned[r.memberId] = GroupCoordinatorState.set(r.assignment)
            }
            return r
        }

        /// Applies a decided outcome, as the coordinator does once its records are durable.
        @discardableResult
        mutating func apply<R>(_ outcome: GroupCoordinatorState.Outcome<R>) -> GroupCoordinatorState.Outcome<R> {
            if let change = outcome.change { state.apply(change) }
            return outcome
        }

        /// One timer tick at `now`: every expired group's change applied.
        mutating func tick() {
            let counts = self.counts
            for id in state.expiredGroups(nowMs: now) {
                if let change = state.expire(id, nowMs: now, counts: { counts[$0] }) { state.apply(change) }
            }
        }

        /// Joins a new member; returns its id.
        mutating func join(instance: String? = nil, topics: [String]? = nil) -> String {
            let r = send("", epoch: 0, instance: instance, topics: topics)
            XCTAssertEqual(r.errorCode, .none, r.errorMessage ?? "")
            return r.memberId
        }

        /// One heartbeat from `member`, owning what it was last given.
        @discardableResult
        mutating func beat(_ member: String) -> ConsumerGroupHeartbeatResponse {
            send(member, epoch: epochs[member] ?? 0)
        }

        /// Heartbeats every member in turn until nothing changes.
        mutating func settle(_ members: [String]) {
            for _ in 0..<10 { for m in members { beat(m) } }
        }

        func count(_ member: String) -> Int { assigned[member]?.count ?? 0 }
    }

    func tp(_ p: Int32, _ topic: String = "t") -> TopicPartition { TopicPartition(topic, p) }

    func testThreeMembersShareSixPartitionsTwoEach() {
        var h = Harness()
        let members = (0..<3).map { _ in h.join() }
        h.settle(members)
        XCTAssertEqual(members.map { h.count($0) }, [2, 2, 2])
        let all = members.reduce(into: Set<TopicPartition>()) { $0.formUnion(h.assigned[$1] ?? []) }
        XCTAssertEqual(all.count, 6)
        XCTAssertEqual(h.state.groups["g"]?.state, "Stable")
    }

    func testAPartitionMovesOnlyAfterItsOwnerReleasedIt() {
        var h = Harness()
        let a = h.join()
        XCTAssertEqual(h.count(a), 6)
        let b = h.join()
        XCTAssertEqual(h.count(b), 0, "nothing is free while a still owns everything")
        // a learns its smaller assignment but (still processing) keeps reporting all six.
        let shrunk = h.send(a, epoch: h.epochs[a]!, owned: Set((0..<6).map { tp($0) }))
        XCTAssertEqual(GroupCoordinatorState.set(shrunk.assignment).count, 3)
        XCTAssertEqual(h.beat(b).assignment.flatMap(\.partitions).count, 0, "a has not released yet")
        XCTAssertEqual(h.state.groups["g"]?.state, "Reconciling")
        // a releases; b gets exactly the released three.
        h.beat(a)
        h.beat(b)
        XCTAssertEqual(h.count(b), 3)
        XCTAssertTrue(h.assigned[a]!.isDisjoint(with: h.assigned[b]!))
    }

    func testLeaveHandsPartitionsToTheOthersWithoutRevokingTheirs() {
        var h = Harness()
        let members = (0..<3).map { _ in h.join() }
        h.settle(members)
        let before = h.assigned
        let left = h.send(members[2], epoch: ConsumerGroupHeartbeatRequest.leaveEpoch)
        XCTAssertEqual(left.errorCode, .none)
        XCTAssertEqual(left.memberEpoch, -1)
        h.settle(Array(members[0..<2]))
        for m in members[0..<2] {
            XCTAssertEqual(h.count(m), 3)
            XCTAssertTrue(before[m]!.isSubset(of: h.assigned[m]!), "\(m) kept what it had")
        }
        // A new member joins: balance returns to 2/2/2, the two keep two of theirs.
        let c = h.join()
        h.settle(Array(members[0..<2]) + [c])
        XCTAssertEqual([members[0], members[1], c].map { h.count($0) }, [2, 2, 2])
    }

    func testSessionTimeoutFencesAMemberAndItsCommitIsRefused() {
        var h = Harness()
        let a = h.join()
        let b = h.join()
        h.settle([a, b])
        let epochOfB = h.epochs[b]!
        // a keeps heartbeating, b goes silent past its 3 s session.
        for _ in 0..<40 {
            h.now += 100
            h.beat(a)
            h.tick()
        }
        XCTAssertEqual(h.count(a), 6)
        XCTAssertNil(h.state.groups["g"]?.members[b])
        let commit = h.apply(
            h.state.commit(
                OffsetCommitRequest(
                    groupId: "g", memberId: b, memberEpoch: epochOfB,
                    topics: [.init(name: "t", partitions: [.init(partition: 0, offset: 5)])]), counts: { _ in 6 }))
        XCTAssertEqual(commit.response.errorCode, .fencedMemberEpoch)
        XCTAssertEqual(commit.response.topics[0].partitions[0].errorCode, .fencedMemberEpoch)
        XCTAssertNil(commit.change)
        XCTAssertNil(h.state.groups["g"]?.offsets[tp(0)])
        XCTAssertEqual(h.beat(b).errorCode, .fencedMemberEpoch)
    }

    func testAMemberThatDoesNotReleaseWithinItsRebalanceTimeoutIsFenced() {
        var h = Harness()
        let a = h.join()
        let b = h.join()
        let all = Set((0..<6).map { tp($0) })
        // a keeps claiming all six (rebalance timeout 5 s) while heartbeating on time.
        for _ in 0..<70 {
            h.now += 100
            _ = h.send(a, epoch: h.epochs[a]!, owned: all)
            h.beat(b)
            h.tick()
        }
        XCTAssertNil(h.state.groups["g"]?.members[a], "fenced for not releasing")
        XCTAssertEqual(h.count(b), 6)
    }

    func testBadMembersAndEpochsGetTheirOwnCodesAndChangeNothing() {
        var h = Harness()
        let a = h.join()
        h.settle([a])
        let epoch = h.epochs[a]!
        let snapshot = GroupCoordinatorState.snapshot(h.state.groups["g"]!)
        XCTAssertEqual(h.send("nobody", epoch: 3).errorCode, .unknownMemberId)
        XCTAssertEqual(h.send(a, epoch: epoch + 5).errorCode, .fencedMemberEpoch)
        XCTAssertEqual(h.send("", epoch: 0, session: 50).errorCode, .invalidSessionTimeout)
        XCTAssertEqual(h.send("", epoch: 0, session: 50, group: "").errorCode, .invalidGroupId)
        func commit(_ member: String, _ epoch: Int32) -> ErrorCode {
            h.apply(
                h.state.commit(
                    OffsetCommitRequest(
                        groupId: "g", memberId: member, memberEpoch: epoch,
                        topics: [.init(name: "t", partitions: [.init(partition: 1, offset: 9)])]), counts: { _ in 6 })
            ).response.errorCode
        }
        XCTAssertEqual(commit("nobody", 1), .unknownMemberId)
        XCTAssertEqual(commit(a, epoch - 1), .staleMemberEpoch)
        XCTAssertEqual(commit(a, epoch + 1), .fencedMemberEpoch)
        XCTAssertEqual(commit("", -1), .nonEmptyGroup)
        XCTAssertEqual(
            h.apply(h.state.reset(groupId: "g", offsets: [tp(0): 0], dryRun: false)).response.errorCode,
            .nonEmptyGroup)
        XCTAssertEqual(h.apply(h.state.delete("g")).response.errorCode, .nonEmptyGroup)
        XCTAssertEqual(GroupCoordinatorState.snapshot(h.state.groups["g"]!), snapshot)
        XCTAssertTrue(h.state.groups["g"]!.offsets.isEmpty)
        XCTAssertEqual(commit(a, epoch), .none)
        XCTAssertEqual(h.state.groups["g"]!.offsets[tp(1)], 9)
    }

    func testAGroupThisBrokerDoesNotCoordinateGetsNotCoordinator() {
        let partition = GroupCoordinatorState.coordinatorPartition("g", partitions: 5)
        var h = Harness(led: Set(0..<5).subtracting([partition]))
        XCTAssertEqual(h.send("", epoch: 0).errorCode, .notCoordinator)
        XCTAssertNil(h.state.groups["g"])
        XCTAssertEqual(h.state.fetch(OffsetFetchRequest(groupId: "g", topics: [])).errorCode, .notCoordinator)
    }

    func testStaticMemberComingBackKeepsItsPartitionsWithoutReassignment() {
        var h = Harness()
        let a = h.join(instance: "host-a")
        let b = h.join(instance: "host-b")
        h.settle([a, b])
        let mine = h.assigned[a]!
        let epochOfB = h.epochs[b]!
        XCTAssertEqual(
            h.send(a, epoch: ConsumerGroupHeartbeatRequest.staticLeaveEpoch, instance: "host-a").errorCode, .none)
        h.now += 1000
        h.beat(b)
        h.tick()
        XCTAssertEqual(h.count(b), 3, "b does not get a's partitions while a is away")
        XCTAssertEqual(h.epochs[b], epochOfB)
        let back = h.send("", epoch: 0, instance: "host-a", owned: [])
        XCTAssertEqual(back.errorCode, .none)
        XCTAssertEqual(back.memberId, a)
        XCTAssertEqual(GroupCoordinatorState.set(back.assignment), mine)
    }

    func testAStaticMemberThatDoesNotComeBackIsFencedAfterItsSession() {
        var h = Harness()
        let a = h.join(instance: "host-a")
        let b = h.join()
        h.settle([a, b])
        _ = h.send(a, epoch: ConsumerGroupHeartbeatRequest.staticLeaveEpoch, instance: "host-a")
        for _ in 0..<40 {
            h.now += 100
            h.beat(b)
            h.tick()
        }
        XCTAssertEqual(h.count(b), 6)
    }

    func testNewPartitionsAndNewTopicsArePickedUp() {
        var h = Harness()
        h.topics = ["t", "u"]
        let a = h.join()
        let b = h.join()
        h.settle([a, b])
        XCTAssertEqual(h.count(a) + h.count(b), 6)
        h.counts["t"] = 8
        h.counts["u"] = 2
        h.settle([a, b])
        XCTAssertEqual(h.count(a), 5)
        XCTAssertEqual(h.count(b), 5)
    }

    func testRecordsRebuildTheSameGroups() throws {
        var h = Harness()
        let a = h.join(instance: "host-a")
        let b = h.join()
        h.settle([a, b])
        var records: [GroupRecord] = []
        records +=
            h.state.commit(
                OffsetCommitRequest(
                    groupId: "g", memberId: a, memberEpoch: h.epochs[a]!,
                    topics: [.init(name: "t", partitions: [.init(partition: 2, offset: 42)])]), counts: { _ in 6 }
            ).change?.records ?? []
        records.append(.group("g", GroupCoordinatorState.snapshot(h.state.groups["g"]!)))
        var rebuilt = Harness().state
        for record in records {
            let decoded = try GroupRecord.decode(key: record.key, value: record.value, nowMs: 0)
            rebuilt.replay(decoded)
        }
        XCTAssertEqual(rebuilt.groups["g"]?.offsets[tp(2)], 42)
        XCTAssertEqual(rebuilt.groups["g"]?.members[a]?.assigned, h.assigned[a])
        XCTAssertEqual(rebuilt.groups["g"]?.members[a]?.instanceId, "host-a")
        XCTAssertEqual(rebuilt.groups["g"]?.members[b]?.memberEpoch, h.epochs[b])
        // Deleting writes tombstones that remove the group on replay.
        rebuilt.groups["g"]?.members = [:]
        for record in rebuilt.delete("g").change?.records ?? [] {
            XCTAssertNil(record.value)
            h.state.replay(try GroupRecord.decode(key: record.key, value: record.value, nowMs: 0))
        }
        XCTAssertNil(h.state.groups["g"])
    }

    /// Deciding returns the change and leaves the state alone; only `apply` changes it. Each change
    /// is one group's, with its records all for that group's partition.
    func testDecidingChangesNothingUntilTheChangeIsApplied() throws {
        var h = Harness()
        let partition = GroupCoordinatorState.coordinatorPartition("g", partitions: 5)
        let join = h.state.heartbeat(
            ConsumerGroupHeartbeatRequest(
                groupId: "g", memberId: "", memberEpoch: 0, instanceId: nil, rebalanceTimeoutMs: 5000,
                sessionTimeoutMs: 3000, subscribedTopics: ["t"], ownedPartitions: []),
            clientId: "c", clientHost: "h", nowMs: h.now, counts: { _ in 6 })
        XCTAssertNil(h.state.groups["g"], "a join is not in the state before it is applied")
        let joined = try XCTUnwrap(join.change)
        XCTAssertEqual(joined.groupId, "g")
        XCTAssertEqual(joined.partition, partition)
        XCTAssertEqual(joined.records.count, 1)
        guard case .group("g", let snapshot?) = joined.records.first else { return XCTFail("\(joined.records)") }
        XCTAssertEqual(snapshot.members.map(\.memberId), [join.response.memberId])
        h.state.apply(joined)
        XCTAssertEqual(h.state.groups["g"]?.members.count, 1)
        let member = join.response.memberId
        h.epochs[member] = join.response.memberEpoch
        h.assigned[member] = GroupCoordinatorState.set(join.response.assignment)

        // A heartbeat that changes nothing persisted: a change with no records (applied at once
        // by the coordinator), carrying the new heartbeat time.
        h.now += 500
        let beat = h.state.heartbeat(
            ConsumerGroupHeartbeatRequest(
                groupId: "g", memberId: member, memberEpoch: h.epochs[member]!, instanceId: nil,
                rebalanceTimeoutMs: 5000, sessionTimeoutMs: 3000, subscribedTopics: ["t"],
                ownedPartitions: GroupRecord.lists(h.assigned[member]!)),
            clientId: "c", clientHost: "h", nowMs: h.now, counts: { _ in 6 })
        XCTAssertEqual(beat.change?.records, [])
        XCTAssertEqual(beat.change?.group?.members[member]?.lastHeartbeatMs, h.now)
        XCTAssertEqual(h.state.groups["g"]?.members[member]?.lastHeartbeatMs, h.now - 500)

        // A commit: the offsets change only when applied.
        let commit = h.state.commit(
            OffsetCommitRequest(
                groupId: "g", memberId: member, memberEpoch: h.epochs[member]!,
                topics: [
                    .init(name: "t", partitions: [.init(partition: 0, offset: 3), .init(partition: 1, offset: 4)])
                ]),
            counts: { _ in 6 })
        XCTAssertEqual(commit.change?.records, [.offset(group: "g", tp(0), 3), .offset(group: "g", tp(1), 4)])
        XCTAssertTrue(h.state.groups["g"]!.offsets.isEmpty)
        h.state.apply(try XCTUnwrap(commit.change))
        XCTAssertEqual(h.state.groups["g"]?.offsets, [tp(0): 3, tp(1): 4])

        // A refused request has no change at all.
        XCTAssertNil(h.state.reset(groupId: "g", offsets: [tp(0): 0], dryRun: false).change)

        // Expiry: decided per group, applied separately.
        h.now += 10_000
        XCTAssertEqual(h.state.expiredGroups(nowMs: h.now), ["g"])
        let expired = try XCTUnwrap(h.state.expire("g", nowMs: h.now, counts: { _ in 6 }))
        XCTAssertEqual(expired.group?.members.count, 0)
        XCTAssertEqual(h.state.groups["g"]?.members.count, 1)
        h.state.apply(expired)
        XCTAssertEqual(h.state.expiredGroups(nowMs: h.now), [])
        XCTAssertNil(h.state.expire("g", nowMs: h.now, counts: { _ in 6 }))

        // A deletion: tombstones for every offset and the group, in the group's partition.
        let delete = h.state.delete("g")
        let deleted = try XCTUnwrap(delete.change)
        XCTAssertNil(deleted.group)
        XCTAssertEqual(deleted.partition, partition)
        XCTAssertEqual(
            deleted.records, [.offset(group: "g", tp(0), nil), .offset(group: "g", tp(1), nil), .group("g", nil)])
        XCTAssertNotNil(h.state.groups["g"])
        h.state.apply(deleted)
        XCTAssertNil(h.state.groups["g"])
        XCTAssertEqual(h.state.delete("g").response.errorCode, .groupIdNotFound)
    }

    func testAssignorIsBalancedAndSticky() {
        let subs: [String: Set<String>] = ["a": ["t"], "b": ["t"], "c": ["t"]]
        let first = GroupAssignor.assign(subscriptions: subs, partitionCounts: ["t": 7], previous: [:])
        XCTAssertEqual(first.values.map(\.count).sorted(), [2, 2, 3])
        var fewer = subs
        fewer["c"] = nil
        let second = GroupAssignor.assign(subscriptions: fewer, partitionCounts: ["t": 7], previous: first)
        XCTAssertEqual(second.values.map(\.count).sorted(), [3, 4])
        XCTAssertTrue(first["a"]!.isSubset(of: second["a"]!))
        XCTAssertTrue(first["b"]!.isSubset(of: second["b"]!))
    }
}
