import Foundation
import TernTestSupport
import TernWire
import XCTest

/// The first group request creates `__consumer_offsets` (here 400 partitions: directories,
/// segments and their fsyncs) on the coordinator's I/O queue, not on a network queue: other
/// connections of the same network queue are answered meanwhile (issue 10, item 6).
final class OffsetsTopicCreationTests: BrokerTestCase {
    override class var brokerSettings: [String: String] {
        ["num.network.threads": "1", "offsets.topic.num.partitions": "400"]
    }

    func testCreatingTheOffsetsTopicDoesNotStallOtherConnections() throws {
        let finder = try RawConnection(port: broker.port, timeout: 180)
        let other = try RawConnection(port: broker.port, timeout: 180)
        let started = Date()
        try finder.write(Frame.request(FindCoordinatorRequest(key: "g"), correlationId: 7, clientId: "finder"))
        // Let the FindCoordinator reach the broker first, then time a request on the same queue.
        Thread.sleep(forTimeInterval: 0.05)
        let asked = Date()
        XCTAssertEqual(try other.roundTrip(ApiVersionsRequest()).status.errorCode, .none)
        let otherLatency = Date().timeIntervalSince(asked)

        let frame = try XCTUnwrap(finder.readFrame(), "no FindCoordinator response")
        let creation = Date().timeIntervalSince(started)
        var reader = ByteReader(frame)
        let head = try Frame.readResponseHead(&reader)
        XCTAssertEqual(head.correlationId, 7)
        let found = try FindCoordinatorResponse(from: &reader, version: FindCoordinatorRequest.apiVersion)
        XCTAssertEqual(found.errorCode, .none)
        XCTAssertGreaterThan(found.port, 0)
        // The creation takes seconds of fsyncs; the other connection's answer must not wait for it.
        XCTAssertLessThan(
            otherLatency, creation / 2,
            "ApiVersions took \(otherLatency) s while __consumer_offsets was created in \(creation) s")
    }
}
