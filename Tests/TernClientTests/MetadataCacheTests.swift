import TernWire
import XCTest

@testable import TernClient

/// The metadata cache under a burst of refreshes (a leader change seen by a producer, a consumer
/// and the admin at once): one Metadata request serves them all.
final class MetadataCacheTests: XCTestCase {
    func testConcurrentRefreshesShareOneRequest() async throws {
        let broker = FakeBroker()
        broker.createTopic("t", partitions: 2)
        let client = try await TernClient(configuration: broker.configuration())
        let before = broker.requestCount(.metadata)
        let metadata = client.metadata
        let snapshots = try await withThrowingTaskGroup(of: ClusterMetadata.self) { group in
            for _ in 0..<8 { group.addTask { try await metadata.refresh() } }
            var all: [ClusterMetadata] = []
            for try await snapshot in group { all.append(snapshot) }
            return all
        }
        XCTAssertEqual(snapshots.count, 8)
        XCTAssertTrue(snapshots.allSatisfy { $0.topics["t"]?.partitionCount == 2 })
        XCTAssertEqual(broker.requestCount(.metadata), before + 1, "one request for eight refreshes at once")
        try await metadata.refresh()
        XCTAssertEqual(broker.requestCount(.metadata), before + 2, "a later refresh asks again")
        await client.close()
    }
}
