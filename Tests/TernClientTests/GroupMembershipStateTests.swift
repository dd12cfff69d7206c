import TernWire
import XCTest

@testable import TernClient

/// The group consumer's membership machine driven without sockets, tasks or clocks: every event
/// is fed by hand at a made-up time and every action it asks for is checked.
final class GroupMembershipStateTests: XCTestCase {
    typealias Action = GroupMembershipState.Action

    let t0 = ContinuousClock.now
    let tp0 = TopicPartition(topic: "t", partition: 0)
    let tp1 = TopicPartition(topic: "t", partition: 1)
    let tp2 = TopicPartition(topic: "t", partition: 2)

    func at(_ ms: Int) -> ContinuousClock.Instant { t0 + .milliseconds(ms) }

    func settings(
        instanceId: String? = nil, autoCommit: Bool = true, autoCommitInterval: Duration = .seconds(5)
    ) -> GroupMembershipState.Settings {
        GroupMembershipState.Settings(
            groupId: "g", instanceId: instanceId, sessionTimeoutMs: 3000, rebalanceTimeoutMs: 6000,
            autoCommit: autoCommit, autoCommitInterval: autoCommitInterval, retryBackoff: .milliseconds(100),
            offsetReset: .earliest)
    }

    func heartbeat(
        memberId: String = "m", epoch: Int32, owned: Set<TopicPartition>, topics: [String] = ["t"],
        instanceId: String? = nil
    ) -> Action {
        .sendHeartbeat(
            ConsumerGroupHeartbeatRequest(
                groupId: "g", memberId: memberId, memberEpoch: epoch, instanceId: instanceId, rebalanceTimeoutMs: 6000,
                sessionTimeoutMs: 3000, subscribedTopics: topics, ownedPartitions: GroupMembershipState.lists(owned)),
            coordinator: 1)
    }

    func leaveHeartbeat(epoch: Int32, instanceId: String? = nil) -> Action {
        .sendHeartbeat(
            ConsumerGroupHeartbeatRequest(
                groupId: "g", memberId: "m", memberEpoch: epoch, instanceId: instanceId, rebalanceTimeoutMs: 6000,
                sessionTimeoutMs: 3000, subscribedTopics: [], ownedPartitions: []),
            coordinator: 1)
    }

    func ok(epoch: Int32, _ assignment: Set<TopicPartition>, intervalMs: Int32 = 200) -> ConsumerGroupHeartbeatResponse
    {
        ConsumerGroupHeartbeatResponse(
            memberId: "m", memberEpoch: epoch, heartbeatIntervalMs: intervalMs,
            assignment: GroupMembershipState.lists(assignment))
    }

    func error(_ code: ErrorCode) -> ConsumerGroupHeartbeatResponse {
        ConsumerGroupHeartbeatResponse(
            errorCode: code, memberId: "m", memberEpoch: -1, heartbeatIntervalMs: 200, assignment: [])
    }

    /// A member of epoch 1 that owns t-0 (committed at 5) and t-1 (no commit), subscribed at 0 ms and
    /// idle at 10 ms, next heartbeat due at 206 ms.
    func joined(_ settings: GroupMembershipState.Settings? = nil) -> GroupMembershipState {
        let settings = settings ?? self.settings()
        var m = GroupMembershipState(settings: settings)
        m.subscribe(topics: ["t"], now: at(0))
        XCTAssertEqual(m.tick(now: at(0)), .findCoordinator)
        XCTAssertEqual(
            m.coordinatorFound(1, now: at(1)),
            heartbeat(memberId: "", epoch: 0, owned: [], instanceId: settings.instanceId))
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 1, [tp0, tp1]), now: at(6)), .fetchCommittedOffsets([tp0, tp1]))
        XCTAssertEqual(
            m.committedOffsetsFetched([tp0: 5, tp1: -1], now: at(7)), .startFetching([tp0: .offset(5), tp1: .earliest]))
        XCTAssertEqual(m.fetchingStarted(now: at(8)), .invokeRebalance(.assigned([tp0, tp1])))
        let autoCommit = t0 + settings.autoCommitInterval
        XCTAssertEqual(
            m.rebalanceCallbackFinished(now: at(10)),
            .wait(until: settings.autoCommit ? min(at(206), autoCommit) : at(206)))
        return m
    }

    // MARK: Joining

    func testJoinThenAssignmentThenFetchThenHeartbeatsAtTheCoordinatorsInterval() {
        var m = GroupMembershipState(settings: settings())
        XCTAssertEqual(m.tick(now: at(0)), .wait(until: nil), "nothing to do before subscribing")
        m.subscribe(topics: ["t", "t"], now: at(0))
        XCTAssertEqual(m.tick(now: at(0)), .findCoordinator)
        XCTAssertEqual(m.tick(now: at(0)), .nothing, "one action at a time")
        XCTAssertEqual(m.coordinatorFound(1, now: at(1)), heartbeat(memberId: "", epoch: 0, owned: []))
        // The answer names the member and its partitions; nothing is owned before it is fetched.
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 1, [tp0, tp1]), now: at(6)), .fetchCommittedOffsets([tp0, tp1]))
        XCTAssertEqual(m.memberId, "m")
        XCTAssertEqual(m.memberEpoch, 1)
        XCTAssertEqual(m.owned, [])
        // t-0 starts at its committed offset, t-1 (none committed) at the reset policy.
        XCTAssertEqual(
            m.committedOffsetsFetched([tp0: 5, tp1: -1], now: at(7)), .startFetching([tp0: .offset(5), tp1: .earliest]))
        XCTAssertEqual(m.fetchingStarted(now: at(8)), .invokeRebalance(.assigned([tp0, tp1])))
        XCTAssertEqual(m.owned, [tp0, tp1])
        XCTAssertEqual(m.commitIdentity.memberId, "m")
        XCTAssertEqual(m.commitIdentity.memberEpoch, 1)
        XCTAssertEqual(m.rebalanceCallbackFinished(now: at(10)), .wait(until: at(206)))
        XCTAssertEqual(m.tick(now: at(100)), .wait(until: at(206)))
        XCTAssertEqual(m.tick(now: at(206)), heartbeat(epoch: 1, owned: [tp0, tp1]))
        XCTAssertEqual(
            m.heartbeatResponse(ok(epoch: 1, [tp0, tp1], intervalMs: 50), now: at(210)), .wait(until: at(260)))
    }

    func testAutomaticCommitsSkipPartitionsThatDidNotMove() {
        var m = joined(settings(autoCommitInterval: .milliseconds(100)))
        XCTAssertEqual(m.tick(now: at(100)), .readPositions([tp0, tp1]))
        // t-0 is still at its committed offset 5; t-1 moved.
        XCTAssertEqual(m.positionsRead([tp0: 5, tp1: 3], now: at(101)), .commit([tp1: 3], .automatic))
        XCTAssertEqual(m.commitFinished(now: at(102)), .wait(until: at(200)))
        XCTAssertEqual(m.tick(now: at(200)), .readPositions([tp0, tp1]))
        XCTAssertEqual(m.positionsRead([tp0: 5, tp1: 3], now: at(201)), .wait(until: at(206)), "nothing moved")
        XCTAssertEqual(m.tick(now: at(206)), heartbeat(epoch: 1, owned: [tp0, tp1]))
    }

    func testAChangedSubscriptionIsSentAtOnce() {
        var m = joined()
        m.subscribe(topics: ["u", "t"], now: at(20))
        XCTAssertEqual(m.tick(now: at(20)), heartbeat(epoch: 1, owned: [tp0, tp1], topics: ["t", "u"]))
    }

    // MARK: Revoking

    func testARevocationStopsFetchingCallsBackCommitsAndOnlyThenReleases() {
        var m = joined()
        XCTAssertEqual(m.tick(now: at(206)), heartbeat(epoch: 1, owned: [tp0, tp1]))
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 2, [tp0]), now: at(210)), .stopFetching([tp1]))
        XCTAssertEqual(m.memberEpoch, 2)
        XCTAssertEqual(m.fetchingStopped(positions: [tp1: 7], now: at(211)), .invokeRebalance(.revoked([tp1])))
        // While the application's callback runs, t-1 is still owned and its position committable.
        XCTAssertEqual(m.owned, [tp0, tp1])
        XCTAssertEqual(m.revoking, [tp1: 7])
        XCTAssertEqual(m.tick(now: at(500)), .nothing, "no heartbeat while the callback runs")
        XCTAssertEqual(m.rebalanceCallbackFinished(now: at(600)), .commit([tp1: 7], .revoked))
        XCTAssertEqual(m.owned, [tp0, tp1], "not released before the commit finished")
        XCTAssertEqual(m.tick(now: at(700)), .nothing, "no heartbeat while the commit runs")
        // Released at once by the next heartbeat.
        XCTAssertEqual(m.commitFinished(now: at(800)), heartbeat(epoch: 2, owned: [tp0]))
        XCTAssertEqual(m.owned, [tp0])
        XCTAssertEqual(m.revoking, [:])
        XCTAssertEqual(m.committed[tp1], 7)
    }

    func testARevocationReleasesAfterAFailedCommitAndSkipsOneTheApplicationMade() {
        var failed = joined()
        _ = failed.tick(now: at(206))
        _ = failed.heartbeatResponse(ok(epoch: 2, [tp0]), now: at(210))
        _ = failed.fetchingStopped(positions: [tp1: 7], now: at(211))
        XCTAssertEqual(failed.rebalanceCallbackFinished(now: at(212)), .commit([tp1: 7], .revoked))
        XCTAssertEqual(
            failed.commitFailed(TernError(.timedOut, "no answer"), now: at(213)), heartbeat(epoch: 2, owned: [tp0]))

        var committedInCallback = joined()
        _ = committedInCallback.tick(now: at(206))
        _ = committedInCallback.heartbeatResponse(ok(epoch: 2, [tp0]), now: at(210))
        _ = committedInCallback.fetchingStopped(positions: [tp1: 7], now: at(211))
        committedInCallback.recordCommitted([tp1: 7])
        XCTAssertEqual(committedInCallback.rebalanceCallbackFinished(now: at(212)), heartbeat(epoch: 2, owned: [tp0]))

        var manual = joined(settings(autoCommit: false))
        _ = manual.tick(now: at(206))
        _ = manual.heartbeatResponse(ok(epoch: 2, [tp0]), now: at(210))
        _ = manual.fetchingStopped(positions: [tp1: 7], now: at(211))
        XCTAssertEqual(manual.rebalanceCallbackFinished(now: at(212)), heartbeat(epoch: 2, owned: [tp0]))
    }

    func testRevocationComesBeforeTheNewPartitionsAndOneHeartbeatReleasesAfterBoth() {
        var m = joined()
        _ = m.tick(now: at(206))
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 2, [tp0, tp2]), now: at(210)), .stopFetching([tp1]))
        XCTAssertEqual(m.fetchingStopped(positions: [tp1: 7], now: at(211)), .invokeRebalance(.revoked([tp1])))
        XCTAssertEqual(m.rebalanceCallbackFinished(now: at(212)), .commit([tp1: 7], .revoked))
        XCTAssertEqual(m.commitFinished(now: at(213)), .fetchCommittedOffsets([tp2]))
        XCTAssertEqual(m.committedOffsetsFetched([:], now: at(214)), .startFetching([tp2: .earliest]))
        XCTAssertEqual(m.fetchingStarted(now: at(215)), .invokeRebalance(.assigned([tp2])))
        XCTAssertEqual(m.rebalanceCallbackFinished(now: at(216)), heartbeat(epoch: 2, owned: [tp0, tp2]))
    }

    // MARK: Fencing

    func testAFencedMemberLosesItsPartitionsAndRejoinsWithEpochZero() {
        var m = joined()
        _ = m.tick(now: at(206))
        XCTAssertEqual(m.heartbeatResponse(error(.fencedMemberEpoch), now: at(210)), .stopFetching([tp0, tp1]))
        XCTAssertEqual(m.memberEpoch, 0)
        XCTAssertEqual(m.owned, [])
        XCTAssertEqual(m.memberId, "m", "a fenced member keeps its id")
        XCTAssertEqual(
            m.fetchingStopped(positions: [tp0: 9, tp1: 3], now: at(211)), .invokeRebalance(.lost([tp0, tp1])))
        XCTAssertEqual(m.revoking, [:], "lost partitions are not committed")
        XCTAssertEqual(m.rebalanceCallbackFinished(now: at(212)), heartbeat(epoch: 0, owned: []))
        XCTAssertEqual(m.commitIdentity.memberEpoch, OffsetCommitRequest.noMemberEpoch)
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 4, [tp1]), now: at(220)), .fetchCommittedOffsets([tp1]))
        XCTAssertEqual(m.memberEpoch, 4)
    }

    func testAnUnknownMemberRejoinsWithoutItsIdAndOneWithNothingRejoinsAtOnce() {
        var m = joined()
        _ = m.tick(now: at(206))
        XCTAssertEqual(m.heartbeatResponse(error(.unknownMemberId), now: at(210)), .stopFetching([tp0, tp1]))
        XCTAssertEqual(m.memberId, "")
        _ = m.fetchingStopped(positions: [:], now: at(211))
        XCTAssertEqual(m.rebalanceCallbackFinished(now: at(212)), heartbeat(memberId: "", epoch: 0, owned: []))
        XCTAssertEqual(
            m.heartbeatResponse(error(.fencedMemberEpoch), now: at(213)), heartbeat(memberId: "", epoch: 0, owned: []),
            "nothing to lose: no callback")
    }

    // MARK: Coordinator errors

    func testCoordinatorErrorsFindTheCoordinatorAgainWithAGrowingBackoff() {
        var m = joined()
        _ = m.tick(now: at(206))
        XCTAssertEqual(m.heartbeatResponse(error(.notCoordinator), now: at(210)), .wait(until: at(310)))
        XCTAssertNil(m.coordinator)
        XCTAssertEqual(m.tick(now: at(300)), .wait(until: at(310)))
        XCTAssertEqual(m.tick(now: at(310)), .findCoordinator)
        let unavailable = TernError.broker(.coordinatorNotAvailable, nil, context: "finding the coordinator")
        XCTAssertEqual(m.coordinatorLookupFailed(unavailable, now: at(310)), .wait(until: at(510)))
        XCTAssertEqual(m.tick(now: at(510)), .findCoordinator)
        XCTAssertEqual(
            m.coordinatorLookupFailed(TernError(.connectionFailed, "refused"), now: at(510)), .wait(until: at(910)))
        XCTAssertEqual(m.tick(now: at(910)), .findCoordinator)
        XCTAssertEqual(m.coordinatorLookupFailed(unavailable, now: at(910)), .wait(until: at(1710)))
        XCTAssertEqual(m.tick(now: at(1710)), .findCoordinator)
        XCTAssertEqual(m.coordinatorLookupFailed(unavailable, now: at(1710)), .wait(until: at(2710)), "capped at 1 s")
        XCTAssertEqual(m.tick(now: at(2710)), .findCoordinator)
        // Back with the same identity and partitions; a success resets the backoff.
        XCTAssertEqual(m.coordinatorFound(1, now: at(2711)), heartbeat(epoch: 1, owned: [tp0, tp1]))
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 1, [tp0, tp1]), now: at(2712)), .wait(until: at(2912)))
        _ = m.tick(now: at(2912))
        XCTAssertEqual(m.heartbeatFailed(TernError(.timedOut, "no answer"), now: at(3000)), .wait(until: at(3100)))
        XCTAssertEqual(m.tick(now: at(3100)), .findCoordinator)
        XCTAssertEqual(m.owned, [tp0, tp1], "coordinator trouble takes no partitions away")
        XCTAssertEqual(m.memberEpoch, 1)
        for code in [ErrorCode.coordinatorNotAvailable, .coordinatorLoadInProgress, .staleMemberEpoch] {
            var other = joined()
            _ = other.tick(now: at(206))
            XCTAssertEqual(other.heartbeatResponse(error(code), now: at(210)), .wait(until: at(310)), "\(code)")
            XCTAssertNil(other.coordinator)
        }
    }

    func testErrorsForTheApplicationAreReportedAndTheFatalOnesStopHeartbeats() {
        var m = joined()
        _ = m.tick(now: at(206))
        guard case .reportError(let reported) = m.heartbeatResponse(error(.invalidRequest), now: at(210)) else {
            return XCTFail("not reported")
        }
        XCTAssertEqual(reported.brokerError, .invalidRequest)
        XCTAssertEqual(m.coordinator, 1, "the coordinator answered: it is still the one")
        XCTAssertEqual(m.tick(now: at(210)), .wait(until: at(710)))
        XCTAssertEqual(m.tick(now: at(710)), heartbeat(epoch: 1, owned: [tp0, tp1]))

        var refused = GroupMembershipState(settings: settings())
        refused.subscribe(topics: ["t"], now: at(0))
        _ = refused.tick(now: at(0))
        _ = refused.coordinatorFound(1, now: at(1))
        guard case .reportError(let fatal) = refused.heartbeatResponse(error(.invalidSessionTimeout), now: at(2)) else {
            return XCTFail("not reported")
        }
        XCTAssertEqual(fatal.brokerError, .invalidSessionTimeout)
        XCTAssertEqual(refused.tick(now: at(2)), .wait(until: nil))
        XCTAssertEqual(refused.tick(now: at(60_000)), .wait(until: nil), "no more heartbeats")
        refused.leave(now: at(60_001))
        XCTAssertEqual(refused.tick(now: at(60_001)), .done, "never a member: nothing to commit or leave")
    }

    func testAStaleOrMalformedAnswerChangesNothing() {
        var m = joined()
        _ = m.tick(now: at(206))
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 3, [tp0, tp1]), now: at(210)), .wait(until: at(410)))
        _ = m.tick(now: at(410))
        // An answer with an older epoch (reordered, or from a coordinator that lost state) is not applied.
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 2, [tp2]), now: at(411)), .wait(until: at(611)))
        XCTAssertEqual(m.memberEpoch, 3)
        XCTAssertEqual(m.owned, [tp0, tp1])
        _ = m.tick(now: at(611))
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 0, [tp2]), now: at(612)), .wait(until: at(712)))
        XCTAssertEqual(m.memberEpoch, 3)
        XCTAssertEqual(m.owned, [tp0, tp1])
        // Answers to actions not asked for are ignored.
        XCTAssertEqual(m.fetchingStarted(now: at(613)), .nothing)
        XCTAssertEqual(m.commitFinished(now: at(613)), .nothing)
        XCTAssertEqual(m.owned, [tp0, tp1])
    }

    // MARK: Leaving

    func testLeavingCommitsThenLeavesWithEpochMinusOne() {
        var m = joined()
        m.leave(now: at(50))
        XCTAssertEqual(m.tick(now: at(50)), .readPositions([tp0, tp1]))
        XCTAssertEqual(m.positionsRead([tp0: 5, tp1: 4], now: at(51)), .commit([tp1: 4], .leaving))
        XCTAssertEqual(m.commitFinished(now: at(52)), leaveHeartbeat(epoch: -1))
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: -1, []), now: at(53)), .done)
        XCTAssertEqual(m.memberEpoch, 0)
        XCTAssertEqual(m.owned, [])
        XCTAssertEqual(m.tick(now: at(54)), .done)
        m.leave(now: at(55))
        XCTAssertEqual(m.tick(now: at(55)), .done, "leaving twice leaves once")
    }

    func testAStaticMemberLeavesWithEpochMinusTwoAndWithoutAutoCommitNothingIsCommitted() {
        var m = joined(settings(instanceId: "host-a", autoCommit: false))
        m.leave(now: at(50))
        XCTAssertEqual(m.tick(now: at(50)), leaveHeartbeat(epoch: -2, instanceId: "host-a"))
        XCTAssertEqual(m.heartbeatFailed(TernError(.connectionFailed, "gone"), now: at(51)), .done)
    }

    func testLeavingBeforeJoiningOrWithoutACoordinatorSendsNothing() {
        var never = GroupMembershipState(settings: settings())
        never.leave(now: at(0))
        XCTAssertEqual(never.tick(now: at(0)), .done)

        var joining = GroupMembershipState(settings: settings())
        joining.subscribe(topics: ["t"], now: at(0))
        XCTAssertEqual(joining.tick(now: at(0)), .findCoordinator)
        joining.leave(now: at(1))
        XCTAssertEqual(joining.coordinatorFound(1, now: at(2)), .done)

        var lostCoordinator = joined(settings(autoCommit: false))
        _ = lostCoordinator.tick(now: at(206))
        XCTAssertEqual(lostCoordinator.heartbeatResponse(error(.notCoordinator), now: at(210)), .wait(until: at(310)))
        lostCoordinator.leave(now: at(220))
        XCTAssertEqual(lostCoordinator.tick(now: at(220)), .findCoordinator, "leaving does not wait out the backoff")
        XCTAssertEqual(
            lostCoordinator.coordinatorLookupFailed(TernError(.connectionFailed, "down"), now: at(221)), .done,
            "one attempt, then the session timeout does the rest")
    }

    func testLeavingDuringARevocationFinishesItsCommitButDoesNotReleaseSeparately() {
        var m = joined()
        _ = m.tick(now: at(206))
        _ = m.heartbeatResponse(ok(epoch: 2, [tp0]), now: at(210))
        XCTAssertEqual(m.fetchingStopped(positions: [tp1: 7], now: at(211)), .invokeRebalance(.revoked([tp1])))
        m.leave(now: at(212))
        XCTAssertEqual(m.rebalanceCallbackFinished(now: at(213)), .commit([tp1: 7], .revoked))
        XCTAssertEqual(m.commitFinished(now: at(214)), .readPositions([tp0]))
        XCTAssertEqual(m.positionsRead([tp0: 8], now: at(215)), .commit([tp0: 8], .leaving))
        XCTAssertEqual(m.commitFinished(now: at(216)), leaveHeartbeat(epoch: -1))
    }

    func testAHeartbeatAnswerArrivingAfterCloseIsIgnored() {
        var m = joined()
        XCTAssertEqual(m.tick(now: at(206)), heartbeat(epoch: 1, owned: [tp0, tp1]))
        m.leave(now: at(207))
        // The answer to the heartbeat in flight: its assignment is not taken (nothing stopped,
        // started or called back), only the identity the last commit needs.
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 2, [tp2]), now: at(210)), .readPositions([tp0, tp1]))
        XCTAssertEqual(m.memberEpoch, 2)
        XCTAssertEqual(m.owned, [tp0, tp1])
        XCTAssertEqual(m.positionsRead([tp0: 6, tp1: 0], now: at(211)), .commit([tp0: 6, tp1: 0], .leaving))
        XCTAssertEqual(m.commitIdentity.memberEpoch, 2, "the commit is not stale")
        XCTAssertEqual(m.commitFinished(now: at(212)), leaveHeartbeat(epoch: -1))
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: -1, []), now: at(213)), .done)
        // Once done, late answers change nothing.
        XCTAssertEqual(m.heartbeatResponse(ok(epoch: 5, [tp0, tp1, tp2]), now: at(300)), .nothing)
        XCTAssertEqual(m.heartbeatResponse(error(.fencedMemberEpoch), now: at(300)), .nothing)
        XCTAssertEqual(m.committedOffsetsFetched([tp2: 1], now: at(300)), .nothing)
        m.subscribe(topics: ["u"], now: at(301))
        XCTAssertEqual(m.tick(now: at(302)), .done)
        XCTAssertEqual(m.memberEpoch, 0)
        XCTAssertEqual(m.owned, [])
        XCTAssertEqual(m.topics, ["t"])

        var assigning = joined()
        _ = assigning.tick(now: at(206))
        XCTAssertEqual(
            assigning.heartbeatResponse(ok(epoch: 2, [tp0, tp1, tp2]), now: at(210)), .fetchCommittedOffsets([tp2]))
        assigning.leave(now: at(211))
        XCTAssertEqual(
            assigning.committedOffsetsFetched([tp2: 3], now: at(212)), .readPositions([tp0, tp1]),
            "a partition not yet started is not taken while leaving")
    }
}
