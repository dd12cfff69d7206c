import TernRaft
import XCTest

/// Snapshots (KIP-630) driven by hand: the persistence order, FetchSnapshot, installation,
/// restarts from a snapshot, and the refusal rules of the new messages.
final class RaftSnapshotTests: XCTestCase {
    func sends(_ effects: [RaftEffect]) -> [(RaftNodeId, RaftMessage)] {
        effects.compactMap { if case .send(let to, let m) = $0 { (to, m) } else { nil } }
    }

    func writes(_ effects: [RaftEffect]) -> [RaftWrite] {
        effects.compactMap { if case .persist(let w) = $0 { w } else { nil } }
    }

    func refusals(_ effects: [RaftEffect]) -> [RaftRefusal] {
        effects.compactMap { if case .refused(let r) = $0 { r } else { nil } }
    }

    func ack(_ n: inout RaftNode, _ effects: [RaftEffect], now: Tick) -> [RaftEffect] {
        guard let last = writes(effects).last else { return [] }
        return n.step(.persisted(seq: last.seq), now: now)
    }

    func config(_ id: RaftNodeId, voters: [RaftNodeId] = [1, 2, 3], chunk: Int = 64 * 1024) -> RaftConfig {
        RaftConfig(id: id, voters: voters, snapshotChunkBytes: chunk, seed: 7)
    }

    /// A single voter that leads epoch 1 and has committed and applied `count` payloads after its
    /// control entry (log end `count + 1`).
    func soloLeader(committing count: Int) -> RaftNode {
        var n = RaftNode(config: config(1, voters: [1]), persisted: .init(), now: 0)
        let start = n.step(.tick, now: 10_000)
        _ = ack(&n, ack(&n, start, now: 10_001), now: 10_002)
        let proposed = n.step(.propose((0..<count).map { [UInt8($0)] }), now: 10_003)
        _ = ack(&n, proposed, now: 10_004)
        XCTAssertEqual(n.appliedOffset, Int64(count + 1))
        return n
    }

    func testSnapshotIsDurableBeforeThePrefixItReplacesIsDropped() {
        var n = soloLeader(committing: 4)
        let s = RaftSnapshot(endOffset: 3, lastEpoch: 1, data: [9, 9])
        let taken = n.step(.snapshotTaken(s), now: 10_010)
        XCTAssertEqual(writes(taken).map(\.snapshot), [s])
        XCTAssertFalse(taken.contains(.dropLogPrefix(before: 3)), "prefix dropped before the snapshot is durable")
        XCTAssertEqual(n.logStartOffset, 0)
        XCTAssertEqual(n.log.count, 5)
        XCTAssertNil(n.snapshot, "a snapshot not yet durable is not served")
        let durable = ack(&n, taken, now: 10_011)
        XCTAssertTrue(durable.contains(.dropLogPrefix(before: 3)))
        XCTAssertEqual(n.logStartOffset, 3)
        XCTAssertEqual(n.log.count, 2)
        XCTAssertEqual(n.entry(at: 3), RaftEntry(epoch: 1, data: [2]))
        XCTAssertNil(n.entry(at: 2))
        XCTAssertEqual(n.snapshot, s)
        // Proposals continue at the absolute log end and apply from there.
        let more = n.step(.propose([[42]]), now: 10_012)
        XCTAssertTrue(more.contains(.proposed(epoch: 1, firstOffset: 5, count: 1)))
        XCTAssertEqual(writes(more).first?.fromOffset, 5)
        XCTAssertTrue(
            ack(&n, more, now: 10_013).contains(.apply(offset: 5, entries: [RaftEntry(epoch: 1, data: [42])])))
    }

    func testRestartStartsFromTheSnapshotAndTheLogAfterIt() {
        let s = RaftSnapshot(endOffset: 10, lastEpoch: 2, data: [1])
        let state = RaftPersistentState(
            epoch: 3, votedFor: 2, snapshot: s,
            entries: [RaftEntry(epoch: 3, data: []), RaftEntry(epoch: 3, data: [5])])
        var n = RaftNode(config: config(1), persisted: state, now: 0)
        XCTAssertEqual(n.logStartOffset, 10)
        XCTAssertEqual(n.logEndOffset, 12)
        XCTAssertEqual(n.highWatermark, 10)
        XCTAssertEqual(n.appliedOffset, 10)
        XCTAssertEqual(n.durableEnd, 12)
        let pre = n.step(.tick, now: 10_000)
        XCTAssertEqual(
            sends(pre).first?.1, .vote(VoteRequest(epoch: 4, lastEpoch: 3, endOffset: 12, preVote: true)))
        // Without entries after it, the snapshot's id is the log's last.
        var bare = RaftNode(config: config(1), persisted: .init(epoch: 3, snapshot: s), now: 0)
        let bareVote = bare.step(.tick, now: 10_000)
        XCTAssertEqual(
            sends(bareVote).first?.1, .vote(VoteRequest(epoch: 4, lastEpoch: 2, endOffset: 10, preVote: true)))
    }

    func testSnapshotsAboveTheAppliedOffsetNotAboveTheLogStartOrWithTheWrongEpochAreRefused() {
        var n = soloLeader(committing: 4)  // applied 5
        _ = n.step(.propose([[9]]), now: 10_019)  // entry 5: in the log, not committed (not durable)
        XCTAssertEqual(n.logEndOffset, 6)
        XCTAssertEqual(n.appliedOffset, 5)
        let before = n.log
        for bad in [
            RaftSnapshot(endOffset: 6, lastEpoch: 1, data: []),  // above the applied offset: uncommitted
            RaftSnapshot(endOffset: 0, lastEpoch: 0, data: []),  // not above the log start
            RaftSnapshot(endOffset: 3, lastEpoch: 2, data: []),  // entry 2 is of epoch 1
        ] {
            let effects = n.step(.snapshotTaken(bad), now: 10_020)
            XCTAssertEqual(refusals(effects).count, 1, "\(bad)")
            XCTAssertTrue(writes(effects).isEmpty, "\(bad)")
        }
        // One in flight: an older one is refused too.
        let taken = n.step(.snapshotTaken(RaftSnapshot(endOffset: 4, lastEpoch: 1, data: [])), now: 10_021)
        XCTAssertEqual(writes(taken).count, 1)
        XCTAssertEqual(
            refusals(n.step(.snapshotTaken(RaftSnapshot(endOffset: 4, lastEpoch: 1, data: [])), now: 10_022)).count, 1)
        XCTAssertEqual(n.log, before)
        XCTAssertEqual(n.logStartOffset, 0)
    }

    /// A leader whose log starts at 3 and a follower with an empty log: the follower learns the
    /// snapshot id from its fetch, fetches it in chunks no larger than it asked for, and the host
    /// is told to install it only once it is durable.
    func testFollowerBelowTheLogStartFetchesTheSnapshotInChunksAndInstallsItOnceDurable() {
        var leader = soloLeaderWithSnapshot()
        var f = RaftNode(config: config(2, chunk: 4), persisted: .init(), now: 0)
        let joined = f.step(.message(from: 1, .beginQuorumEpoch(epoch: 2)), now: 20_000)
        var request = sends(joined).last!.1
        XCTAssertEqual(request, .fetch(FetchRequest(epoch: 2, fetchOffset: 0, lastFetchedEpoch: 0)))
        var reply = sends(leader.step(.message(from: 2, request), now: 20_001)).first!.1
        guard case .fetchResponse(let r) = reply else { return XCTFail("\(reply)") }
        XCTAssertEqual(r.snapshotId, RaftSnapshotId(endOffset: 3, lastEpoch: 1))
        XCTAssertTrue(r.entries.isEmpty)
        var effects = f.step(.message(from: 1, reply), now: 20_002)
        var chunks: [[UInt8]] = []
        var t: Tick = 20_003
        while case .fetchSnapshot(let fs)? = sends(effects).last?.1 {
            XCTAssertEqual(fs.maxBytes, 4)
            XCTAssertEqual(fs.position, Int64(chunks.joined().count))
            reply = sends(leader.step(.message(from: 2, .fetchSnapshot(fs)), now: t)).first!.1
            guard case .fetchSnapshotResponse(let c) = reply else { return XCTFail("\(reply)") }
            XCTAssertLessThanOrEqual(c.chunk.count, 4)
            chunks.append(c.chunk)
            effects = f.step(.message(from: 1, reply), now: t + 1)
            t += 2
        }
        XCTAssertEqual(chunks.count, 3, "10 bytes in chunks of at most 4")
        let w = writes(effects)
        XCTAssertEqual(w.last?.snapshot, RaftSnapshot(endOffset: 3, lastEpoch: 1, data: Array(0..<10)))
        XCTAssertEqual(w.last?.fromOffset, 3)
        XCTAssertFalse(effects.contains { if case .installSnapshot = $0 { true } else { false } })
        XCTAssertTrue(sends(effects).isEmpty, "no fetch while the snapshot is not durable")
        XCTAssertEqual(f.logStartOffset, 3)
        XCTAssertEqual(f.appliedOffset, 0)
        let durable = ack(&f, effects, now: t)
        XCTAssertEqual(
            durable.filter { if case .installSnapshot = $0 { true } else { false } },
            [.installSnapshot(RaftSnapshot(endOffset: 3, lastEpoch: 1, data: Array(0..<10)))])
        XCTAssertTrue(durable.contains(.dropLogPrefix(before: 3)))
        XCTAssertEqual(f.appliedOffset, 3)
        request = sends(durable).last!.1
        XCTAssertEqual(request, .fetch(FetchRequest(epoch: 2, fetchOffset: 3, lastFetchedEpoch: 1)))
        // The leader now sends the entries after the snapshot.
        reply = sends(leader.step(.message(from: 2, request), now: t + 1)).first!.1
        _ = f.step(.message(from: 1, reply), now: t + 2)
        XCTAssertEqual(f.logEndOffset, leader.logEndOffset)
        XCTAssertEqual(f.entry(at: 3), leader.entry(at: 3))
    }

    /// Leader 1 of voters 1-3 in epoch 2 with a durable snapshot of 10 bytes ending at 3 and
    /// entries 3..<6 after it.
    func soloLeaderWithSnapshot() -> RaftNode {
        let s = RaftSnapshot(endOffset: 3, lastEpoch: 1, data: Array(0..<10))
        var n = RaftNode(
            config: config(1),
            persisted: .init(
                epoch: 1, snapshot: s, entries: [RaftEntry(epoch: 1, data: [3]), RaftEntry(epoch: 1, data: [4])]),
            now: 0)
        _ = n.step(.tick, now: 10_000)
        let granted = RaftMessage.voteResponse(VoteResponse(epoch: 1, candidateEpoch: 2, granted: true, preVote: true))
        let candidacy = n.step(.message(from: 3, granted), now: 10_001)
        _ = ack(&n, candidacy, now: 10_002)
        let vote = RaftMessage.voteResponse(VoteResponse(epoch: 2, candidateEpoch: 2, granted: true, preVote: false))
        let won = n.step(.message(from: 3, vote), now: 10_003)
        _ = ack(&n, won, now: 10_004)
        XCTAssertEqual(n.role, .leader)
        XCTAssertEqual(n.logEndOffset, 6)
        return n
    }

    /// A follower whose log holds a different entry at the snapshot's last offset cuts it in a
    /// write *before* the one storing the snapshot, so a crash between storing the snapshot and
    /// cutting the log cannot leave that entry's successors after the snapshot.
    func testInstallCutsAContradictingLogBeforeStoringTheSnapshot() {
        let old = (0..<5).map { RaftEntry(epoch: $0 < 2 ? 1 : 2, data: [UInt8($0)]) }  // epochs 1 1 2 2 2
        var f = RaftNode(config: config(2, chunk: 4), persisted: .init(epoch: 2, entries: old), now: 0)
        _ = f.step(.message(from: 1, .beginQuorumEpoch(epoch: 3)), now: 10)
        // The leader's snapshot ends at 3 with epoch 3 (entry 2 is of epoch 3 there).
        let id = RaftSnapshotId(endOffset: 3, lastEpoch: 3)
        let told = f.step(
            .message(
                from: 1,
                .fetchResponse(
                    FetchResponse(epoch: 3, leaderId: 1, fetchOffset: 5, lastFetchedEpoch: 2, snapshotId: id))),
            now: 11)
        XCTAssertEqual(
            sends(told).last?.1,
            .fetchSnapshot(FetchSnapshotRequest(epoch: 3, snapshotId: id, position: 0, maxBytes: 4)))
        let done = f.step(
            .message(
                from: 1,
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(epoch: 3, leaderId: 1, snapshotId: id, size: 2, position: 0, chunk: [7, 7]))),
            now: 12)
        let w = writes(done)
        XCTAssertEqual(w.count, 2)
        XCTAssertNil(w.first?.snapshot)
        XCTAssertEqual(w.first?.fromOffset, 2, "the contradicting entry and all after it go first")
        XCTAssertEqual(w.last?.snapshot?.id, id)
        XCTAssertEqual(w.last?.entries, [])
        XCTAssertEqual(f.logStartOffset, 3)
        XCTAssertEqual(f.logEndOffset, 3)
        XCTAssertEqual(f.highWatermark, 3)
    }

    /// A follower with a snapshot never truncates into it, whatever a leader says.
    func testDivergenceBelowTheSnapshotIsRefused() {
        let s = RaftSnapshot(endOffset: 4, lastEpoch: 3, data: [])
        var f = RaftNode(
            config: config(2), persisted: .init(epoch: 4, snapshot: s, entries: [RaftEntry(epoch: 4, data: [])]), now: 0
        )
        _ = f.step(.message(from: 1, .beginQuorumEpoch(epoch: 5)), now: 10)
        let diverge = RaftMessage.fetchResponse(
            FetchResponse(
                epoch: 5, leaderId: 1, fetchOffset: 5, lastFetchedEpoch: 4,
                diverging: .init(epoch: 2, endOffset: 3)))
        let effects = f.step(.message(from: 1, diverge), now: 11)
        XCTAssertEqual(refusals(effects).count, 1)
        XCTAssertTrue(writes(effects).isEmpty)
        XCTAssertEqual(f.logStartOffset, 4)
        XCTAssertEqual(f.logEndOffset, 5)
    }

    func testMalformedAndStaleSnapshotAndEndQuorumEpochMessagesAreRefusedWithoutStateChange() {
        let s = RaftSnapshot(endOffset: 4, lastEpoch: 3, data: [])
        var n = RaftNode(
            config: config(2),
            persisted: .init(epoch: 5, votedFor: 1, snapshot: s, entries: [RaftEntry(epoch: 5, data: [])]),
            now: 0)
        let id = RaftSnapshotId(endOffset: 4, lastEpoch: 3)
        let big = [UInt8](repeating: 0, count: FetchSnapshotRequest.maxChunkBytes + 1)
        let bad: [(RaftNodeId, RaftMessage)] = [
            (1, .fetchSnapshot(FetchSnapshotRequest(epoch: 6, snapshotId: id, position: -1, maxBytes: 10))),
            (1, .fetchSnapshot(FetchSnapshotRequest(epoch: 6, snapshotId: id, position: 0, maxBytes: 0))),
            (
                1,
                .fetchSnapshot(
                    FetchSnapshotRequest(
                        epoch: 6, snapshotId: id, position: 0, maxBytes: FetchSnapshotRequest.maxChunkBytes + 1))
            ),
            (
                1,
                .fetchSnapshot(
                    FetchSnapshotRequest(
                        epoch: 6, snapshotId: RaftSnapshotId(endOffset: -4, lastEpoch: 3), position: 0, maxBytes: 10))
            ),
            (
                1,
                .fetchSnapshot(
                    FetchSnapshotRequest(
                        epoch: 6, snapshotId: RaftSnapshotId(endOffset: 4, lastEpoch: 7), position: 0, maxBytes: 10))
            ),
            (
                1,
                .fetchSnapshot(FetchSnapshotRequest(epoch: Int64(Int32.max), snapshotId: id, position: 0, maxBytes: 10))
            ),
            (  // position past the end
                1,
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(epoch: 6, leaderId: 1, snapshotId: id, size: 3, position: 4, chunk: []))
            ),
            (  // chunk past the end
                1,
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(epoch: 6, leaderId: 1, snapshotId: id, size: 3, position: 2, chunk: [1, 2]))
            ),
            (  // chunk over the bound
                1,
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(
                        epoch: 6, leaderId: 1, snapshotId: id, size: Int64(big.count), position: 0, chunk: big))
            ),
            (  // no progress
                1,
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(epoch: 6, leaderId: 1, snapshotId: id, size: 3, position: 1, chunk: []))
            ),
            (
                1,
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(epoch: 6, leaderId: 1, snapshotId: id, size: -1, position: 0, chunk: []))
            ),
            (
                1,
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(
                        epoch: 6, leaderId: 1, failure: .notLeader, snapshotId: id, size: 3, position: 0, chunk: [1]))
            ),
            (  // a snapshot id alongside entries
                1,
                .fetchResponse(
                    FetchResponse(
                        epoch: 6, leaderId: 1, fetchOffset: 5, lastFetchedEpoch: 5, startOffset: 5, prevEpoch: 5,
                        entries: [RaftEntry(epoch: 6, data: [])], snapshotId: id))
            ),
            (
                1,
                .fetchResponse(
                    FetchResponse(
                        epoch: 6, leaderId: 1, fetchOffset: 5, lastFetchedEpoch: 5,
                        snapshotId: RaftSnapshotId(endOffset: 0, lastEpoch: 0)))
            ),
            (1, .endQuorumEpoch(EndQuorumEpochRequest(epoch: Int64(Int32.max), preferredSuccessors: [2]))),
            (1, .endQuorumEpoch(EndQuorumEpochRequest(epoch: 0, preferredSuccessors: [2]))),
            (1, .endQuorumEpoch(EndQuorumEpochRequest(epoch: 6, preferredSuccessors: [2, 2]))),
            (1, .endQuorumEpoch(EndQuorumEpochRequest(epoch: 6, preferredSuccessors: [2, 9]))),  // unknown voter
            (1, .endQuorumEpoch(EndQuorumEpochRequest(epoch: 4, preferredSuccessors: [2, 3]))),  // stale epoch
            (9, .endQuorumEpoch(EndQuorumEpochRequest(epoch: 6, preferredSuccessors: [2, 3]))),  // unknown sender
            (  // stale epoch
                1,
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(epoch: 4, leaderId: 1, snapshotId: id, size: 3, position: 0, chunk: [1]))
            ),
        ]
        for (from, message) in bad {
            let effects = n.step(.message(from: from, message), now: 100)
            XCTAssertEqual(refusals(effects).count, 1, "\(message)")
            XCTAssertTrue(writes(effects).isEmpty, "\(message)")
            XCTAssertTrue(sends(effects).isEmpty, "\(message)")
            XCTAssertEqual(n.epoch, 5)
            XCTAssertEqual(n.votedFor, 1)
            XCTAssertEqual(n.role, .unattached)
            XCTAssertEqual(n.logStartOffset, 4)
            XCTAssertEqual(n.logEndOffset, 5)
            XCTAssertEqual(n.snapshot, s)
        }
        // A resignation from a node that does not lead is refused too.
        XCTAssertEqual(refusals(n.step(.resign, now: 101)).count, 1)
    }

    /// A follower asking for a snapshot position past the end is refused; one asking for a
    /// snapshot the leader no longer has is told so.
    func testLeaderRefusesPositionsPastTheEndAndAnswersUnknownSnapshots() {
        var leader = soloLeaderWithSnapshot()
        let id = RaftSnapshotId(endOffset: 3, lastEpoch: 1)
        let past = leader.step(
            .message(
                from: 2, .fetchSnapshot(FetchSnapshotRequest(epoch: 2, snapshotId: id, position: 11, maxBytes: 4))),
            now: 20_000)
        XCTAssertEqual(refusals(past).count, 1)
        XCTAssertTrue(sends(past).isEmpty)
        let other = RaftSnapshotId(endOffset: 2, lastEpoch: 1)
        let unknown = leader.step(
            .message(
                from: 2, .fetchSnapshot(FetchSnapshotRequest(epoch: 2, snapshotId: other, position: 0, maxBytes: 4))),
            now: 20_001)
        XCTAssertEqual(
            sends(unknown).map(\.1),
            [
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(epoch: 2, leaderId: 1, failure: .snapshotNotFound, snapshotId: other))
            ])
    }
}
