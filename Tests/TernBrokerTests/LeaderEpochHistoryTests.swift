import TernBroker
import XCTest

final class LeaderEpochHistoryTests: XCTestCase {
    typealias E = LeaderEpochHistory.Entry

    func testEndOffsetForEpochs() {
        // Epoch 1 at 0, 2 at 4, 4 at 6; log end 9.
        let h = LeaderEpochHistory(entries: [
            E(epoch: 1, startOffset: 0), E(epoch: 2, startOffset: 4), E(epoch: 4, startOffset: 6),
        ])
        XCTAssertEqual(h.latestEpoch, 4)
        XCTAssertTrue(h.endOffset(for: 4, logEnd: 9) == (4, 9))
        XCTAssertTrue(h.endOffset(for: 2, logEnd: 9) == (2, 6))
        // An epoch this log never had: the largest below it, ending where the next starts.
        XCTAssertTrue(h.endOffset(for: 3, logEnd: 9) == (2, 6))
        XCTAssertTrue(h.endOffset(for: 1, logEnd: 9) == (1, 4))
        // Older than everything held: nothing is shared after the first epoch's start.
        XCTAssertTrue(h.endOffset(for: 0, logEnd: 9) == (-1, 0))
        XCTAssertTrue(h.endOffset(for: -1, logEnd: 9) == (-1, 0))
        // Newer than the latest: the latest and the log end.
        XCTAssertTrue(h.endOffset(for: 7, logEnd: 9) == (4, 9))
        XCTAssertTrue(LeaderEpochHistory().endOffset(for: 3, logEnd: 0) == (-1, 0))
    }

    func testAssignIgnoresOlderEpochsAndBackwardOffsets() {
        var h = LeaderEpochHistory()
        XCTAssertTrue(h.assign(epoch: 2, startOffset: 5))
        XCTAssertFalse(h.assign(epoch: 2, startOffset: 9))
        XCTAssertFalse(h.assign(epoch: 1, startOffset: 9))
        XCTAssertFalse(h.assign(epoch: 3, startOffset: 4))
        XCTAssertEqual(h.entries, [E(epoch: 2, startOffset: 5)])
        // A checkpoint out of order keeps only its ordered prefix's valid entries.
        let c = LeaderEpochHistory(entries: [
            E(epoch: 3, startOffset: 2), E(epoch: 1, startOffset: 5), E(epoch: 4, startOffset: 1),
        ])
        XCTAssertEqual(c.entries, [E(epoch: 3, startOffset: 2)])
    }

    func testTruncateDropsEpochsStartingAtOrAfter() {
        var h = LeaderEpochHistory(entries: [
            E(epoch: 1, startOffset: 0), E(epoch: 2, startOffset: 4), E(epoch: 4, startOffset: 6),
        ])
        h.truncate(fromOffset: 6)
        XCTAssertEqual(h.entries.map(\.epoch), [1, 2])
        h.truncate(fromOffset: 5)
        XCTAssertEqual(h.entries.map(\.epoch), [1, 2])
        XCTAssertEqual(h.epoch(at: 4), 2)
        XCTAssertEqual(h.epoch(at: 3), 1)
        h.truncate(fromOffset: 0)
        XCTAssertEqual(h.entries, [])
    }
}
