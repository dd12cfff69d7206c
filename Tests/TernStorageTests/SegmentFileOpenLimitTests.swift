import Foundation
import Synchronization
import TernTestSupport
import XCTest

@testable import TernStorage

/// Pins past the cache's budget: files held by reads and responses in flight stay open after
/// eviction, but reopening evicted files stops at ``SegmentFileCache/openLimit`` with
/// `descriptorsExhausted` (before, a fetch of 600 partitions under `ulimit -n 256` opened one
/// file per segment read until the process had no descriptor left, and libdispatch killed it).
final class SegmentFileOpenLimitTests: XCTestCase {
    private var directory: ScratchDirectory!

    override func setUpWithError() throws { directory = try ScratchDirectory("segment-open-limit") }
    override func tearDown() { directory = nil }

    private var openNow: Int { SegmentFile.openCount.load(ordering: .relaxed) }

    func testReopeningStopsAtTheOpenLimitWhilePinsHoldFilesAndResumesOnceTheyAreLetGo() throws {
        let cache = SegmentFileCache(budget: 4)
        XCTAssertEqual(cache.openLimit, 12, "the budget plus a quarter, at least 8")
        let handles = try (0..<40).map { i in
            let path = directory.path + "/\(i).log"
            try DiskSurgery.write(Array("segment-\(i)".utf8), to: path)
            return SegmentHandle(path: path, file: nil, cache: cache)
        }
        let before = openNow
        // A response in flight holds every file it read: the pins outlive their eviction.
        var pinned: [SegmentFile] = []
        var refused: StorageError?
        for handle in handles {
            do {
                pinned.append(try handle.open())
            } catch let error as StorageError {
                refused = error
                break
            }
        }
        XCTAssertEqual(refused?.code, .descriptorsExhausted, "\(String(describing: refused))")
        XCTAssertEqual(pinned.count, cache.openLimit - before, "opens stop exactly at the limit")
        XCTAssertEqual(openNow, cache.openLimit)
        XCTAssertLessThanOrEqual(cache.count, 4, "the cache itself keeps its budget")
        // A cached file is still served at the limit (no new descriptor).
        let cached = try XCTUnwrap(handles.first { $0.isCached })
        XCTAssertNoThrow(try cached.open())

        // The response is sent: its files close, and the rest open again.
        pinned.removeAll()
        XCTAssertLessThanOrEqual(openNow - before, 4)
        for handle in handles {
            XCTAssertNoThrow(try handle.open())
            XCTAssertLessThanOrEqual(openNow, cache.openLimit)
        }
    }
}
