import Dispatch
import Foundation
import Synchronization
import TernTestSupport
import TernWire
import XCTest

@testable import TernStorage

/// The process-wide bound on open segment files: eviction past the budget, pinning by reference
/// (an evicted file in use stays open and is reused), reopening after eviction, retirement, and
/// many threads opening and reading through a tiny budget.
final class SegmentFileCacheTests: XCTestCase {
    private var directory: ScratchDirectory!

    override func setUpWithError() throws { directory = try ScratchDirectory("segment-file-cache") }
    override func tearDown() { directory = nil }

    /// `count` files, file i holding "file-i" padded to 64 bytes, with a handle each.
    private func handles(_ count: Int, cache: SegmentFileCache) throws -> [SegmentHandle] {
        try (0..<count).map { i in
            let path = directory.path + "/\(i).log"
            try DiskSurgery.write(Self.contents(i), to: path)
            return SegmentHandle(path: path, file: nil, cache: cache)
        }
    }

    private static func contents(_ i: Int) -> [UInt8] {
        let text = Array("file-\(i)".utf8)
        return text + [UInt8](repeating: 0, count: 64 - text.count)
    }

    private func read(_ file: SegmentFile) throws -> [UInt8] {
        try FileSystem.pread(file.fd, count: 64, at: 0, path: file.path)
    }

    private var openNow: Int { SegmentFile.openCount.load(ordering: .relaxed) }
    private var openedTotal: Int { SegmentFile.openedTotal.load(ordering: .relaxed) }

    func testTheCacheKeepsAtMostItsBudgetOpenAndEvictsTheLeastRecentlyUsed() throws {
        let cache = SegmentFileCache(budget: 4)
        let before = openNow
        let handles = try handles(10, cache: cache)
        for (i, handle) in handles.enumerated() {
            XCTAssertEqual(try read(try handle.open()), Self.contents(i))
            XCTAssertLessThanOrEqual(cache.count, 4)
            XCTAssertLessThanOrEqual(openNow - before, 4, "nothing holds an evicted file, so it is closed")
        }
        XCTAssertEqual(cache.count, 4)
        XCTAssertEqual(handles.filter(\.isCached).count, 4)
        // The most recently opened stay; using one keeps it through the next evictions.
        XCTAssertTrue(handles[9].isCached)
        _ = try handles[9].open()
        _ = try handles[0].open()
        _ = try handles[1].open()
        XCTAssertTrue(handles[9].isCached, "a recently used file gets a second chance")
        XCTAssertTrue(handles[0].isCached && handles[1].isCached)

        // A smaller budget evicts at once.
        cache.budget = 2
        XCTAssertEqual(cache.count, 2)
        XCTAssertLessThanOrEqual(openNow - before, 2)
    }

    func testAFileInUseSurvivesItsEvictionAndIsReusedNotReopened() throws {
        let cache = SegmentFileCache(budget: 2)
        let handles = try handles(6, cache: cache)
        let before = openNow
        let pinned = try handles[0].open()  // a read, a flush or a sendfile in progress
        for handle in handles.dropFirst() { _ = try handle.open() }
        XCTAssertFalse(handles[0].isCached, "evicted")
        // The descriptor is still open and still names file 0, whatever was opened since.
        XCTAssertEqual(try read(pinned), Self.contents(0))
        XCTAssertNotEqual(fcntl(pinned.descriptor, F_GETFD), -1)
        XCTAssertEqual(openNow - before, 3, "two cached, plus the pinned one")

        // Opening it again while it is still in use takes the same descriptor back.
        let opensBefore = openedTotal
        let again = try handles[0].open()
        XCTAssertTrue(again === pinned)
        XCTAssertEqual(openedTotal, opensBefore, "no second open of a file in use")
        XCTAssertTrue(handles[0].isCached)
    }

    func testAnEvictedFileIsClosedWhenItsLastUserLetsGoAndReopenedOnDemand() throws {
        let cache = SegmentFileCache(budget: 1)
        let handles = try handles(2, cache: cache)
        let before = openNow
        var descriptor: Int32 = -1
        do {
            let file = try handles[0].open()
            descriptor = file.descriptor
            _ = try handles[1].open()  // evicts handle 0 while `file` is in use
            XCTAssertEqual(openNow - before, 2)
        }
        XCTAssertEqual(openNow - before, 1, "the evicted file closed when its read ended")
        XCTAssertGreaterThanOrEqual(descriptor, 0)

        let opensBefore = openedTotal
        let reopened = try handles[0].open()
        XCTAssertEqual(openedTotal, opensBefore + 1, "an evicted file nobody holds is opened again")
        XCTAssertEqual(try read(reopened), Self.contents(0))
        XCTAssertFalse(handles[1].isCached)
    }

    func testARetiredHandleClosesItsFileAndNeverOpensThePathAgain() throws {
        let cache = SegmentFileCache(budget: 8)
        let handles = try handles(1, cache: cache)
        let before = openNow
        do {
            let inUse = try handles[0].open()
            handles[0].retire()
            XCTAssertEqual(cache.count, 0)
            XCTAssertEqual(try read(inUse), Self.contents(0), "a read in progress keeps its file")
            XCTAssertEqual(openNow, before + 1)
        }
        XCTAssertEqual(openNow, before, "closed once unused")
        XCTAssertThrowsError(try handles[0].open()) { error in
            XCTAssertEqual((error as? StorageError)?.code, .notFound)
        }
    }

    func testADeallocatedHandleReleasesItsPlaceInTheCache() throws {
        let cache = SegmentFileCache(budget: 8)
        var handles = try handles(3, cache: cache)
        for handle in handles { _ = try handle.open() }
        XCTAssertEqual(cache.count, 3)
        handles.removeLast()
        XCTAssertEqual(cache.count, 2)
    }

    func testManyThreadsReadingThroughATinyBudgetAlwaysReadTheirOwnFile() throws {
        let cache = SegmentFileCache(budget: 3)
        let handles = try handles(24, cache: cache)
        let before = openNow
        let failures = Mutex<[String]>([])
        let threads = 8
        let group = DispatchGroup()
        for thread in 0..<threads {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                var generator = SeededGenerator(seed: UInt64(thread + 1))
                for _ in 0..<3000 {
                    let i = Int.random(in: 0..<handles.count, using: &generator)
                    do {
                        let file = try handles[i].open()
                        let bytes = try FileSystem.pread(file.fd, count: 64, at: 0, path: file.path)
                        if bytes != Self.contents(i) {
                            failures.withLock { $0.append("handle \(i) read another file") }
                        }
                    } catch {
                        failures.withLock { $0.append("handle \(i): \(error)") }
                    }
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success, "threads finished")
        XCTAssertEqual(failures.withLock { $0 }.prefix(5), [])
        XCTAssertLessThanOrEqual(cache.count, 3)
        XCTAssertLessThanOrEqual(openNow - before, 3, "with no read in flight only the cached files are open")
        XCTAssertEqual(handles.filter(\.isCached).count, cache.count)
    }
}

/// Logs under a budget far below their segment count: reads and appends reopen evicted files,
/// and a read result (what a fetch's `sendfile` holds) stays readable after its file is evicted.
final class SegmentFileBudgetTests: XCTestCase {
    func testALogWithManySegmentsWorksThroughABudgetOfTwoFiles() throws {
        let budget = LogManager.maxOpenSegmentFiles
        LogManager.limitOpenSegmentFiles(to: 2)
        defer { LogManager.limitOpenSegmentFiles(to: budget) }
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentBytes: 1024, indexIntervalBytes: 256))
        var records: [KeyedRecord] = []
        for i in 0..<400 { records.append(KeyedRecord(key: "key-\(i)", value: "value-\(i)")) }
        try appendKeyed(log, records)
        XCTAssertGreaterThan(log.segmentCount, 10)
        XCTAssertLessThanOrEqual(LogManager.openSegmentFiles, 2 + 1)

        // A read of the first segment, held (as a sendfile would) while every other is read.
        let held = try log.read(from: 0, maxBytes: 200, maxOffset: .max)
        let heldBytes = try held.readBytes()
        for offset in stride(from: Int64(0), to: log.logEndOffset, by: 10) {
            let records = try recordsOf(log.read(from: offset, maxBytes: 300, maxOffset: .max))
            XCTAssertEqual(records.first.flatMap { string($0.key) }, "key-\(offset)")
        }
        XCTAssertEqual(try held.readBytes(), heldBytes, "an evicted file in use still reads its own bytes")
        XCTAssertLessThanOrEqual(LogManager.openSegmentFiles, 2 + held.slices.count)
        XCTAssertEqual(try allRecords(log).count, 400)
        // A timestamp search opens the segments it walks one at a time.
        for i in stride(from: 0, to: 400, by: 37) {
            let found = try XCTUnwrap(log.offsetForTimestamp(defaultTestTimestamp + Int64(i)))
            XCTAssertEqual(found.offset, Int64(i))
        }
        XCTAssertLessThanOrEqual(LogManager.openSegmentFiles, 2 + held.slices.count)

        // The log survives a restart that reopens every segment through the same budget.
        try fixture.manager.shutdown()
        let reopened = try XCTUnwrap(fixture.reopen(config: log.config).log(for: fixture.topicPartition))
        XCTAssertEqual(try allRecords(reopened).map { string($0.value) }, records.map(\.value))
        try fixture.manager.shutdown()
    }
}
