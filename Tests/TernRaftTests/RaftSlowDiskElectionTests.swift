import TernRaft
import XCTest

/// Elections on a disk whose writes take longer than the election timeout (a loaded machine
/// syncing a lot, as a broker does right after recovering its logs): a candidate's round starts
/// when its vote is durable, so each round is not cut short by the write it is waiting for.
final class RaftSlowDiskElectionTests: XCTestCase {
    /// Writes complete in order, each `latency` ms after it was issued or after the one before
    /// it completed, whichever is later (one writer thread, one fsync at a time).
    struct SlowDisk {
        let latency: Tick
        var busyUntil: Tick = 0
        var pending: [(due: Tick, seq: UInt64)] = []

        mutating func issue(_ effects: [RaftEffect], now: Tick) {
            for case .persist(let write) in effects {
                busyUntil = max(busyUntil, now) + latency
                pending.append((busyUntil, write.seq))
            }
        }

        /// Acknowledges every write done by `now`, feeding the node's new writes back in.
        mutating func complete(_ node: inout RaftNode, now: Tick) -> [RaftEffect] {
            var all: [RaftEffect] = []
            while let first = pending.first, first.due <= now {
                pending.removeFirst()
                let effects = node.step(.persisted(seq: first.seq), now: now)
                issue(effects, now: now)
                all += effects
            }
            return all
        }
    }

    /// The single-node quorum's settings (ClusterNode: a 10 ms election timeout, 10 ms ticks)
    /// with every write taking 50 ms: before, the candidate's timer ran out while its vote was
    /// being written, so it started a new epoch (another write) every 10-20 ms and never won.
    func testASingleVoterWhoseVoteWriteOutlastsTheElectionTimeoutStillBecomesLeader() {
        var node = RaftNode(
            config: RaftConfig(id: 1, voters: [1], electionTimeoutMs: 10, seed: 42), persisted: .init(), now: 0)
        var disk = SlowDisk(latency: 50)
        var now: Tick = 0
        while node.role != .leader && now < 5_000 {
            now += 10
            _ = disk.complete(&node, now: now)
            disk.issue(node.step(.tick, now: now), now: now)
        }
        XCTAssertEqual(node.role, .leader, "still \(node.role) in epoch \(node.epoch) after \(now) ms")
        XCTAssertLessThanOrEqual(node.epoch, 2, "one candidacy (two at most) should do")
        XCTAssertLessThan(now, 500)
    }

    /// Three voters, the candidate's disk slower than its election timeout: its vote requests
    /// leave once the vote is durable, and the round they start gets a whole timeout for the
    /// answers (granted at once here), instead of being abandoned before they could leave.
    func testACandidateOnASlowDiskWinsWithTheVotesItsDurableVoteReleases() {
        var node = RaftNode(
            config: RaftConfig(id: 1, voters: [1, 2, 3], electionTimeoutMs: 20, seed: 42), persisted: .init(),
            now: 0)
        var disk = SlowDisk(latency: 100)
        var now: Tick = 0
        var answers: [RaftEffect] = []
        while node.role != .leader && now < 10_000 {
            now += 10
            answers = disk.complete(&node, now: now) + node.step(.tick, now: now)
            disk.issue(answers, now: now)
            // The other voters grant every pre-vote and vote at once (their disks are fast).
            for case .send(let to, .vote(let request)) in answers {
                let reply = VoteResponse(
                    epoch: request.preVote ? node.epoch : request.epoch, candidateEpoch: request.epoch, granted: true,
                    preVote: request.preVote)
                disk.issue(node.step(.message(from: to, .voteResponse(reply)), now: now), now: now)
            }
        }
        XCTAssertEqual(node.role, .leader, "still \(node.role) in epoch \(node.epoch) after \(now) ms")
        XCTAssertLessThan(now, 1_000)
    }
}
