@testable import TernNet
import XCTest

final class ResponseSequencerTests: XCTestCase {
    private func popAll(_ sequencer: inout ResponseSequencer) -> [[UInt8]] {
        var out: [[UInt8]] = []
        sequencer.popReady { chunk in
            if case .bytes(let bytes) = chunk { out.append(bytes) }
        }
        return out
    }

    func testReleasesOnlyTheCompletedPrefixInTicketOrder() {
        var sequencer = ResponseSequencer()
        let tickets = (0..<4).map { _ in sequencer.issue() }
        XCTAssertEqual(tickets, [0, 1, 2, 3])
        XCTAssertEqual(sequencer.uncompletedCount, 4)

        sequencer.complete(2, with: .one(.bytes([2])))
        sequencer.complete(1, with: .empty)
        XCTAssertEqual(popAll(&sequencer), [])
        sequencer.complete(0, with: .many([.bytes([0]), .bytes([0, 0])]))
        XCTAssertEqual(popAll(&sequencer), [[0], [0, 0], [2]])
        XCTAssertFalse(sequencer.isIdle)
        XCTAssertEqual(sequencer.uncompletedCount, 1)

        XCTAssertEqual(sequencer.issue(), 4)
        sequencer.complete(4, with: .one(.bytes([4])))
        sequencer.complete(3, with: .one(.bytes([3])))
        XCTAssertEqual(popAll(&sequencer), [[3], [4]])
        XCTAssertTrue(sequencer.isIdle)
        XCTAssertEqual(sequencer.uncompletedCount, 0)
    }
}
