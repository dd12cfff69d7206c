import TernRaft
import XCTest

/// Observers (KIP-595) driven by hand: they find the leader through any voter, follow it, never
/// campaign or vote, and never count towards the leader's high watermark.
final class RaftObserverTests: XCTestCase {
    let voters: [RaftNodeId] = [1, 2, 3]

    func node(_ id: RaftNodeId) -> RaftNode {
        RaftNode(config: RaftConfig(id: id, voters: voters, seed: 7), persisted: .init(), now: 0)
    }

    func sends(_ effects: [RaftEffect]) -> [(to: RaftNodeId, message: RaftMessage)] {
        effects.compactMap { if case .send(let to, let m) = $0 { (to, m) } else { nil } }
    }

    func writes(_ effects: [RaftEffect]) -> [RaftWrite] {
        effects.compactMap { if case .persist(let w) = $0 { w } else { nil } }
    }

    func refusals(_ effects: [RaftEffect]) -> [RaftRefusal] {
        effects.compactMap { if case .refused(let r) = $0 { r } else { nil } }
    }

    func persistAll(_ n: inout RaftNode, _ effects: [RaftEffect], now: Tick) -> [RaftEffect] {
        guard let last = writes(effects).last else { return [] }
        return n.step(.persisted(seq: last.seq), now: now)
    }

    /// Node 1 leads epoch 1 with its control entry durable.
    func leader(now: Tick) -> RaftNode {
        var n = node(1)
        _ = n.step(.tick, now: now)
        let preVote = RaftMessage.voteResponse(VoteResponse(epoch: 0, candidateEpoch: 1, granted: true, preVote: true))
        let candidacy = n.step(.message(from: 2, preVote), now: now)
        _ = persistAll(&n, candidacy, now: now)
        let vote = RaftMessage.voteResponse(VoteResponse(epoch: 1, candidateEpoch: 1, granted: true, preVote: false))
        let won = n.step(.message(from: 3, vote), now: now)
        XCTAssertEqual(n.role, .leader)
        _ = persistAll(&n, won, now: now)
        XCTAssertEqual(n.durableEnd, 1)
        return n
    }

    /// Delivers every message `effects` sends to `to` into `to`, returning what `to` does.
    func deliver(_ effects: [RaftEffect], from: RaftNodeId, to n: inout RaftNode, now: Tick) -> [RaftEffect] {
        var out: [RaftEffect] = []
        for (target, m) in sends(effects) where target == n.config.id {
            out += n.step(.message(from: from, m), now: now)
        }
        return out
    }

    func testObserverFindsTheLeaderThroughAnotherVoterAndReplicatesWithoutCounting() {
        var l = leader(now: 10_000)
        var o = node(4)
        XCTAssertTrue(o.config.isObserver)
        // An observer without a leader asks the voters in turn, starting in epoch 0.
        let ask = o.step(.tick, now: 10_000)
        XCTAssertEqual(sends(ask).map(\.to), [1])
        guard case .fetch(let f) = sends(ask).first?.message else { return XCTFail("expected a fetch: \(ask)") }
        XCTAssertEqual(f.epoch, 0)
        // Voter 2 follows leader 1 in epoch 1 (it heard BeginQuorumEpoch) and names it.
        var v2 = node(2)
        _ = v2.step(.message(from: 1, .beginQuorumEpoch(epoch: 1)), now: 10_000)
        XCTAssertEqual(v2.leaderId, 1)
        let hint = v2.step(
            .message(from: 4, .fetch(FetchRequest(epoch: 0, fetchOffset: 0, lastFetchedEpoch: 0))), now: 10_001)
        XCTAssertEqual(v2.epoch, 1, "an observer's fetch never moves a voter's epoch")
        let follow = deliver(hint, from: 2, to: &o, now: 10_002)
        XCTAssertEqual(o.role, .follower)
        XCTAssertEqual(o.leaderId, 1)
        XCTAssertEqual(o.epoch, 1)
        XCTAssertEqual(sends(follow).map(\.to), [1], "it fetches from the leader at once")

        // The leader answers with the control entry; the observer persists it and fetches on.
        let answer = deliver(follow, from: 4, to: &l, now: 10_003)
        XCTAssertEqual(l.highWatermark, 0)
        let appended = deliver(answer, from: 1, to: &o, now: 10_004)
        XCTAssertEqual(o.logEndOffset, 1)
        let next = persistAll(&o, appended, now: 10_005)
        guard case .fetch(let again) = sends(next).first?.message else { return XCTFail("expected a fetch: \(next)") }
        XCTAssertEqual(again.fetchOffset, 1)
        _ = deliver(next, from: 4, to: &l, now: 10_006)
        // The leader and the observer hold entry 0 durably: not a majority of the voters.
        XCTAssertEqual(l.highWatermark, 0, "an observer counted towards the high watermark")
        XCTAssertEqual(l.observerProgress.map(\.id), [4])
        XCTAssertEqual(l.observerProgress.first?.endOffset, 1)
        XCTAssertEqual(l.followerProgress.map(\.id), [2, 3], "observers are not listed as voters")
        // A voter's fetch makes the majority.
        _ = l.step(.message(from: 2, .fetch(FetchRequest(epoch: 1, fetchOffset: 1, lastFetchedEpoch: 1))), now: 10_007)
        XCTAssertEqual(l.highWatermark, 1)
        // The observer learns the commit on its next fetch and applies it.
        let more = l.step(
            .message(from: 4, .fetch(FetchRequest(epoch: 1, fetchOffset: 1, lastFetchedEpoch: 1))), now: 10_008)
        let applied = deliver(more, from: 1, to: &o, now: 10_009)
        XCTAssertTrue(applied.contains(.apply(offset: 0, entries: [RaftEntry(epoch: 1, data: [])])), "\(applied)")
        XCTAssertEqual(o.highWatermark, 1)
    }

    func testObserverNeverCampaignsAndRefusesEveryMessageButFetchAnswers() {
        var o = node(4)
        var now: Tick = 0
        while now < 60_000 {
            for effect in o.step(.tick, now: now) {
                if case .send(_, let m) = effect, case .fetch = m { continue }
                if case .roleChanged(let role, _, _) = effect {
                    XCTAssertTrue(role == .follower || role == .unattached, "observer became \(role)")
                }
                if case .send(_, let m) = effect { XCTFail("observer sent \(m)") }
            }
            now += 10
        }
        XCTAssertEqual(o.role, .unattached)
        XCTAssertEqual(o.epoch, 0)
        for m: RaftMessage in [
            .vote(VoteRequest(epoch: 5, lastEpoch: 0, endOffset: 0, preVote: false)),
            .vote(VoteRequest(epoch: 5, lastEpoch: 0, endOffset: 0, preVote: true)),
            .beginQuorumEpoch(epoch: 5), .endQuorumEpoch(EndQuorumEpochRequest(epoch: 5, preferredSuccessors: [4])),
            .fetch(FetchRequest(epoch: 5, fetchOffset: 0, lastFetchedEpoch: 0)),
        ] {
            let effects = o.step(.message(from: 1, m), now: now)
            XCTAssertEqual(refusals(effects).count, 1, "\(m)")
            XCTAssertTrue(sends(effects).isEmpty, "\(m) answered: \(effects)")
            XCTAssertTrue(writes(effects).isEmpty)
        }
        XCTAssertEqual(o.epoch, 0)
        XCTAssertNil(o.votedFor)
        // Fetch answers from a node that is not a voter are refused too.
        let stray = o.step(
            .message(
                from: 9, .fetchResponse(FetchResponse(epoch: 3, leaderId: 9, fetchOffset: 0, lastFetchedEpoch: 0))),
            now: now)
        XCTAssertEqual(refusals(stray).count, 1)
        XCTAssertEqual(o.epoch, 0)
        // Proposals and resignations are not an observer's to take.
        XCTAssertEqual(o.step(.propose([[1]]), now: now), [.proposalRejected(leaderHint: nil)])
        XCTAssertEqual(refusals(o.step(.resign, now: now)).count, 1)
    }

    func testVoterTakesOnlyFetchesFromObserversAndKeepsItsEpoch() {
        var v = node(2)
        let vote = v.step(
            .message(from: 4, .vote(VoteRequest(epoch: 9, lastEpoch: 0, endOffset: 0, preVote: false))), now: 1)
        XCTAssertEqual(refusals(vote).count, 1)
        XCTAssertTrue(sends(vote).isEmpty)
        XCTAssertEqual(refusals(v.step(.message(from: 4, .beginQuorumEpoch(epoch: 9)), now: 2)).count, 1)
        XCTAssertEqual(v.epoch, 0)
        // A fetch from an observer ahead of this voter: told "not leader" in this voter's epoch.
        let fetch = v.step(
            .message(from: 4, .fetch(FetchRequest(epoch: 9, fetchOffset: 0, lastFetchedEpoch: 0))), now: 3)
        XCTAssertEqual(v.epoch, 0)
        guard case .fetchResponse(let r) = sends(fetch).first?.message else { return XCTFail("\(fetch)") }
        XCTAssertEqual(r.failure, .notLeader)
        XCTAssertEqual(r.epoch, 0)
        // Negative ids are nobody.
        XCTAssertEqual(
            refusals(
                v.step(.message(from: -1, .fetch(FetchRequest(epoch: 0, fetchOffset: 0, lastFetchedEpoch: 0))), now: 4)
            ).count, 1)
    }

    func testObserverLooksForANewLeaderWhenItsLeaderGoesSilentOrResigns() {
        var o = node(4)
        _ = o.step(
            .message(
                from: 2,
                .fetchResponse(
                    FetchResponse(epoch: 1, leaderId: 1, failure: .notLeader, fetchOffset: 0, lastFetchedEpoch: 0))),
            now: 0)
        XCTAssertEqual(o.leaderId, 1)
        // The leader answers "not leader" without naming anyone: it resigned; ask the voters.
        let lost = o.step(
            .message(
                from: 1,
                .fetchResponse(
                    FetchResponse(epoch: 1, leaderId: nil, failure: .notLeader, fetchOffset: 0, lastFetchedEpoch: 0))),
            now: 10)
        XCTAssertEqual(o.role, .unattached)
        XCTAssertEqual(sends(lost).count, 1)
        // Told of leader 3 in epoch 2: it follows; then 3 goes silent past the election timeout.
        _ = o.step(
            .message(
                from: 2,
                .fetchResponse(
                    FetchResponse(epoch: 2, leaderId: 3, failure: .notLeader, fetchOffset: 0, lastFetchedEpoch: 0))),
            now: 20)
        XCTAssertEqual(o.leaderId, 3)
        XCTAssertEqual(o.epoch, 2)
        var now: Tick = 20
        var targets: Set<RaftNodeId> = []
        while now < 5_000 {
            now += 10
            for (to, _) in sends(o.step(.tick, now: now)) { targets.insert(to) }
        }
        XCTAssertEqual(o.role, .unattached)
        XCTAssertEqual(targets, [1, 2, 3], "it asks every voter in turn")
    }

    /// Observer ids come from the network: the leader keeps progress for at most 256 of them and
    /// forgets one silent for 5 minutes; neither bound touches the voters' progress.
    func testLeaderBoundsTheObserversItTracksAndForgetsSilentOnes() {
        var l = leader(now: 10_000)
        let fetch = RaftMessage.fetch(FetchRequest(epoch: 1, fetchOffset: 1, lastFetchedEpoch: 1))
        for id in RaftNodeId(100)..<RaftNodeId(400) {
            let answer = l.step(.message(from: id, fetch), now: 10_001)
            XCTAssertEqual(sends(answer).map(\.to), [id], "every observer is served, tracked or not")
        }
        XCTAssertEqual(l.observerProgress.count, 256)
        XCTAssertEqual(l.observerProgress.first?.id, 100)
        XCTAssertEqual(l.highWatermark, 0, "300 observers made no majority")
        // Five minutes later only the observer that kept fetching is listed; voter 2 keeps the
        // leader in office meanwhile.
        let later: Tick = 10_001 + 300_000
        _ = l.step(.message(from: 2, fetch), now: later)
        _ = l.step(.message(from: 150, fetch), now: later)
        _ = l.step(.tick, now: later)
        XCTAssertEqual(l.role, .leader)
        XCTAssertEqual(l.observerProgress.map(\.id), [150])
        XCTAssertEqual(l.followerProgress.map(\.id), [2, 3])
        XCTAssertEqual(l.highWatermark, 1)
    }

    /// A voter answering from an epoch with no leader (a candidacy the quorum may forget) does not
    /// move the observer there: it would refuse the real leader's lower epoch for ever.
    func testObserverIgnoresAnEpochWithoutALeaderAndFollowsTheLeaderOfALowerOne() {
        var o = node(4)
        let candidate = o.step(
            .message(
                from: 2,
                .fetchResponse(
                    FetchResponse(epoch: 2, leaderId: nil, failure: .notLeader, fetchOffset: 0, lastFetchedEpoch: 0))),
            now: 10)
        XCTAssertEqual(o.epoch, 0)
        XCTAssertTrue(writes(candidate).isEmpty)
        // The quorum elected node 3 in epoch 1 instead: the observer follows it.
        _ = o.step(
            .message(
                from: 1,
                .fetchResponse(
                    FetchResponse(epoch: 1, leaderId: 3, failure: .notLeader, fetchOffset: 0, lastFetchedEpoch: 0))),
            now: 20)
        XCTAssertEqual(o.epoch, 1)
        XCTAssertEqual(o.leaderId, 3)
        // Its leader answering from a higher epoch without a leader (it resigned and campaigns):
        // the observer looks for the leader again, still in epoch 1.
        let lost = o.step(
            .message(
                from: 3,
                .fetchResponse(
                    FetchResponse(epoch: 2, leaderId: nil, failure: .notLeader, fetchOffset: 0, lastFetchedEpoch: 0))),
            now: 30)
        XCTAssertEqual(o.role, .unattached)
        XCTAssertEqual(o.epoch, 1)
        XCTAssertEqual(sends(lost).count, 1, "it asks a voter at once")
    }
}
