import Foundation
import TernTestSupport
import TernWire
import XCTest

/// Long polls against a real `ternd`: a connection closed while its fetch is parked is released
/// at once (not when the client-chosen `maxWaitMs` ends), and no fetch waits longer than
/// `fetch.max.wait.cap.ms`.
final class LongPollCloseTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-long-poll") }
    override func tearDown() { directory?.remove() }

    /// A fetch of an empty partition that asks to wait 24.8 days.
    private func longPoll(topic: String) -> [UInt8] {
        Frame.request(
            FetchRequest(
                maxWaitMs: Int32.max, minBytes: 1, maxBytes: 1 << 20,
                topics: [.init(name: topic, partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20)])]),
            correlationId: 1, clientId: "long-poll")
    }

    private func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    func testConnectionsClosedDuringLongPollsReleaseTheirDescriptors() throws {
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data", descriptorLimit: 256)
        defer { broker.stop() }
        do {
            let setup = try RawConnection(port: broker.port)
            let (status, _) = try setup.roundTrip(CreateTopicsRequest(topics: [.init(name: "quiet", numPartitions: 1)]))
            XCTAssertEqual(status.errorCode, .none)
        }
        let baseline = openDescriptors(broker.pid)
        XCTAssertGreaterThan(baseline, 0)
        let request = longPoll(topic: "quiet")
        // 400 connections one after another, each closed with its fetch parked: more than the
        // 256-descriptor limit, so a broker that holds them until maxWaitMs stops accepting.
        for index in 0..<400 {
            let connection = try RawConnection(port: broker.port, timeout: 0.2)
            try connection.write(request)
            if index % 50 == 0 {
                // Now and then prove that the fetch is parked, not answered, before closing.
                XCTAssertNil(connection.readFrame(), "the fetch of an empty partition was answered at once")
            }
        }
        // Descriptors come back (the last closes may still be in flight on the broker's queues).
        let deadline = Date().addingTimeInterval(15)
        var open = openDescriptors(broker.pid)
        while open > baseline + 8 && Date() < deadline {
            usleep(50_000)
            open = openDescriptors(broker.pid)
        }
        XCTAssertLessThanOrEqual(open, baseline + 8, "descriptors still open: \(open), baseline \(baseline)")
        let fresh = try RawConnection(port: broker.port, timeout: 10)
        XCTAssertEqual(try fresh.roundTrip(ApiVersionsRequest()).status.errorCode, .none)
        let adminPort = try XCTUnwrap(broker.adminPort)
        XCTAssertEqual(try httpGet(port: adminPort, "/health/ready").status, 200)
    }

    func testFetchWaitIsCappedByTheBrokerSetting() throws {
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data", settings: ["fetch.max.wait.cap.ms": "300"])
        defer { broker.stop() }
        let connection = try RawConnection(port: broker.port, timeout: 20)
        _ = try connection.roundTrip(CreateTopicsRequest(topics: [.init(name: "quiet", numPartitions: 1)]))
        let started = Date()
        try connection.write(longPoll(topic: "quiet"))
        let payload = try XCTUnwrap(connection.readFrame(), "no answer to a fetch whose wait is capped at 300 ms")
        let elapsed = Date().timeIntervalSince(started)
        var reader = ByteReader(payload)
        XCTAssertEqual(try Frame.readResponseHead(&reader).status.errorCode, .none)
        XCTAssertGreaterThanOrEqual(elapsed, 0.25, "the fetch did not wait")
        XCTAssertLessThan(elapsed, 10, "the fetch waited \(elapsed) s, far past the 300 ms cap")
    }
}
