import Dispatch
import Foundation
import Logging
import Synchronization
import TernNet
import TernRaft
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// The metadata quorum's I/O shell with real loopback sockets and real files, in-process:
/// elections, replication, failover, restart from disk, a single voter, hostile input.
final class QuorumDriverTests: XCTestCase, QuorumTestCase {
    /// What one voter has applied, checked to arrive in order without gaps.
    final class Applied: Sendable {
        let entries = Mutex<[RaftEntry]>([])
        let gaps = Mutex<[String]>([])

        func record(_ offset: Int64, _ batch: [RaftEntry]) {
            entries.withLock { entries in
                if offset != Int64(entries.count) {
                    gaps.withLock { $0.append("apply at \(offset) with \(entries.count) applied") }
                }
                entries.append(contentsOf: batch)
            }
        }

        /// The proposals' payloads, without the leaders' control entries.
        var payloads: [String] {
            entries.withLock { $0.filter { !$0.data.isEmpty }.map { String(decoding: $0.data, as: UTF8.self) } }
        }
        var count: Int { entries.withLock { $0.count } }
    }

    /// One voter of a test quorum: its files and port outlive its drivers, so it can restart.
    final class Voter: QuorumTestVoter {
        let id: RaftNodeId
        let port: Int
        let directory: TemporaryDirectory
        var driver: QuorumDriver?
        var applied = Applied()

        init(id: RaftNodeId, port: Int) {
            self.id = id
            self.port = port
            directory = TemporaryDirectory("tern-quorum-\(id)")
        }
    }

    var voters: [Voter] = []
    let logger = Logger(label: "test.quorum")
    let wait: TimeInterval = 30

    override func tearDown() {
        for voter in voters {
            voter.driver?.shutdown()
            voter.directory.remove()
        }
        voters = []
    }

    func makeVoters(_ count: Int) {
        voters = (1...count).map { Voter(id: RaftNodeId($0), port: freeLoopbackPort()) }
    }

    func configuration(for voter: Voter, clusterId: String = "test-cluster") -> QuorumConfiguration {
        var peers: [RaftNodeId: QuorumAddress] = [:]
        for other in voters where other.id != voter.id {
            peers[other.id] = QuorumAddress(host: "127.0.0.1", port: other.port)
        }
        var configuration = QuorumConfiguration(
            nodeId: voter.id, peers: peers,
            listenAddress: voters.count > 1 ? QuorumAddress(host: "127.0.0.1", port: voter.port) : nil,
            clusterId: clusterId, logDir: voter.directory.path)
        // Short enough for a quick test, long enough for a loaded 2-core machine.
        configuration.electionTimeoutMs = 500
        configuration.fetchTimeoutMs = 1500
        configuration.reconnectBackoffMaxMs = 200
        return configuration
    }

    @discardableResult
    func start(_ voter: Voter, _ configuration: QuorumConfiguration? = nil) throws -> QuorumDriver {
        voter.applied = Applied()
        let applied = voter.applied
        let driver = QuorumDriver(configuration: configuration ?? self.configuration(for: voter), logger: logger) {
            applied.record($0, $1)
        }
        try driver.start()
        voter.driver = driver
        return driver
    }

    func stop(_ voter: Voter) {
        voter.driver?.shutdown()
        voter.driver = nil
    }

    func propose(_ driver: QuorumDriver, _ payloads: [String], timeout: Duration = .seconds(20)) -> Result<
        Int64, QuorumError
    > {
        let result = Mutex<Result<Int64, QuorumError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        driver.propose(payloads.map { Array($0.utf8) }, timeout: timeout) { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        guard done.wait(timeout: .now() + wait) == .success, let outcome = result.withLock({ $0 }) else {
            return .failure(QuorumError(.unavailable, "the completion never ran"))
        }
        return outcome
    }

    /// Proposes until one attempt commits (leadership may move under a loaded machine).
    func proposeCommitted(_ payload: String, file: StaticString = #filePath, line: UInt = #line) {
        let running = voters.filter { $0.driver != nil }
        let deadline = Date().addingTimeInterval(wait)
        var last: QuorumError?
        while Date() < deadline {
            guard let leader = agreedLeader(running), let driver = leader.driver else {
                usleep(10_000)
                continue
            }
            switch propose(driver, [payload]) {
            case .success: return
            case .failure(let error):
                last = error
                XCTAssertNotEqual(error.code, .invalidProposal, file: file, line: line)
            }
        }
        XCTFail("\(payload) never committed; last error: \(String(describing: last))", file: file, line: line)
    }

    // MARK: Tests

    func testSingleVoterElectsItselfCommitsAndRestartsFromItsFiles() throws {
        makeVoters(1)
        let voter = voters[0]
        var driver = try start(voter)
        waitUntil("the single voter to lead") { driver.status().role == .leader }
        guard case .success(let first) = propose(driver, ["a", "b"]) else { return XCTFail("proposal failed") }
        XCTAssertEqual(first, 1, "offset 0 is the epoch's control entry")
        XCTAssertEqual(voter.applied.payloads, ["a", "b"], "applied before the completion ran")
        XCTAssertEqual(try propose(driver, ["c"]).get(), 3)
        XCTAssertEqual(voter.applied.gaps.withLock { $0 }, [])
        let status = driver.status()
        XCTAssertEqual(status.highWatermark, 4)
        XCTAssertEqual(status.voters.map(\.id), [1])
        XCTAssertEqual(status.voters.first?.endOffset, 4)

        stop(voter)
        driver = try start(voter)
        waitUntil("the restarted voter to lead again") { driver.status().role == .leader }
        XCTAssertEqual(driver.status().epoch, status.epoch + 1)
        waitUntil("the committed log to be applied again") { voter.applied.payloads == ["a", "b", "c"] }
        XCTAssertEqual(try propose(driver, ["d"]).get(), 5)
        XCTAssertEqual(voter.applied.payloads, ["a", "b", "c", "d"])
    }

    func testProposalsThatCannotBeReplicatedAreRefused() throws {
        makeVoters(1)
        let driver = try start(voters[0])
        for payloads in [[], [""], ["ok", ""]] {
            guard case .failure(let error) = propose(driver, payloads) else { return XCTFail("\(payloads) accepted") }
            XCTAssertEqual(error.code, .invalidProposal)
        }
        let big = [UInt8](repeating: 1, count: RaftWireLimits.maxEntryBytes + 1)
        let refused = Mutex<QuorumError?>(nil)
        driver.propose([big], timeout: .seconds(1)) { result in
            if case .failure(let error) = result { refused.withLock { $0 = error } }
        }
        XCTAssertEqual(refused.withLock { $0 }?.code, .invalidProposal, "refused at once")
    }

    func testThreeVotersElectOneLeaderAndApplyTheSameSequence() throws {
        makeVoters(3)
        for voter in voters { try start(voter) }
        guard let leader = waitForLeader(voters), let leaderDriver = leader.driver else { return }
        // A follower refuses, naming the leader it follows. (Should it have won an election
        // since, in a later epoch, accepting is right.)
        let follower = voters.first { $0.id != leader.id }!
        let followerEpoch = follower.driver!.status().epoch
        switch propose(follower.driver!, ["x"]) {
        case .failure(let error):
            XCTAssertEqual(error.code, .notLeader)
            XCTAssertNotEqual(error.leaderHint, follower.id)
        case .success:
            XCTAssertGreaterThan(follower.driver!.status().epoch, followerEpoch, "a follower accepted a proposal")
        }
        var expected: [String] = []
        for i in 0..<20 {
            let payloads = ["p\(i)-a", "p\(i)-b"]
            // The leader of the moment (on a loaded machine leadership may move).
            switch propose(agreedLeader(voters)?.driver ?? leaderDriver, payloads) {
            case .success:
                expected += payloads
            case .failure(let error):
                // Only a leadership change may refuse.
                XCTAssertNotEqual(error.code, .invalidProposal)
            }
        }
        XCTAssertFalse(expected.isEmpty)
        waitUntil("every voter to apply every committed proposal") {
            voters.allSatisfy { Set($0.applied.payloads).isSuperset(of: expected) }
        }
        let sequences = voters.map { $0.applied.entries.withLock { $0 } }
        let shortest = sequences.map(\.count).min() ?? 0
        for sequence in sequences {
            XCTAssertEqual(Array(sequence[..<shortest]), Array(sequences[0][..<shortest]), "same committed prefix")
        }
        for voter in voters { XCTAssertEqual(voter.applied.gaps.withLock { $0 }, [], "voter \(voter.id)") }
        // The leader's status names every voter's end offset and last contact.
        waitUntil("the leader's status to show both followers caught up") {
            guard let status = agreedLeader(voters)?.driver?.status() else { return false }
            return status.voters.count == 3
                && status.voters.allSatisfy { ($0.endOffset ?? -1) >= Int64(shortest) && $0.lastContactAgeMs != nil }
        }
    }

    func testLeaderShutdownElectsAnotherAndTheRestartedVoterCatchesUp() throws {
        makeVoters(3)
        for voter in voters { try start(voter) }
        guard let first = waitForLeader(voters) else { return }
        proposeCommitted("before")
        let oldEpoch = first.driver!.status().epoch

        stop(first)
        let rest = voters.filter { $0.id != first.id }
        guard let second = waitForLeader(rest) else { return }
        XCTAssertNotEqual(second.id, first.id)
        XCTAssertGreaterThan(second.driver!.status().epoch, oldEpoch)
        proposeCommitted("after")
        for voter in rest {
            waitUntil("voter \(voter.id) to apply both") { voter.applied.payloads.suffix(2) == ["before", "after"] }
        }

        try start(first)
        XCTAssertGreaterThanOrEqual(first.driver!.status().logEndOffset, 2, "its log is loaded from its files")
        waitUntil("the restarted voter to catch up from its files and the leader") {
            first.applied.payloads.contains("after")
        }
        XCTAssertEqual(first.applied.payloads.filter { ["before", "after"].contains($0) }, ["before", "after"])
        proposeCommitted("all three")
        waitUntil("every voter to apply the last proposal") {
            voters.allSatisfy { $0.applied.payloads.last == "all three" }
        }
        // The same committed sequence (a later election's control entry may be applied by
        // some voters already: compare the common prefix, which holds every proposal).
        let sequences = voters.map { $0.applied.entries.withLock { $0 } }
        let shortest = sequences.map(\.count).min() ?? 0
        for sequence in sequences { XCTAssertEqual(Array(sequence[..<shortest]), Array(sequences[0][..<shortest])) }
        for voter in voters { XCTAssertEqual(voter.applied.gaps.withLock { $0 }, [], "voter \(voter.id)") }
    }

    func testLostMajorityFailsProposalsWithAClearError() throws {
        makeVoters(3)
        // Two of three run: a majority.
        try start(voters[0])
        try start(voters[1])
        guard let leader = waitForLeader(Array(voters[0...1])) else { return }
        proposeCommitted("with a majority")
        let other = voters[0...1].first { $0.id != leader.id }!
        stop(other)
        // The leader alone cannot commit: the proposal fails (timeout or resignation), never hangs.
        switch propose(leader.driver!, ["without"], timeout: .milliseconds(800)) {
        case .success: XCTFail("committed without a majority")
        case .failure(let error):
            XCTAssertTrue([.timedOut, .leadershipLost, .notLeader].contains(error.code), "\(error)")
        }
        // The leader resigns once no majority fetches from it.
        waitUntil("the cut-off leader to resign") { leader.driver!.status().role != .leader }
        if case .failure(let error) = propose(leader.driver!, ["later"]) {
            XCTAssertEqual(error.code, .notLeader)
        } else {
            XCTFail("a resigned leader accepted a proposal")
        }
    }

    /// Hostile input on the controller listener: refused, logged, and nothing changes. The node
    /// is one of three voters whose peers never start, so without outside input its epoch stays
    /// at 0 (pre-votes do not bump it) and any change is the input's doing.
    func testGarbageUnknownVotersAndOtherClustersAreRefusedAndChangeNothing() throws {
        makeVoters(3)
        let driver = try start(voters[0])
        let port = voters[0].port
        let before = driver.status()
        XCTAssertEqual(before.epoch, 0)

        func request(_ envelope: RaftEnvelope) -> [UInt8] {
            envelope.encodeFrame(correlationId: 5, clientId: "hostile")
        }
        func status(of payload: [UInt8]?) -> ErrorCode? {
            guard let payload else { return nil }
            var reader = ByteReader(payload)
            return try? Frame.readResponseHead(&reader).status.errorCode
        }

        // Garbage: closed without a response.
        let garbage = try RawConnection(port: port, timeout: 10)
        try garbage.write([0, 0, 0, 6, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02])
        XCTAssertNil(garbage.readFrame(), "the connection is closed")

        // A well-framed request with a body that does not decode: an error, then closed.
        let truncated = try RawConnection(port: port, timeout: 10)
        let vote = request(
            RaftEnvelope(
                clusterId: "test-cluster", from: 2,
                message: .vote(VoteRequest(epoch: 1000, lastEpoch: 0, endOffset: 0, preVote: false))))
        let body = Array(vote.dropFirst(4).dropLast(3))
        var writer = ByteWriter()
        writer.write(UInt32(body.count))
        writer.write(contentsOf: body)
        try truncated.write(writer.bytes)
        XCTAssertEqual(status(of: truncated.readFrame()), .invalidRequest)
        XCTAssertNil(truncated.readFrame(), "then closed")

        let connection = try RawConnection(port: port, timeout: 10)
        // An unknown node asking for a vote in a far epoch.
        try connection.write(
            request(
                RaftEnvelope(
                    clusterId: "test-cluster", from: 9,
                    message: .vote(VoteRequest(epoch: 1000, lastEpoch: 0, endOffset: 0, preVote: false)))))
        XCTAssertEqual(status(of: connection.readFrame()), .inconsistentVoterSet)
        // A voter's id, but another cluster.
        try connection.write(
            request(RaftEnvelope(clusterId: "other-cluster", from: 2, message: .beginQuorumEpoch(epoch: 1000))))
        XCTAssertEqual(status(of: connection.readFrame()), .inconsistentClusterId)
        // This node's own id.
        try connection.write(
            request(RaftEnvelope(clusterId: "test-cluster", from: 1, message: .beginQuorumEpoch(epoch: 1000))))
        XCTAssertEqual(status(of: connection.readFrame()), .inconsistentVoterSet)
        // A voter, but an epoch no message may carry: acknowledged, refused by the core.
        try connection.write(
            request(RaftEnvelope(clusterId: "test-cluster", from: 2, message: .beginQuorumEpoch(epoch: .max))))
        XCTAssertEqual(status(of: connection.readFrame()), ErrorCode.none)

        waitUntil("every refusal to be counted") { driver.refusedCount >= 6 }
        let after = driver.status()
        XCTAssertEqual(after.epoch, 0)
        XCTAssertNil(after.leaderId)
        XCTAssertNil(after.votedFor)
        XCTAssertEqual(after.logEndOffset, before.logEndOffset)

        // The control: the same connection, a valid announcement from voter 2, is obeyed.
        try connection.write(
            request(RaftEnvelope(clusterId: "test-cluster", from: 2, message: .beginQuorumEpoch(epoch: 3))))
        XCTAssertEqual(status(of: connection.readFrame()), ErrorCode.none)
        waitUntil("the node to follow voter 2 in epoch 3") {
            let s = driver.status()
            return s.epoch == 3 && s.leaderId == 2 && s.role == .follower
        }
    }

    func testStartFailuresAreClearErrorsAndReleaseTheFiles() throws {
        makeVoters(3)
        try start(voters[0])
        // A second voter configured on the first one's port cannot bind: a NetError, and its own
        // files are released (a retry on a free port works).
        var clash = configuration(for: voters[1])
        clash.listenAddress = QuorumAddress(host: "127.0.0.1", port: voters[0].port)
        let failed = QuorumDriver(configuration: clash, logger: logger) { _, _ in }
        XCTAssertThrowsError(try failed.start()) { XCTAssertEqual(($0 as? NetError)?.code, .addressInUse, "\($0)") }
        failed.shutdown()
        try start(voters[1])
        stop(voters[1])

        // A quorum-state that does not parse stops the start, naming the file.
        let path = voters[1].directory.path + "/" + QuorumLogStore.directoryName + "/quorum-state"
        try Data("version=1\nepoch=banana\nvoted_for=none\n".utf8).write(to: URL(fileURLWithPath: path))
        let broken = QuorumDriver(configuration: configuration(for: voters[1]), logger: logger) { _, _ in }
        XCTAssertThrowsError(try broken.start()) { XCTAssertTrue("\($0)".contains(path), "\($0)") }
        guard case .failure(let error) = propose(broken, ["x"]) else { return XCTFail("a driver that did not start") }
        XCTAssertEqual(error.code, .unavailable)
    }

    /// Shutdown with proposals in flight: every completion runs (committed or `unavailable`),
    /// and every proposal reported committed is in the files the next start reads.
    func testShutdownCompletesEveryProposalAndKeepsWhatCommitted() throws {
        makeVoters(1)
        let voter = voters[0]
        let driver = try start(voter)
        waitUntil("the single voter to lead") { driver.status().role == .leader }
        let outcomes = Mutex<[String: Result<Int64, QuorumError>]>([:])
        let group = DispatchGroup()
        for i in 0..<300 {
            group.enter()
            driver.propose([Array("p\(i)".utf8)], timeout: .seconds(30)) { result in
                outcomes.withLock { $0["p\(i)"] = result }
                group.leave()
            }
        }
        stop(voter)
        XCTAssertEqual(group.wait(timeout: .now() + wait), .success, "every completion ran")
        let results = outcomes.withLock { $0 }
        XCTAssertEqual(results.count, 300)
        var committed: [Int64: String] = [:]
        for (payload, result) in results {
            switch result {
            case .success(let offset): committed[offset] = payload
            case .failure(let error): XCTAssertEqual(error.code, .unavailable, "\(error)")
            }
        }
        let restarted = try start(voter)
        waitUntil("the restarted voter to lead") { restarted.status().role == .leader }
        waitUntil("the committed log to be applied") { voter.applied.count > (committed.keys.max() ?? 0) }
        let entries = voter.applied.entries.withLock { $0 }
        for (offset, payload) in committed {
            XCTAssertEqual(String(decoding: entries[Int(offset)].data, as: UTF8.self), payload, "offset \(offset)")
        }
    }
}
