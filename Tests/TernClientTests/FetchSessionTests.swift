import TernWire
import XCTest

@testable import TernClient

/// The consumer's half of a fetch session: what each request names.
final class ClientFetchSessionTests: XCTestCase {
    private func partitions(_ offsets: [Int32: Int64]) -> [(TopicPartition, FetchRequest.Partition)] {
        offsets.keys.sorted().map {
            (TopicPartition(topic: "t", partition: $0), FetchRequest.Partition(partition: $0, fetchOffset: offsets[$0] ?? 0, maxBytes: 100))
        }
    }

    private func named(_ request: FetchRequest) -> [Int32: Int64] {
        var out: [Int32: Int64] = [:]
        for topic in request.topics { for p in topic.partitions { out[p.partition] = p.fetchOffset } }
        return out
    }

    func testFullThenOnlyChangedPartitionsThenForgottenOnes() {
        var session = FetchSession()
        let first = session.request(for: partitions([0: 0, 1: 0, 2: 0]), maxWaitMs: 1, minBytes: 1, maxBytes: 1000)
        XCTAssertEqual(first.sessionEpoch, FetchRequest.initialEpoch)
        XCTAssertEqual(named(first), [0: 0, 1: 0, 2: 0])
        session.succeeded(first, sessionId: 42)

        let second = session.request(for: partitions([0: 0, 1: 7, 2: 0]), maxWaitMs: 1, minBytes: 1, maxBytes: 1000)
        XCTAssertEqual(second.sessionId, 42)
        XCTAssertEqual(second.sessionEpoch, 1)
        XCTAssertEqual(named(second), [1: 7], "only the partition whose offset moved")
        XCTAssertTrue(second.forgottenTopics.isEmpty)
        session.succeeded(second, sessionId: 42)

        let third = session.request(for: partitions([1: 7, 3: 0]), maxWaitMs: 1, minBytes: 1, maxBytes: 1000)
        XCTAssertEqual(third.sessionEpoch, 2)
        XCTAssertEqual(named(third), [3: 0], "a new partition is added")
        XCTAssertEqual(third.forgottenTopics.flatMap(\.partitions), [0, 2], "dropped partitions are forgotten")
        session.succeeded(third, sessionId: 42)
        XCTAssertEqual(Set(session.sent.keys.map(\.partition)), [1, 3])

        session.failed()
        let afterFailure = session.request(for: partitions([1: 7, 3: 0]), maxWaitMs: 1, minBytes: 1, maxBytes: 1000)
        XCTAssertEqual(afterFailure.sessionEpoch, FetchRequest.initialEpoch, "after a failure the next request is full")
        XCTAssertEqual(afterFailure.sessionId, 42, "and replaces the old session")
        XCTAssertEqual(named(afterFailure), [1: 7, 3: 0])
    }

    func testABrokerWithoutSessionsGetsFullRequestsEveryTime() {
        var session = FetchSession()
        let first = session.request(for: partitions([0: 0, 1: 0]), maxWaitMs: 1, minBytes: 1, maxBytes: 1000)
        session.succeeded(first, sessionId: 0)
        let second = session.request(for: partitions([0: 5, 1: 0]), maxWaitMs: 1, minBytes: 1, maxBytes: 1000)
        XCTAssertEqual(second.sessionId, 0)
        XCTAssertEqual(second.sessionEpoch, FetchRequest.initialEpoch)
        XCTAssertEqual(named(second), [0: 5, 1: 0])
    }
}
