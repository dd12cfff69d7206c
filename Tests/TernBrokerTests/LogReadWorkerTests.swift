import Dispatch
import Logging
import TernNet
import TernStorage
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// ListOffsets by timestamp and DescribeLogDirs run on the broker's log-read worker, not on the
/// connection's network queue: while the worker is busy (a slow disk read, held here by a job
/// that waits on a semaphore) other connections — and ListOffsets for the earliest or latest
/// offset, which need no disk — are served; the waiting connection's answers still come in
/// request order, and are right once the worker runs.
final class LogReadWorkerTests: XCTestCase {
    var directory: TemporaryDirectory!
    var broker: Broker!
    var port = 0

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-log-reads")
        // One network loop: every connection shares the queue a disk read would have blocked.
        let config = try BrokerConfig.load(
            file: nil,
            overrides: [
                "log.dirs=\(directory.path)/data", "listeners=PLAINTEXT://127.0.0.1:0", "num.network.threads=1",
            ])
        broker = try Broker(config: config, logger: Logger(label: "test"))
        try broker.start()
        _ = try broker.createTopic(name: "t", partitions: 1, configs: [:])
        port = try XCTUnwrap(broker.boundPorts.first)
    }

    override func tearDownWithError() throws {
        try broker?.shutdown()
        directory?.remove()
    }

    private func decode<R: WireRequest>(_ frame: [UInt8]?, as _: R.Type, correlationId: UInt32) throws -> R.Response {
        var reader = ByteReader(try XCTUnwrap(frame, "no answer"))
        let head = try Frame.readResponseHead(&reader)
        XCTAssertEqual(head.correlationId, correlationId)
        XCTAssertEqual(head.status.errorCode, ErrorCode.none)
        return try R.Response(from: &reader, version: 0)
    }

    private func offsets(_ timestamp: Int64) -> ListOffsetsRequest {
        ListOffsetsRequest(topics: [.init(name: "t", partitions: [.init(partition: 0, timestamp: timestamp)])])
    }

    func testReadsOnTheWorkerDoNotHoldUpOtherConnectionsAndKeepRequestOrder() throws {
        // Three batches of 10 records, stamped base + 1000 b + i.
        let producer = try RawConnection(port: port)
        let base = defaultTestTimestamp
        for b in 0..<3 {
            let answer = try producer.roundTrip(
                ProduceRequest(
                    acks: 1, timeoutMs: 5000,
                    topics: [
                        .init(
                            name: "t",
                            partitions: [
                                .init(
                                    partition: 0, records: makeBatch(count: 10, baseTimestamp: base + 1000 * Int64(b)))
                            ])
                    ]), correlationId: UInt32(b + 1))
            XCTAssertEqual(answer.response?.topics.first?.partitions.first?.errorCode, ErrorCode.none)
        }

        // The worker is busy.
        let gate = DispatchSemaphore(value: 0)
        broker.logReadQueue.async { gate.wait() }
        defer { gate.signal() }
        // Connection a: by timestamp, then DescribeLogDirs, then the latest offset, pipelined.
        let a = try RawConnection(port: port)
        try a.write(Frame.request(offsets(base + 1005), correlationId: 1, clientId: "a"))
        try a.write(Frame.request(DescribeLogDirsRequest(topics: ["t"]), correlationId: 2, clientId: "a"))
        try a.write(Frame.request(offsets(ListOffsetsRequest.latest), correlationId: 3, clientId: "a"))
        // Connection b, on the same network queue, is served meanwhile, the latest offset too.
        let b = try RawConnection(port: port)
        let latest = try b.roundTrip(offsets(ListOffsetsRequest.latest))
        XCTAssertEqual(latest.response?.topics.first?.partitions.first?.offset, 30)
        XCTAssertEqual(try b.roundTrip(MetadataRequest(topics: ["t"]), correlationId: 2).status.errorCode, .none)
        // a's answers wait for the worker: the first is its, and the later ones come after it.
        usleep(200_000)
        XCTAssertFalse(a.isReadable(), "ListOffsets by timestamp was answered while the log-read worker was busy")

        gate.signal()
        let byTime = try decode(a.readFrame(), as: ListOffsetsRequest.self, correlationId: 1)
        XCTAssertEqual(byTime.topics.first?.partitions.first?.offset, 15)
        XCTAssertEqual(byTime.topics.first?.partitions.first?.timestamp, base + 1005)
        let dirs = try decode(a.readFrame(), as: DescribeLogDirsRequest.self, correlationId: 2)
        let partition = try XCTUnwrap(dirs.logDirs.first?.topics.first?.partitions.first)
        XCTAssertEqual(partition.logEndOffset, 30)
        XCTAssertGreaterThan(partition.sizeBytes, 0)
        let last = try decode(a.readFrame(), as: ListOffsetsRequest.self, correlationId: 3)
        XCTAssertEqual(last.topics.first?.partitions.first?.offset, 30)
        // Past the newest record: no offset (-1), as before.
        let past = try a.roundTrip(offsets(base + 99_999), correlationId: 4)
        XCTAssertEqual(past.response?.topics.first?.partitions.first?.offset, -1)
    }
}
