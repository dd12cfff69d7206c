import Foundation
import Logging
import TernRaft
import TernStorage
import TernTestSupport
import XCTest

@testable import TernBroker

/// Snapshots in the metadata quorum's directory, with real files: a snapshot is durable before
/// the log part of its write, the log prefix it covers is dropped by an atomic rewrite, and every
/// crash point (each step's files as a crash leaves them) loads as the snapshot and a log that
/// continues it. What contradicts itself stops the start with the file named.
final class QuorumSnapshotStoreTests: XCTestCase {
    let logger = Logger(label: "test.quorum.snapshots")
    var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-quorum-snap") }
    override func tearDown() { directory.remove() }

    var quorumDir: String { directory.path + "/" + QuorumLogStore.directoryName }
    var logPath: String { quorumDir + "/raft.log" }

    func open() throws -> (QuorumLogStore, RaftPersistentState) {
        let store = try QuorumLogStore(logDir: directory.path, logger: logger)
        return (store, try store.load())
    }

    func files() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: quorumDir).sorted() }
    func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
    }
    func snapshotPath(_ end: Int64, _ epoch: Int64) -> String {
        quorumDir + "/" + QuorumSnapshotFile.name(for: RaftSnapshotId(endOffset: end, lastEpoch: epoch))
    }

    /// Entries `from..<to`: epoch 1 below 5, epoch 2 from 5 on; payload names the offset.
    static func entries(_ range: Range<Int64>) -> [RaftEntry] {
        range.map { RaftEntry(epoch: $0 < 5 ? 1 : 2, data: Array("entry-\($0)".utf8)) }
    }

    static func snapshot(_ end: Int64) -> RaftSnapshot {
        RaftSnapshot(endOffset: end, lastEpoch: end <= 5 ? 1 : 2, data: Array("state-after-\(end)".utf8))
    }

    func append(_ store: QuorumLogStore, seq: UInt64, _ range: Range<Int64>, snapshot: RaftSnapshot? = nil) throws {
        try store.perform([
            RaftWrite(
                seq: seq, epoch: 2, votedFor: 1, fromOffset: range.lowerBound, entries: Self.entries(range),
                snapshot: snapshot)
        ])
    }

    /// A store with entries 0..<12, a snapshot at `end` made durable and (when `drop`) its
    /// prefix dropped.
    func prepare(snapshotAt end: Int64, drop: Bool) throws {
        let (store, _) = try open()
        try append(store, seq: 1, 0..<12)
        try append(store, seq: 2, 12..<12, snapshot: Self.snapshot(end))
        if drop { try store.dropLogPrefix(before: end) }
        store.close()
    }

    func testSnapshotThenDroppedPrefixRestartsFromSnapshotAndLog() throws {
        try prepare(snapshotAt: 8, drop: false)
        let before = try size(logPath)
        var (store, state) = try open()
        XCTAssertEqual(state.snapshot, Self.snapshot(8))
        XCTAssertEqual(state.entries, Self.entries(8..<12), "only the entries after the snapshot")
        XCTAssertEqual(store.logStartOffset, 8, "load trimmed the prefix a crash left behind")
        XCTAssertLessThan(try size(logPath), before)
        // Absolute offsets keep working after the trim, and a later snapshot replaces the first.
        try append(store, seq: 1, 12..<20)
        try append(store, seq: 2, 20..<20, snapshot: Self.snapshot(15))
        try store.dropLogPrefix(before: 15)
        XCTAssertEqual(
            try files().filter { $0.hasSuffix(".snapshot") }, [QuorumSnapshotFile.name(for: Self.snapshot(15).id)])
        store.close()
        (store, state) = try open()
        XCTAssertEqual(state.snapshot, Self.snapshot(15))
        XCTAssertEqual(state.entries, Self.entries(15..<20))
        // A cut after the snapshot (a divergence) works in absolute offsets too.
        try store.perform([
            RaftWrite(seq: 1, epoch: 3, votedFor: nil, fromOffset: 17, entries: [RaftEntry(epoch: 3, data: [7])])
        ])
        store.close()
        (store, state) = try open()
        XCTAssertEqual(state.entries, Self.entries(15..<17) + [RaftEntry(epoch: 3, data: [7])])
        store.close()
    }

    /// An installed snapshot past the log's end: the log starts empty at it, and the entries of
    /// the same write follow it.
    func testSnapshotPastTheLogEndStartsAnEmptyLogThere() throws {
        var (store, _) = try open()
        try append(store, seq: 1, 0..<3)
        try append(store, seq: 2, 10..<12, snapshot: Self.snapshot(10))
        XCTAssertEqual(store.logStartOffset, 10)
        store.close()
        let state: RaftPersistentState
        (store, state) = try open()
        XCTAssertEqual(state.snapshot, Self.snapshot(10))
        XCTAssertEqual(state.entries, Self.entries(10..<12))
        store.close()
    }

    /// Every crash point of taking a snapshot and dropping the prefix, as the files are left.
    func testEveryCrashPointLoadsTheSnapshotAndALogThatContinuesIt() throws {
        // 1. Crash while the snapshot's .tmp was being written: no snapshot, the whole log.
        var (store, _) = try open()
        try append(store, seq: 1, 0..<12)
        store.close()
        try Data("torn".utf8).write(to: URL(fileURLWithPath: snapshotPath(8, 2) + ".tmp"))
        var state: RaftPersistentState
        (store, state) = try open()
        XCTAssertNil(state.snapshot)
        XCTAssertEqual(state.entries, Self.entries(0..<12))
        XCTAssertFalse(try files().contains { $0.hasSuffix(".tmp") }, "the leftover is removed")
        // 2. Crash after the snapshot's rename, before the prefix drop: snapshot + log after it.
        try append(store, seq: 2, 12..<12, snapshot: Self.snapshot(8))
        store.close()
        let untrimmed = try Data(contentsOf: URL(fileURLWithPath: logPath))
        (store, state) = try open()
        XCTAssertEqual(state.snapshot, Self.snapshot(8))
        XCTAssertEqual(state.entries, Self.entries(8..<12))
        store.close()
        // 3. Crash during the log rewrite (raft.log.tmp half written, raft.log the old one).
        try untrimmed.write(to: URL(fileURLWithPath: logPath))
        try untrimmed.prefix(40).write(to: URL(fileURLWithPath: logPath + ".tmp"))
        (store, state) = try open()
        XCTAssertEqual(state.snapshot, Self.snapshot(8))
        XCTAssertEqual(state.entries, Self.entries(8..<12))
        XCTAssertFalse(try files().contains { $0.hasSuffix(".tmp") })
        // 4. Crash after the rewrite, before older snapshots were deleted.
        try append(store, seq: 1, 12..<14, snapshot: Self.snapshot(10))
        let older = try Data(contentsOf: URL(fileURLWithPath: snapshotPath(8, 2)))
        try store.dropLogPrefix(before: 10)
        XCTAssertFalse(FileManager.default.fileExists(atPath: snapshotPath(8, 2)), "older snapshot deleted")
        store.close()
        try older.write(to: URL(fileURLWithPath: snapshotPath(8, 2)))
        (store, state) = try open()
        XCTAssertEqual(state.snapshot, Self.snapshot(10))
        XCTAssertEqual(state.entries, Self.entries(10..<14))
        XCTAssertEqual(
            try files().filter { $0.hasSuffix(".snapshot") }, [QuorumSnapshotFile.name(for: Self.snapshot(10).id)])
        store.close()
    }

    /// A corrupt newest snapshot: the older one is used only while the log still holds every
    /// entry the corrupt one covered (nothing acknowledged is lost); otherwise a clear error.
    func testCorruptNewestSnapshotFallsBackOnlyWhenTheLogCoversIt() throws {
        var (store, _) = try open()
        try append(store, seq: 1, 0..<12)
        try append(store, seq: 2, 12..<12, snapshot: Self.snapshot(4))
        try store.dropLogPrefix(before: 4)
        try append(store, seq: 3, 12..<12, snapshot: Self.snapshot(8))
        store.close()
        let newest = snapshotPath(8, 2)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: newest)))
        bytes[bytes.count - 1] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: newest))
        var state: RaftPersistentState
        (store, state) = try open()
        XCTAssertEqual(state.snapshot, Self.snapshot(4), "the older snapshot")
        XCTAssertEqual(state.entries, Self.entries(4..<12), "and the log, which holds all the corrupt one covered")
        XCTAssertTrue(FileManager.default.fileExists(atPath: newest + ".corrupt"), "set aside for inspection")
        // Now the log is trimmed past the older one: a corrupt newest snapshot cannot be replaced.
        try append(store, seq: 1, 12..<12, snapshot: Self.snapshot(9))
        try store.dropLogPrefix(before: 9)
        store.close()
        let latest = snapshotPath(9, 2)
        bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: latest)))
        for index in [0, 10, 30, bytes.count - 1] {
            var damaged = bytes
            damaged[index] ^= 0x20
            try Data(damaged).write(to: URL(fileURLWithPath: latest))
            let reopened = try QuorumLogStore(logDir: directory.path, logger: logger)
            XCTAssertThrowsError(try reopened.load(), "byte \(index)") { error in
                XCTAssertEqual((error as? StorageError)?.code, .corruptLog)
                XCTAssertTrue("\(error)".contains(latest), "\(error) names the file")
            }
            reopened.close()
        }
        // A truncated one, and one whose name does not match its header, likewise.
        try Data(bytes.prefix(20)).write(to: URL(fileURLWithPath: latest))
        XCTAssertThrowsError(try QuorumLogStore(logDir: directory.path, logger: logger).load()) {
            XCTAssertTrue("\($0)".contains(latest), "\($0)")
        }
        try FileManager.default.removeItem(atPath: latest)
        let renamed = snapshotPath(9, 1)
        try Data(bytes).write(to: URL(fileURLWithPath: renamed))
        XCTAssertThrowsError(try QuorumLogStore(logDir: directory.path, logger: logger).load()) {
            XCTAssertTrue("\($0)".contains(renamed), "\($0)")
        }
    }

    /// Snapshots whose offsets or epoch contradict the log or the quorum state stop the start,
    /// naming the file: never a trap, never a guess.
    func testContradictingSnapshotsAreClearStartupErrors() throws {
        var (store, _) = try open()
        try append(store, seq: 1, 0..<12)
        store.close()
        // The log holds epoch 2 at offset 5; a snapshot claiming epoch 1 there contradicts it.
        let liar = RaftSnapshot(endOffset: 6, lastEpoch: 1, data: [1])
        let liarPath = quorumDir + "/" + QuorumSnapshotFile.name(for: liar.id)
        try Data(QuorumSnapshotFile.encode(liar)).write(to: URL(fileURLWithPath: liarPath))
        XCTAssertThrowsError(try QuorumLogStore(logDir: directory.path, logger: logger).load()) { error in
            XCTAssertTrue("\(error)".contains(liarPath) && "\(error)".contains("contradicts"), "\(error)")
        }
        try FileManager.default.removeItem(atPath: liarPath)
        // A snapshot of an epoch above the quorum state's.
        let ahead = RaftSnapshot(endOffset: 20, lastEpoch: 5, data: [2])
        let aheadPath = quorumDir + "/" + QuorumSnapshotFile.name(for: ahead.id)
        try Data(QuorumSnapshotFile.encode(ahead)).write(to: URL(fileURLWithPath: aheadPath))
        XCTAssertThrowsError(try QuorumLogStore(logDir: directory.path, logger: logger).load()) { error in
            XCTAssertTrue("\(error)".contains(aheadPath) && "\(error)".contains("quorum-state"), "\(error)")
        }
        try FileManager.default.removeItem(atPath: aheadPath)
        // A log starting after the only snapshot (entries between missing), and one with none.
        (store, _) = try open()
        try append(store, seq: 1, 12..<12, snapshot: Self.snapshot(8))
        try store.dropLogPrefix(before: 8)
        store.close()
        let eight = snapshotPath(8, 2)
        let kept = try Data(contentsOf: URL(fileURLWithPath: eight))
        try FileManager.default.removeItem(atPath: eight)
        XCTAssertThrowsError(try QuorumLogStore(logDir: directory.path, logger: logger).load()) { error in
            XCTAssertTrue("\(error)".contains(logPath) && "\(error)".contains("no snapshot"), "\(error)")
        }
        let early = RaftSnapshot(endOffset: 3, lastEpoch: 1, data: [3])
        let earlyPath = quorumDir + "/" + QuorumSnapshotFile.name(for: early.id)
        try Data(QuorumSnapshotFile.encode(early)).write(to: URL(fileURLWithPath: earlyPath))
        XCTAssertThrowsError(try QuorumLogStore(logDir: directory.path, logger: logger).load()) { error in
            XCTAssertTrue("\(error)".contains(earlyPath) && "\(error)".contains("missing"), "\(error)")
        }
        try FileManager.default.removeItem(atPath: earlyPath)
        try kept.write(to: URL(fileURLWithPath: eight))
        let state: RaftPersistentState
        (store, state) = try open()
        XCTAssertEqual(state.snapshot, Self.snapshot(8), "the directory as it was loads again")
        store.close()
    }

    /// The store refuses a snapshot write that would leave a contradicting log after it (the
    /// core cuts such a log first); nothing reaches the disk.
    func testContradictingSnapshotWriteIsRefused() throws {
        let (store, _) = try open()
        try append(store, seq: 1, 0..<12)
        XCTAssertThrowsError(
            try append(store, seq: 2, 12..<12, snapshot: RaftSnapshot(endOffset: 7, lastEpoch: 1, data: [])))
        XCTAssertFalse(FileManager.default.fileExists(atPath: snapshotPath(7, 1)))
        store.close()
    }
}
