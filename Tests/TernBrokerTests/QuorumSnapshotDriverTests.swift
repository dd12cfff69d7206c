import Dispatch
import Foundation
import Logging
import Synchronization
import TernRaft
import TernTestSupport
import XCTest

@testable import TernBroker

/// Snapshots and graceful resignation through the real driver: loopback sockets, real files,
/// three voters in-process. Each voter's host applies entries to a small deterministic state
/// (a count and a hash chain of the payloads) and snapshots it when the driver says one is due.
final class QuorumSnapshotDriverTests: XCTestCase, QuorumTestCase {
    /// The test host's state machine.
    struct MachineState: Equatable {
        var count: Int64 = 0
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        /// The offset after the last entry applied (or covered by the installed snapshot).
        var end: Int64 = 0

        mutating func apply(_ payload: [UInt8]) {
            count += 1
            for byte in payload { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        }

        var bytes: [UInt8] {
            withUnsafeBytes(of: count.bigEndian, Array.init) + withUnsafeBytes(of: hash.bigEndian, Array.init)
        }

        init() {}

        init?(_ bytes: [UInt8], end: Int64) {
            guard bytes.count == 16 else { return nil }
            count = Int64(bitPattern: bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) })
            hash = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
            self.end = end
        }
    }

    /// One voter's host: applies, snapshots when due, installs what the driver hands it.
    final class Host: Sendable {
        let state = Mutex(MachineState())
        let driver = Mutex<QuorumDriver?>(nil)
        let problems = Mutex<[String]>([])
        let installs = Mutex<[Int64]>([])

        func apply(_ offset: Int64, _ entries: [RaftEntry]) {
            let snapshot = state.withLock { state -> (bytes: [UInt8], end: Int64)? in
                if offset != state.end {
                    problems.withLock { $0.append("apply at \(offset), state at \(state.end)") }
                }
                for entry in entries where !entry.data.isEmpty { state.apply(entry.data) }
                state.end = offset + Int64(entries.count)
                guard let driver = driver.withLock({ $0 }), driver.snapshotDue else { return nil }
                return (state.bytes, state.end)
            }
            if let snapshot, let driver = driver.withLock({ $0 }) {
                driver.offerSnapshot(data: snapshot.bytes, endOffset: snapshot.end)
            }
        }

        func install(_ data: [UInt8], _ end: Int64) {
            installs.withLock { $0.append(end) }
            guard let restored = MachineState(data, end: end) else {
                return problems.withLock { $0.append("snapshot of \(data.count) bytes") }
            }
            state.withLock { $0 = restored }
        }
    }

    final class Voter: QuorumTestVoter {
        let id: RaftNodeId
        let port: Int
        let directory: TemporaryDirectory
        var driver: QuorumDriver?
        var host = Host()

        init(id: RaftNodeId, port: Int) {
            self.id = id
            self.port = port
            directory = TemporaryDirectory("tern-quorum-snap-\(id)")
        }

        var quorumDir: String { directory.path + "/" + QuorumLogStore.directoryName }
        var logBytes: Int {
            (try? FileManager.default.attributesOfItem(atPath: quorumDir + "/raft.log")[.size] as? Int) ?? -1
        }
        var snapshotFiles: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: quorumDir)) ?? []).filter {
                $0.hasSuffix(".snapshot")
            }
        }
    }

    var voters: [Voter] = []
    let logger = Logger(label: "test.quorum.snap")
    let wait: TimeInterval = 60
    var electionTimeoutMs: Int64 = 500

    override func tearDown() {
        for voter in voters {
            voter.driver?.shutdown()
            voter.directory.remove()
        }
        voters = []
    }

    func configuration(for voter: Voter) -> QuorumConfiguration {
        var peers: [RaftNodeId: QuorumAddress] = [:]
        for other in voters where other.id != voter.id {
            peers[other.id] = QuorumAddress(host: "127.0.0.1", port: other.port)
        }
        var configuration = QuorumConfiguration(
            nodeId: voter.id, peers: peers, listenAddress: QuorumAddress(host: "127.0.0.1", port: voter.port),
            clusterId: "snap-cluster", logDir: voter.directory.path)
        configuration.electionTimeoutMs = electionTimeoutMs
        configuration.fetchTimeoutMs = electionTimeoutMs * 3
        configuration.reconnectBackoffMaxMs = 200
        // Tiny: a snapshot every ~20 entries of ~90 bytes.
        configuration.snapshotMaxRecordBytes = 2000
        return configuration
    }

    func start(_ voter: Voter) throws {
        voter.host = Host()
        let host = voter.host
        let driver = QuorumDriver(configuration: configuration(for: voter), logger: logger) { host.apply($0, $1) }
        driver.installSnapshotHandler = { host.install($0, $1) }
        host.driver.withLock { $0 = driver }
        try driver.start()
        voter.driver = driver
    }

    func stop(_ voter: Voter) {
        voter.driver?.shutdown()
        voter.host.driver.withLock { $0 = nil }
        voter.driver = nil
    }

    /// Commits `payloads` in order, retrying a batch whose proposal failed (leadership may move).
    func commit(_ payloads: [String], batch: Int = 10, file: StaticString = #filePath, line: UInt = #line) {
        var next = 0
        let deadline = Date().addingTimeInterval(wait)
        while next < payloads.count, Date() < deadline {
            let running = voters.filter { $0.driver != nil }
            guard let leader = agreedLeader(running), let driver = leader.driver else {
                usleep(10_000)
                continue
            }
            let chunk = Array(payloads[next..<min(next + batch, payloads.count)])
            let result = Mutex<Result<Int64, QuorumError>?>(nil)
            let done = DispatchSemaphore(value: 0)
            driver.propose(chunk.map { Array($0.utf8) }, timeout: .seconds(20)) { outcome in
                result.withLock { $0 = outcome }
                done.signal()
            }
            guard done.wait(timeout: .now() + 30) == .success else { continue }
            if case .success = result.withLock({ $0 }) { next += chunk.count }
        }
        XCTAssertEqual(next, payloads.count, "every batch committed", file: file, line: line)
    }

    /// The state a host holds after applying `payloads` (control entries do not count).
    static func expected(_ payloads: [String]) -> MachineState {
        var state = MachineState()
        for payload in payloads { state.apply(Array(payload.utf8)) }
        return state
    }

    static func payloads(_ range: Range<Int>) -> [String] {
        range.map { "payload-\($0)-" + String(repeating: "x", count: 70) }
    }

    /// Snapshots bound every voter's log; a voter stopped while the leader's log start passed its
    /// log end catches up by FetchSnapshot and ends with the same state; restarts (one voter, then
    /// all) come back from snapshot + log with that state again.
    func testSnapshotsBoundTheLogAndALaggingVoterCatchesUpBySnapshot() throws {
        voters = (1...3).map { Voter(id: RaftNodeId($0), port: freeLoopbackPort()) }
        for voter in voters { try start(voter) }
        guard let leader = waitForLeader(voters) else { return }
        var committed = Self.payloads(0..<20)
        commit(committed)
        let lagging = voters.first { $0.id != leader.id }!
        waitUntil("the lagging voter to apply the first entries") {
            lagging.host.state.withLock { $0.count } == 20
        }
        stop(lagging)
        let running = voters.filter { $0.id != lagging.id }
        let more = Self.payloads(20..<400)
        commit(more)
        committed += more
        let written = committed.reduce(0) { $0 + $1.utf8.count + 16 }
        for voter in running {
            waitUntil("voter \(voter.id) to snapshot and trim its log") {
                !voter.snapshotFiles.isEmpty && voter.logBytes < 12_000
            }
            XCTAssertEqual(voter.snapshotFiles.count, 1, "older snapshots are deleted")
            XCTAssertGreaterThan(voter.driver!.snapshotCounts.offered, 5)
            XCTAssertEqual(voter.host.problems.withLock { $0 }, [])
        }
        XCTAssertGreaterThan(written, 30_000, "the log would be this big without snapshots")

        // The lagging voter's log ends far below the leader's log start: only a snapshot helps.
        try start(lagging)
        let want = Self.expected(committed)
        waitUntil("the lagging voter to reach the same state") {
            lagging.host.state.withLock { ($0.count, $0.hash) } == (want.count, want.hash)
        }
        XCTAssertGreaterThanOrEqual(lagging.driver!.snapshotCounts.installed, 1, "caught up by FetchSnapshot")
        XCTAssertFalse(lagging.host.installs.withLock { $0 }.isEmpty)
        XCTAssertEqual(lagging.host.problems.withLock { $0 }, [])
        waitUntil("the lagging voter to hold a snapshot file") { !lagging.snapshotFiles.isEmpty }

        // Restart it alone: it loads its snapshot and log, the host gets the snapshot first.
        stop(lagging)
        try start(lagging)
        XCTAssertFalse(lagging.host.installs.withLock { $0 }.isEmpty, "the loaded snapshot was handed over at start")
        waitUntil("the restarted voter to reach the same state") {
            lagging.host.state.withLock { ($0.count, $0.hash) } == (want.count, want.hash)
        }

        // Restart all three from their files; one more entry; every state is the expected one.
        for voter in voters { stop(voter) }
        for voter in voters { try start(voter) }
        guard waitForLeader(voters) != nil else { return }
        commit(["last"])
        committed.append("last")
        let final = Self.expected(committed)
        for voter in voters {
            waitUntil("voter \(voter.id) to apply the last entry with the same state") {
                voter.host.state.withLock { ($0.count, $0.hash) } == (final.count, final.hash)
            }
            XCTAssertEqual(voter.host.problems.withLock { $0 }, [], "voter \(voter.id)")
        }
    }

    /// A leader that shuts down gracefully resigns with EndQuorumEpoch: a successor is elected
    /// well before any follower's election timeout could fire (the only way without it).
    func testGracefulLeaderShutdownElectsASuccessorBeforeAnElectionTimeout() throws {
        electionTimeoutMs = 3000
        voters = (1...3).map { Voter(id: RaftNodeId($0), port: freeLoopbackPort()) }
        for voter in voters { try start(voter) }
        guard let leader = waitForLeader(voters) else { return }
        commit(["before"])
        let oldEpoch = leader.driver!.status().epoch
        let rest = voters.filter { $0.id != leader.id }
        // Every follower heard from the leader just now, so without EndQuorumEpoch none could
        // start an election for at least electionTimeoutMs (3 s) from here.
        let started = DispatchTime.now().uptimeNanoseconds
        stop(leader)
        guard let successor = waitForLeader(rest) else { return }
        let elapsedMs = Int64((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
        XCTAssertLessThan(elapsedMs, electionTimeoutMs - 500, "a successor in \(elapsedMs) ms")
        XCTAssertEqual(successor.driver!.status().epoch, oldEpoch + 1)
        commit(["after"])
    }

    /// A FetchSnapshot answer announcing more than `maxSnapshotBytes` is refused before any of it
    /// is kept; the same download announced within the cap installs.
    func testSnapshotLargerThanTheCapIsRefusedBeforeBuffering() throws {
        voters = (1...3).map { Voter(id: RaftNodeId($0), port: freeLoopbackPort()) }
        let voter = voters[0]
        var configuration = configuration(for: voter)
        configuration.maxSnapshotBytes = 1000
        let installed = Mutex<[([UInt8], Int64)]>([])
        let driver = QuorumDriver(configuration: configuration, logger: logger) { _, _ in }
        driver.installSnapshotHandler = { data, end in installed.withLock { $0.append((data, end)) } }
        try driver.start()
        voter.driver = driver
        let connection = try RawConnection(port: voter.port, timeout: 10)
        func send(_ message: RaftMessage) throws {
            try connection.write(
                RaftEnvelope(clusterId: "snap-cluster", from: 2, message: message)
                    .encodeFrame(correlationId: 1, clientId: "test"))
            XCTAssertNotNil(connection.readFrame(), "acknowledged")
        }
        // Voter 2 leads epoch 3 and its log starts at 10: the follower must fetch its snapshot.
        let id = RaftSnapshotId(endOffset: 10, lastEpoch: 3)
        try send(.beginQuorumEpoch(epoch: 3))
        waitUntil("node 1 to follow node 2") { driver.status().leaderId == 2 }
        try send(
            .fetchResponse(
                FetchResponse(
                    epoch: 3, leaderId: 2, fetchOffset: 0, lastFetchedEpoch: 0, highWatermark: 10, snapshotId: id)))
        let refusedBefore = driver.refusedCount
        try send(
            .fetchSnapshotResponse(
                FetchSnapshotResponse(
                    epoch: 3, leaderId: 2, snapshotId: id, size: 5000, position: 0,
                    chunk: [UInt8](repeating: 7, count: 1000))))
        waitUntil("the oversized answer to be refused") { driver.refusedCount == refusedBefore + 1 }
        // The control: the same snapshot announced within the cap downloads and installs.
        try send(
            .fetchSnapshotResponse(
                FetchSnapshotResponse(epoch: 3, leaderId: 2, snapshotId: id, size: 3, position: 0, chunk: [1, 2, 3])))
        waitUntil("the snapshot within the cap to install") { !installed.withLock { $0 }.isEmpty }
        let first = installed.withLock { $0.first }
        XCTAssertEqual(first?.0, [1, 2, 3])
        XCTAssertEqual(first?.1, 10)
        XCTAssertEqual(driver.status().highWatermark, 10)
        waitUntil("the snapshot file") { voter.snapshotFiles == [QuorumSnapshotFile.name(for: id)] }
    }

    func testSnapshotPolicyIsDueByBytesOrByTimeWithNewEntries() {
        var policy = QuorumSnapshotPolicy(maxRecordBytes: 100, intervalMs: 1000, now: 0)
        XCTAssertFalse(policy.isDue(now: 5000), "nothing applied: never due")
        policy.applied([RaftEntry(epoch: 1, data: [UInt8](repeating: 0, count: 50))])
        XCTAssertFalse(policy.isDue(now: 10), "62 bytes, 10 ms")
        XCTAssertTrue(policy.isDue(now: 1000), "the interval passed with an entry applied")
        policy.applied([RaftEntry(epoch: 1, data: [UInt8](repeating: 0, count: 30))])
        XCTAssertTrue(policy.isDue(now: 10), "104 bytes")
        policy.snapshotted(now: 20)
        XCTAssertFalse(policy.isDue(now: 5000))
        var untimed = QuorumSnapshotPolicy(maxRecordBytes: 100, intervalMs: 0, now: 0)
        untimed.applied([RaftEntry(epoch: 1, data: [1])])
        XCTAssertFalse(untimed.isDue(now: .max / 2), "interval 0: no time trigger")
    }
}
