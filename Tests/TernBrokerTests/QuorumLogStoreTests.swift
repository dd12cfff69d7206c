import Foundation
import Logging
import Synchronization
import TernRaft
import TernStorage
import TernTestSupport
import XCTest

@testable import TernBroker

/// The metadata quorum's files with real temp directories: what is written reads back after a
/// reopen, a torn or corrupt tail is cut (never trusted, never a trap), a bad quorum-state stops
/// the start with the file named.
final class QuorumLogStoreTests: XCTestCase {
    let logger = Logger(label: "test.quorum.store")
    var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-quorum-store") }
    override func tearDown() { directory.remove() }

    var logPath: String { directory.path + "/" + QuorumLogStore.directoryName + "/raft.log" }
    var statePath: String { directory.path + "/" + QuorumLogStore.directoryName + "/quorum-state" }

    func open() throws -> (QuorumLogStore, RaftPersistentState) {
        let store = try QuorumLogStore(logDir: directory.path, logger: logger)
        return (store, try store.load())
    }

    static func entries(_ epoch: Int64, _ payloads: [String]) -> [RaftEntry] {
        payloads.map { RaftEntry(epoch: epoch, data: Array($0.utf8)) }
    }

    func write(_ seq: UInt64, epoch: Int64, vote: RaftNodeId?, from: Int64, _ entries: [RaftEntry]) -> RaftWrite {
        RaftWrite(seq: seq, epoch: epoch, votedFor: vote, truncatingTo: from, appending: entries)
    }

    func testFreshDirectoryIsEmptyAndVotesSurviveReopen() throws {
        var (store, state) = try open()
        XCTAssertEqual(state, RaftPersistentState())
        try store.perform([write(1, epoch: 3, vote: 2, from: 0, [])])
        store.close()
        (store, state) = try open()
        XCTAssertEqual(state, RaftPersistentState(epoch: 3, votedFor: 2, entries: []))
        try store.perform([write(1, epoch: 4, vote: nil, from: 0, [])])
        store.close()
        (store, state) = try open()
        XCTAssertEqual(state.epoch, 4)
        XCTAssertNil(state.votedFor)
        XCTAssertFalse(FileManager.default.fileExists(atPath: statePath + ".tmp"))
        store.close()
    }

    func testGroupOfWritesWithTruncationReadsBackAfterReopen() throws {
        var (store, _) = try open()
        let first = Self.entries(1, ["", "a", "bb", "ccc"])
        let replacement = Self.entries(2, ["", "x"])
        // One group: append, cut back to 2 entries (a divergence), append again, new vote.
        try store.perform([
            write(1, epoch: 1, vote: 1, from: 0, first),
            write(2, epoch: 2, vote: 3, from: 2, []),
            write(3, epoch: 2, vote: 3, from: 2, replacement),
        ])
        store.close()
        var state: RaftPersistentState
        (store, state) = try open()
        XCTAssertEqual(state, RaftPersistentState(epoch: 2, votedFor: 3, entries: Array(first[..<2]) + replacement))
        // Appending after a reopen continues at the right place.
        try store.perform([write(1, epoch: 2, vote: 3, from: 4, Self.entries(2, ["y"]))])
        try store.perform([write(2, epoch: 2, vote: 3, from: 1, Self.entries(2, ["z"]))])
        store.close()
        (store, state) = try open()
        XCTAssertEqual(state.entries, [first[0]] + Self.entries(2, ["z"]))
        store.close()
    }

    /// A crash mid-append leaves part of an entry: every cut point of the last entry reads back
    /// as the entries before it, the file is cut there, and appending works again.
    func testTornTailIsCutAtEveryByte() throws {
        var (store, _) = try open()
        let entries = Self.entries(1, ["", "one", "two-two"])
        try store.perform([write(1, epoch: 1, vote: 1, from: 0, entries)])
        store.close()
        let full = try Data(contentsOf: URL(fileURLWithPath: logPath))
        let lastEntrySize = 16 + 7
        for cut in (full.count - lastEntrySize + 1)..<full.count {
            try full.prefix(cut).write(to: URL(fileURLWithPath: logPath))
            var state: RaftPersistentState
            (store, state) = try open()
            XCTAssertEqual(state.entries, Array(entries[..<2]), "cut at \(cut)")
            XCTAssertEqual(try fileSize(logPath), full.count - lastEntrySize, "the torn bytes are removed")
            try store.perform([write(1, epoch: 1, vote: 1, from: 2, Self.entries(1, ["again"]))])
            store.close()
            (store, state) = try open()
            XCTAssertEqual(state.entries, Array(entries[..<2]) + Self.entries(1, ["again"]))
            store.close()
        }
    }

    /// A flipped byte anywhere in an entry (length, CRC, epoch or payload) cuts the log there.
    func testFlippedByteCutsTheLogAtThatEntry() throws {
        var (store, _) = try open()
        let entries = Self.entries(1, ["first", "second", "third"])
        try store.perform([write(1, epoch: 1, vote: 1, from: 0, entries)])
        store.close()
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: logPath)))
        let secondStart = QuorumLogStore.logHeaderSize + 16 + 5
        for offset in secondStart..<(secondStart + 16 + 6) {
            var bytes = full
            bytes[offset] ^= 0x40
            try Data(bytes).write(to: URL(fileURLWithPath: logPath))
            let state: RaftPersistentState
            (store, state) = try open()
            XCTAssertEqual(state.entries, [entries[0]], "byte \(offset) flipped")
            XCTAssertEqual(try fileSize(logPath), secondStart)
            store.close()
        }
    }

    func testEpochsGoingBackwardsAreACorruptTail() throws {
        var (store, _) = try open()
        // The store writes what it is given; an entry of an older epoch behind a newer one
        // (valid CRC) can only be a leftover, and loading cuts it.
        try store.perform([write(1, epoch: 3, vote: 1, from: 0, Self.entries(3, ["a"]))])
        try store.perform([write(2, epoch: 3, vote: 1, from: 1, Self.entries(2, ["b"]))])
        store.close()
        let state: RaftPersistentState
        (store, state) = try open()
        XCTAssertEqual(state.entries, Self.entries(3, ["a"]))
        store.close()
    }

    func testUnparseableQuorumStateIsAClearStartupError() throws {
        let (store, _) = try open()
        store.close()
        for text in [
            "version=1\nepoch=x\nvoted_for=none\n", "version=2\nepoch=1\nvoted_for=none\n",
            "version=1\nepoch=1\n", "version=1\nepoch=1\nvoted_for=-4\n", "garbage",
            "version=1\nepoch=1\nvoted_for=1\nx=1\n",
        ] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: statePath))
            let reopened = try QuorumLogStore(logDir: directory.path, logger: logger)
            XCTAssertThrowsError(try reopened.load(), text) { error in
                XCTAssertEqual((error as? StorageError)?.code, .corruptLog, text)
                XCTAssertTrue("\(error)".contains(statePath), "\(error) names the file")
            }
            reopened.close()
        }
    }

    func testLogAheadOfItsQuorumStateIsAStartupError() throws {
        var (store, _) = try open()
        try store.perform([write(1, epoch: 2, vote: 1, from: 0, Self.entries(2, ["a"]))])
        store.close()
        try FileManager.default.removeItem(atPath: statePath)
        store = try QuorumLogStore(logDir: directory.path, logger: logger)
        XCTAssertThrowsError(try store.load()) { XCTAssertTrue("\($0)".contains("epoch 2")) }
        store.close()
    }

    /// The writer thread: writes queued while a round runs share the next round's sync, and
    /// each round reports the last seq it made durable.
    func testWriterGroupsWritesAndReportsTheLastSeq() throws {
        let (store, _) = try open()
        let reported = Mutex<[UInt64]>([])
        let done = DispatchSemaphore(value: 0)
        let writer = QuorumLogWriter(store: store) { result in
            guard case .success(let seq) = result else { return XCTFail("\(result)") }
            reported.withLock { $0.append(seq) }
            if seq == 200 { done.signal() }
        }
        try writer.start()
        for seq in UInt64(1)...200 {
            writer.enqueue(write(seq, epoch: 1, vote: 1, from: Int64(seq - 1), Self.entries(1, ["e\(seq)"])))
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        writer.stop()
        let seqs = reported.withLock { $0 }
        XCTAssertEqual(seqs, seqs.sorted(), "reported in order")
        XCTAssertEqual(writer.rounds.load(ordering: .relaxed), seqs.count)
        store.close()
        let (reopened, state) = try open()
        XCTAssertEqual(state.entries.count, 200)
        XCTAssertEqual(state.entries.last?.data, Array("e200".utf8))
        reopened.close()
    }

    /// Random files and randomly damaged ones: loading never traps, keeps a prefix of what was
    /// written, and leaves a file that appends and reloads consistently.
    func testRandomAndDamagedLogsLoadAPrefix() throws {
        let seed: UInt64 = 0x0051_0FE5
        var random = SeededGenerator(seed: seed)
        var (store, _) = try open()
        let written = (0..<12).map { RaftEntry(epoch: 1 + Int64($0 / 4), data: random.bytes(Int(random.next() % 40))) }
        try store.perform([write(1, epoch: 9, vote: nil, from: 0, written)])
        store.close()
        let valid = try [UInt8](Data(contentsOf: URL(fileURLWithPath: logPath)))
        for round in 0..<150 {
            var bytes: [UInt8]
            if round % 3 == 0 {
                bytes = random.bytes(Int(random.next() % 300))
            } else {
                bytes = Array(valid.prefix(Int(random.next() % UInt64(valid.count + 1))))
                for _ in 0..<(random.next() % 3) where !bytes.isEmpty {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: logPath))
            let header = QuorumLogStore.logHeaderSize
            if !bytes.isEmpty && (bytes.count < header || bytes[..<header] != valid[..<header]) {
                // A damaged header (where the log starts) cannot be repaired by cutting: a clear
                // error naming the file, never a trap and never a guess.
                let damaged = try QuorumLogStore(logDir: directory.path, logger: logger)
                XCTAssertThrowsError(try damaged.load(), "seed \(seed) round \(round)") {
                    XCTAssertTrue("\($0)".contains(logPath), "\($0)")
                }
                damaged.close()
                continue
            }
            let state: RaftPersistentState
            (store, state) = try open()
            XCTAssertEqual(state.entries, Array(written.prefix(state.entries.count)), "seed \(seed) round \(round)")
            let kept = state.entries.count
            try store.perform([write(1, epoch: 9, vote: nil, from: Int64(kept), Self.entries(9, ["tail"]))])
            store.close()
            let reloaded: RaftPersistentState
            (store, reloaded) = try open()
            XCTAssertEqual(reloaded.entries, Array(written.prefix(kept)) + Self.entries(9, ["tail"]))
            store.close()
        }
    }

    private func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
    }
}
