import TernRaft
import XCTest

/// The machine driven by hand: persistence rules, refusals, pre-vote and divergence.
final class RaftNodeTests: XCTestCase {
    func entries(_ epochs: [Int64]) -> [RaftEntry] {
        epochs.enumerated().map { RaftEntry(epoch: $1, data: [UInt8($0)]) }
    }

    func sends(_ effects: [RaftEffect]) -> [(RaftNodeId, RaftMessage)] {
        effects.compactMap { if case .send(let to, let m) = $0 { (to, m) } else { nil } }
    }

    func writes(_ effects: [RaftEffect]) -> [RaftWrite] {
        effects.compactMap { if case .persist(let w) = $0 { w } else { nil } }
    }

    func refusals(_ effects: [RaftEffect]) -> [RaftRefusal] {
        effects.compactMap { if case .refused(let r) = $0 { r } else { nil } }
    }

    func node(_ id: RaftNodeId, voters: [RaftNodeId] = [1, 2, 3], _ state: RaftPersistentState = .init()) -> RaftNode {
        RaftNode(config: RaftConfig(id: id, voters: voters, seed: 42), persisted: state, now: 0)
    }

    /// Persists every write in `effects` and returns the effects of the acknowledgement.
    func persistAll(_ n: inout RaftNode, _ effects: [RaftEffect], now: Tick) -> [RaftEffect] {
        guard let last = writes(effects).last else { return [] }
        return n.step(.persisted(seq: last.seq), now: now)
    }

    /// Makes node 1 of three the leader of `epoch + 1` through pre-vote and vote.
    func elect(_ n: inout RaftNode, now: Tick) -> [RaftEffect] {
        _ = n.step(.tick, now: now)
        XCTAssertEqual(n.role, .prospective)
        let next = n.epoch + 1
        let granted = RaftMessage.voteResponse(
            VoteResponse(epoch: n.epoch, candidateEpoch: next, granted: true, preVote: true))
        let candidacy = n.step(.message(from: 2, granted), now: now)
        XCTAssertEqual(n.role, .candidate)
        XCTAssertEqual(n.epoch, next)
        XCTAssertTrue(sends(candidacy).isEmpty, "vote requests left before the candidate's vote was durable")
        let released = persistAll(&n, candidacy, now: now)
        XCTAssertEqual(sends(released).count, 2)
        let vote = RaftMessage.voteResponse(
            VoteResponse(epoch: next, candidateEpoch: next, granted: true, preVote: false))
        let won = n.step(.message(from: 3, vote), now: now)
        XCTAssertEqual(n.role, .leader)
        return won
    }

    func testSingleVoterElectsItselfOnlyAfterPersistingAndCommitsWhatItPersisted() {
        var n = node(1, voters: [1])
        let start = n.step(.tick, now: 10_000)
        XCTAssertEqual(n.role, .candidate)
        XCTAssertEqual(writes(start).map(\.epoch), [1])
        let lead = persistAll(&n, start, now: 10_001)
        XCTAssertEqual(n.role, .leader)
        XCTAssertEqual(n.highWatermark, 0, "the control entry is not durable yet")
        let control = persistAll(&n, lead, now: 10_002)
        XCTAssertEqual(n.highWatermark, 1)
        XCTAssertTrue(control.contains(.apply(offset: 0, entries: [RaftEntry(epoch: 1, data: [])])))
        let proposed = n.step(.propose([[7], [8]]), now: 10_003)
        XCTAssertTrue(proposed.contains(.proposed(epoch: 1, firstOffset: 1, count: 2)))
        XCTAssertEqual(n.highWatermark, 1)
        let applied = persistAll(&n, proposed, now: 10_004)
        XCTAssertEqual(n.highWatermark, 3)
        XCTAssertTrue(
            applied.contains(
                .apply(offset: 1, entries: [RaftEntry(epoch: 1, data: [7]), RaftEntry(epoch: 1, data: [8])])))
    }

    func testVoteIsSentOnlyOnceDurable() {
        var n = node(2)
        let request = RaftMessage.vote(VoteRequest(epoch: 1, lastEpoch: 0, endOffset: 0, preVote: false))
        let effects = n.step(.message(from: 1, request), now: 5)
        XCTAssertEqual(n.votedFor, 1)
        XCTAssertTrue(sends(effects).isEmpty)
        XCTAssertEqual(writes(effects).first?.votedFor, 1)
        let released = persistAll(&n, effects, now: 6)
        XCTAssertEqual(
            sends(released).map(\.1),
            [.voteResponse(VoteResponse(epoch: 1, candidateEpoch: 1, granted: true, preVote: false))])
        // A second candidate in the same epoch is refused.
        let other = n.step(
            .message(from: 3, .vote(VoteRequest(epoch: 1, lastEpoch: 0, endOffset: 0, preVote: false))), now: 7)
        XCTAssertEqual(
            sends(other).map(\.1),
            [.voteResponse(VoteResponse(epoch: 1, candidateEpoch: 1, granted: false, preVote: false))])
    }

    func testUnknownVoterMalformedAndStaleInputsAreRefusedWithoutStateChange() {
        var n = node(2, voters: [1, 2, 3], RaftPersistentState(epoch: 5, votedFor: 1, entries: entries([1, 3, 5])))
        let bad: [(RaftNodeId, RaftMessage)] = [
            (9, .beginQuorumEpoch(epoch: 6)),  // unknown voter
            (2, .beginQuorumEpoch(epoch: 6)),  // itself
            (1, .fetch(FetchRequest(epoch: 6, fetchOffset: -1, lastFetchedEpoch: 0))),
            (1, .vote(VoteRequest(epoch: 7, lastEpoch: 9, endOffset: 3, preVote: false))),
            (
                1,
                .fetchResponse(
                    FetchResponse(
                        epoch: 6, leaderId: 1, fetchOffset: 0, lastFetchedEpoch: 0,
                        entries: [RaftEntry(epoch: 7, data: [])]))
            ),
            (3, .beginQuorumEpoch(epoch: 4)),  // stale epoch
            (3, .beginQuorumEpoch(epoch: .max)),  // an epoch that would overflow
        ]
        for (from, message) in bad {
            let effects = n.step(.message(from: from, message), now: 100)
            XCTAssertEqual(refusals(effects).count, 1, "\(message)")
            XCTAssertTrue(writes(effects).isEmpty, "\(message)")
            // Only the stale leader hears back, and only the newer epoch.
            XCTAssertTrue(sends(effects).allSatisfy { $0.1 == .beginQuorumEpochResponse(epoch: 5) }, "\(message)")
            XCTAssertEqual(n.epoch, 5)
            XCTAssertEqual(n.votedFor, 1)
            XCTAssertEqual(n.role, .unattached)
            XCTAssertEqual(n.log, entries([1, 3, 5]))
        }
        XCTAssertEqual(refusals(n.step(.persisted(seq: 3), now: 101)).count, 1)
        // An acknowledgement of a write not yet issued is refused too.
        var fresh = node(1, voters: [1])
        let issued = fresh.step(.tick, now: 10_000)
        XCTAssertEqual(refusals(fresh.step(.persisted(seq: 2), now: 10_001)).count, 1)
        XCTAssertEqual(fresh.role, .candidate)
        XCTAssertEqual(refusals(persistAll(&fresh, issued, now: 10_002)).count, 0)
        XCTAssertEqual(fresh.role, .leader)
    }

    func testPreVoteFromACutOffNodeNeitherBumpsEpochsNorUnseatsTheLeader() {
        // Node 2 follows leader 1 in epoch 1 and has just heard from it.
        var follower = node(2)
        _ = follower.step(.message(from: 1, .beginQuorumEpoch(epoch: 1)), now: 1_000)
        XCTAssertEqual(follower.role, .follower)
        // Node 3 comes back from a partition and pre-votes for epoch 2.
        let pre = RaftMessage.vote(VoteRequest(epoch: 2, lastEpoch: 0, endOffset: 0, preVote: true))
        let answer = follower.step(.message(from: 3, pre), now: 1_010)
        XCTAssertEqual(
            sends(answer).map(\.1),
            [.voteResponse(VoteResponse(epoch: 1, candidateEpoch: 2, granted: false, preVote: true, leaderId: 1))])
        XCTAssertEqual(follower.epoch, 1)
        XCTAssertEqual(follower.role, .follower)
        XCTAssertTrue(writes(answer).isEmpty)
        // The cut-off node itself, pre-voting, keeps its epoch until a majority would vote.
        var cutOff = node(3)
        _ = cutOff.step(.tick, now: 10_000)
        XCTAssertEqual(cutOff.role, .prospective)
        XCTAssertEqual(cutOff.epoch, 0)
        // The refusal names the leader only when the leader itself answers; then it follows.
        let fromLeader = RaftMessage.voteResponse(
            VoteResponse(epoch: 1, candidateEpoch: 1, granted: false, preVote: true, leaderId: 1))
        _ = cutOff.step(.message(from: 1, fromLeader), now: 10_001)
        XCTAssertEqual(cutOff.role, .follower)
        XCTAssertEqual(cutOff.leaderId, 1)
    }

    func testFollowerReportsOnlyDurableOffsetsAndTruncatesWhereTheLeaderSaysItDiverged() {
        // Follower 2 has an entry of epoch 3 that leader 1 (epoch 4) never had.
        var f = node(2, voters: [1, 2, 3], RaftPersistentState(epoch: 3, votedFor: nil, entries: entries([1, 1, 3])))
        let joined = f.step(.message(from: 1, .beginQuorumEpoch(epoch: 4)), now: 50)
        let fetch = sends(joined).last?.1
        XCTAssertEqual(fetch, .fetch(FetchRequest(epoch: 4, fetchOffset: 3, lastFetchedEpoch: 3)))
        // The leader (log epochs 1,1,2,2,4) answers: my largest epoch <= 3 is 2, ending at 4.
        var leader = node(
            1, voters: [1, 2, 3], RaftPersistentState(epoch: 3, votedFor: 1, entries: entries([1, 1, 2, 2])))
        let won = elect(&leader, now: 10_000)
        _ = persistAll(&leader, won, now: 10_001)
        XCTAssertEqual(leader.log.map(\.epoch), [1, 1, 2, 2, 4])
        let reply = sends(leader.step(.message(from: 2, fetch!), now: 10_002)).first!.1
        guard case .fetchResponse(let r) = reply else { return XCTFail("\(reply)") }
        XCTAssertEqual(r.diverging, .init(epoch: 2, endOffset: 4))
        let truncated = f.step(.message(from: 1, reply), now: 10_003)
        XCTAssertEqual(f.log.map(\.epoch), [1, 1], "truncated to its own end of epoch <= 2")
        XCTAssertEqual(writes(truncated).first?.fromOffset, 2)
        let refetch = sends(truncated).last!.1
        XCTAssertEqual(refetch, .fetch(FetchRequest(epoch: 4, fetchOffset: 2, lastFetchedEpoch: 1)))
        let data = sends(leader.step(.message(from: 2, refetch), now: 10_004)).first!.1
        let appended = f.step(.message(from: 1, data), now: 10_005)
        XCTAssertEqual(f.log.map(\.epoch), [1, 1, 2, 2, 4])
        // Until those entries are durable the follower still reports offset 2.
        _ = f.step(.tick, now: 10_100)
        XCTAssertEqual(f.durableEnd, 2)
        let acked = persistAll(&f, truncated + appended, now: 10_101)
        XCTAssertEqual(f.durableEnd, 5)
        XCTAssertEqual(sends(acked).last?.1, .fetch(FetchRequest(epoch: 4, fetchOffset: 5, lastFetchedEpoch: 4)))
        // The leader commits offset 5 once the follower reports it and its own entries are durable.
        _ = leader.step(.message(from: 2, sends(acked).last!.1), now: 10_102)
        XCTAssertEqual(leader.highWatermark, 5)
    }
}

/// The liveness bugs the simulator found (seeds 49, 773, 880, 1874, 3356), pinned by hand so they
/// stay covered when the simulator's choices change.
final class RaftLivenessTests: XCTestCase {
    func node(_ id: RaftNodeId, _ state: RaftPersistentState = .init()) -> RaftNode {
        RaftNode(config: RaftConfig(id: id, voters: [1, 2, 3], seed: 42), persisted: state, now: 0)
    }

    /// Seeds 773, 880: a node that bumped its epoch while cut off answers the old leader's
    /// announcement with its epoch, and the old leader moves up to it.
    func testStaleLeaderLearnsTheNewerEpochFromAnAnnouncementsAnswer() {
        var ahead = node(3, RaftPersistentState(epoch: 2, votedFor: 3))
        let answer = ahead.step(.message(from: 1, .beginQuorumEpoch(epoch: 1)), now: 10)
        XCTAssertTrue(answer.contains(.send(to: 1, .beginQuorumEpochResponse(epoch: 2))))
        var old = node(1, RaftPersistentState(epoch: 1, votedFor: 1))
        _ = old.step(.message(from: 3, .beginQuorumEpochResponse(epoch: 2)), now: 11)
        XCTAssertEqual(old.epoch, 2)
        XCTAssertEqual(old.role, .unattached)
    }

    /// Seeds 1874, 3356: a follower whose leader answers "not leader" (it resigned) stops
    /// following it, and a leader known only from another node's word does not count as alive
    /// when pre-votes arrive.
    func testResignedLeaderIsDroppedAndHearsayLeaderDoesNotBlockPreVotes() {
        var f = node(2)
        _ = f.step(.message(from: 1, .beginQuorumEpoch(epoch: 1)), now: 10)
        XCTAssertEqual(f.leaderId, 1)
        let resigned = RaftMessage.fetchResponse(
            FetchResponse(epoch: 1, leaderId: nil, failure: .notLeader, fetchOffset: 0, lastFetchedEpoch: 0))
        _ = f.step(.message(from: 1, resigned), now: 20)
        XCTAssertEqual(f.role, .unattached)
        XCTAssertNil(f.leaderId)
        // Node 3 hears "leader is 1" from node 2's fetch error, not from 1: it may still grant.
        var g = node(3, RaftPersistentState(epoch: 1))
        let hearsay = RaftMessage.fetchResponse(
            FetchResponse(epoch: 1, leaderId: 1, failure: .notLeader, fetchOffset: 0, lastFetchedEpoch: 0))
        _ = g.step(.message(from: 2, hearsay), now: 30)
        XCTAssertEqual(g.role, .follower)
        let pre = g.step(
            .message(from: 2, .vote(VoteRequest(epoch: 2, lastEpoch: 0, endOffset: 0, preVote: true))), now: 31)
        XCTAssertTrue(
            pre.contains(
                .send(
                    to: 2,
                    .voteResponse(VoteResponse(epoch: 1, candidateEpoch: 2, granted: true, preVote: true, leaderId: 1)))
            ))
    }
}

extension RaftLivenessTests {
    /// Seed 1874: a pre-vote refusal that names a leader counts only from that leader itself;
    /// another voter's idea of the leader may be stale (it may have resigned).
    func testPreVoteRefusalNamingAnotherNodeAsLeaderIsNotFollowed() {
        var n = node(3, RaftPersistentState(epoch: 1))
        _ = n.step(.tick, now: 10_000)
        XCTAssertEqual(n.role, .prospective)
        let hearsay = RaftMessage.voteResponse(
            VoteResponse(epoch: 1, candidateEpoch: 2, granted: false, preVote: true, leaderId: 1))
        _ = n.step(.message(from: 2, hearsay), now: 10_001)
        XCTAssertEqual(n.role, .prospective)
        _ = n.step(.message(from: 1, hearsay), now: 10_002)
        XCTAssertEqual(n.role, .follower)
        XCTAssertEqual(n.leaderId, 1)
    }
}

/// Commit rules the random runs rarely reach, pinned by hand.
final class RaftCommitRuleTests: XCTestCase {
    func state(_ epoch: Int64, _ vote: RaftNodeId?, _ epochs: [Int64]) -> RaftPersistentState {
        RaftPersistentState(
            epoch: epoch, votedFor: vote, entries: epochs.map { RaftEntry(epoch: $0, data: [UInt8($0)]) })
    }

    func lastWriteSeq(_ effects: [RaftEffect]) -> UInt64? {
        effects.compactMap { if case .persist(let w) = $0 { w.seq } else { nil } }.last
    }

    /// Raft's figure 8: a majority holding entries of an older epoch does not commit them; only
    /// an entry of the leader's own epoch on a majority does (and everything before it).
    func testLeaderCommitsOnlyThroughAnEntryOfItsOwnEpoch() {
        var leader = RaftNode(
            config: RaftConfig(id: 1, voters: [1, 2, 3], seed: 1), persisted: state(1, 1, [1, 1]), now: 0)
        _ = leader.step(.tick, now: 10_000)
        let pre = RaftMessage.voteResponse(VoteResponse(epoch: 1, candidateEpoch: 2, granted: true, preVote: true))
        let candidacy = leader.step(.message(from: 2, pre), now: 10_001)
        _ = leader.step(.persisted(seq: lastWriteSeq(candidacy)!), now: 10_002)
        let vote = RaftMessage.voteResponse(VoteResponse(epoch: 2, candidateEpoch: 2, granted: true, preVote: false))
        let won = leader.step(.message(from: 2, vote), now: 10_003)
        XCTAssertEqual(leader.role, .leader)
        _ = leader.step(.persisted(seq: lastWriteSeq(won)!), now: 10_004)
        XCTAssertEqual(leader.durableEnd, 3)
        // Follower 2 holds both epoch-1 entries: a majority has offset 2, but not of epoch 2.
        _ = leader.step(
            .message(from: 2, .fetch(FetchRequest(epoch: 2, fetchOffset: 2, lastFetchedEpoch: 1))), now: 10_005)
        XCTAssertEqual(leader.highWatermark, 0)
        _ = leader.step(
            .message(from: 2, .fetch(FetchRequest(epoch: 2, fetchOffset: 3, lastFetchedEpoch: 2))), now: 10_006)
        XCTAssertEqual(leader.highWatermark, 3)
    }

    /// A follower commits only up to what the response verified against the leader's log, not
    /// stale entries of its own beyond it.
    func testFollowerCommitsOnlyTheVerifiedPrefix() {
        var f = RaftNode(
            config: RaftConfig(id: 2, voters: [1, 2, 3], seed: 1), persisted: state(2, nil, [1, 2, 2]), now: 0)
        _ = f.step(.message(from: 3, .beginQuorumEpoch(epoch: 3)), now: 10)
        // A (late) answer to a fetch at offset 1: one entry, while the leader's high watermark is 4.
        let response = RaftMessage.fetchResponse(
            FetchResponse(
                epoch: 3, leaderId: 3, fetchOffset: 1, lastFetchedEpoch: 1, startOffset: 1, prevEpoch: 1,
                entries: [RaftEntry(epoch: 2, data: [2])], highWatermark: 4))
        let effects = f.step(.message(from: 3, response), now: 11)
        XCTAssertEqual(f.highWatermark, 2, "offset 2 (epoch 2 here) was not verified against the leader")
        XCTAssertTrue(
            effects.contains(
                .apply(offset: 0, entries: [RaftEntry(epoch: 1, data: [1]), RaftEntry(epoch: 2, data: [2])])))
    }
}
