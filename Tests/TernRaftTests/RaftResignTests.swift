import TernRaft
import XCTest

/// Graceful resignation (EndQuorumEpoch) driven by hand.
final class RaftResignTests: XCTestCase {
    func sends(_ effects: [RaftEffect]) -> [(RaftNodeId, RaftMessage)] {
        effects.compactMap { if case .send(let to, let m) = $0 { (to, m) } else { nil } }
    }

    func ack(_ n: inout RaftNode, _ effects: [RaftEffect], now: Tick) -> [RaftEffect] {
        guard let last = effects.compactMap({ if case .persist(let w) = $0 { w.seq } else { nil } }).last else {
            return []
        }
        return n.step(.persisted(seq: last), now: now)
    }

    func node(_ id: RaftNodeId, _ state: RaftPersistentState = .init()) -> RaftNode {
        RaftNode(
            config: RaftConfig(id: id, voters: [1, 2, 3], electionTimeoutMs: 300, resignBackoffMs: 100, seed: 3),
            persisted: state, now: 0)
    }

    /// Leader 1 of epoch 1 (log: its control entry), voter 3 has fetched all of it, voter 2 nothing.
    func leader() -> RaftNode {
        var n = node(1)
        _ = n.step(.tick, now: 10_000)
        let pre = RaftMessage.voteResponse(VoteResponse(epoch: 0, candidateEpoch: 1, granted: true, preVote: true))
        let candidacy = n.step(.message(from: 2, pre), now: 10_001)
        _ = ack(&n, candidacy, now: 10_002)
        let vote = RaftMessage.voteResponse(VoteResponse(epoch: 1, candidateEpoch: 1, granted: true, preVote: false))
        _ = ack(&n, n.step(.message(from: 2, vote), now: 10_003), now: 10_004)
        _ = n.step(.message(from: 3, .fetch(FetchRequest(epoch: 1, fetchOffset: 1, lastFetchedEpoch: 1))), now: 10_005)
        XCTAssertEqual(n.role, .leader)
        XCTAssertEqual(n.highWatermark, 1)
        return n
    }

    func testResigningLeaderNamesTheMostCaughtUpVoterFirstAndStopsLeading() {
        var l = leader()
        let effects = l.step(.resign, now: 10_010)
        let request = EndQuorumEpochRequest(epoch: 1, preferredSuccessors: [3, 2])
        XCTAssertEqual(sends(effects).map(\.0), [2, 3])
        XCTAssertTrue(sends(effects).allSatisfy { $0.1 == .endQuorumEpoch(request) })
        XCTAssertEqual(l.role, .unattached)
        XCTAssertEqual(l.epoch, 1)
        XCTAssertEqual(l.votedFor, 1, "it keeps its vote: it cannot lead epoch 1 again")
        XCTAssertTrue(effects.contains(.roleChanged(.unattached, epoch: 1, leader: nil)))
        // Proposals are now refused.
        XCTAssertTrue(l.step(.propose([[1]]), now: 10_011).contains(.proposalRejected(leaderHint: nil)))
    }

    /// The first successor campaigns at once, the second one backoff later; neither waits for an
    /// election timeout. A follower not named campaigns only after its own election timeout.
    func testSuccessorsCampaignAfterABackoffByTheirPosition() {
        let request = RaftMessage.endQuorumEpoch(EndQuorumEpochRequest(epoch: 1, preferredSuccessors: [3, 2]))
        var first = node(3)
        _ = first.step(.message(from: 1, .beginQuorumEpoch(epoch: 1)), now: 50_000)
        _ = first.step(.message(from: 1, request), now: 50_010)
        XCTAssertEqual(first.role, .unattached)
        XCTAssertNil(first.leaderId)
        let pre = first.step(.tick, now: 50_015)
        XCTAssertEqual(first.role, .prospective)
        XCTAssertEqual(sends(pre).count, 2)

        var second = node(2)
        _ = second.step(.message(from: 1, .beginQuorumEpoch(epoch: 1)), now: 50_000)
        _ = second.step(.message(from: 1, request), now: 50_010)
        _ = second.step(.tick, now: 50_015)
        XCTAssertEqual(second.role, .unattached)
        _ = second.step(.tick, now: 50_110)
        XCTAssertEqual(second.role, .prospective, "position 1: 100 ms backoff, well inside the 300 ms timeout")

        // The first successor's pre-vote is granted by a voter that also heard the resignation,
        // though it heard from the leader moments ago.
        guard case .vote(let v) = sends(pre).first(where: { $0.0 == 2 })?.1 else { return XCTFail("\(pre)") }
        let answer = second.step(.message(from: 3, .vote(v)), now: 50_111)
        XCTAssertTrue(
            answer.contains(
                .send(to: 3, .voteResponse(VoteResponse(epoch: 1, candidateEpoch: 2, granted: true, preVote: true)))))
    }

    func testEndQuorumEpochFromANodeThatDoesNotLeadTheEpochIsRefused() {
        var f = node(2)
        _ = f.step(.message(from: 1, .beginQuorumEpoch(epoch: 1)), now: 100)
        let effects = f.step(
            .message(from: 3, .endQuorumEpoch(EndQuorumEpochRequest(epoch: 1, preferredSuccessors: [2]))), now: 101)
        XCTAssertTrue(effects.contains { if case .refused = $0 { true } else { false } })
        XCTAssertEqual(f.role, .follower)
        XCTAssertEqual(f.leaderId, 1)
        var l = leader()
        let toLeader = l.step(
            .message(from: 2, .endQuorumEpoch(EndQuorumEpochRequest(epoch: 1, preferredSuccessors: [1]))), now: 10_020)
        XCTAssertTrue(toLeader.contains { if case .refused = $0 { true } else { false } })
        XCTAssertEqual(l.role, .leader)
    }
}
