import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Leader epochs on a real single-node `ternd`: batches stamped with epoch 0, OffsetForLeaderEpoch
/// answers from the partition's history (also after a `kill -9` restart), Fetch v2 checks the
/// client's current leader epoch (KIP-320) and a follower's last fetched epoch (KIP-595).
final class LeaderEpochTests: XCTestCase {
    var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-epochs") }
    override func tearDown() { directory.remove() }

    private func createTopic(_ broker: BrokerProcess, _ name: String) async throws {
        let client = try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(10)))
        try await client.admin.createTopic(name: name, partitions: 1)
        await client.close()
    }

    private func produce(_ connection: RawConnection, _ topic: String, count: Int) throws {
        let produced = try connection.roundTrip(
            ProduceRequest(
                acks: -1, timeoutMs: 5000,
                topics: [.init(name: topic, partitions: [.init(partition: 0, records: makeBatch(count: count))])]))
        XCTAssertEqual(produced.response?.topics.first?.partitions.first?.errorCode, ErrorCode.none)
    }

    private func endOffset(_ connection: RawConnection, _ topic: String, epoch: Int32, current: Int32 = -1) throws
        -> OffsetForLeaderEpochResponse.Partition?
    {
        try connection.roundTrip(
            OffsetForLeaderEpochRequest(
                topics: [
                    .init(
                        name: topic, partitions: [.init(partition: 0, currentLeaderEpoch: current, leaderEpoch: epoch)])
                ])
        ).response?.topics.first?.partitions.first
    }

    private func fetch(
        _ connection: RawConnection, _ topic: String, offset: Int64, current: Int32 = -1, lastFetched: Int32 = -1
    ) throws -> FetchResponse.Partition? {
        try connection.roundTrip(
            FetchRequest(
                maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
                topics: [
                    .init(
                        name: topic,
                        partitions: [
                            .init(
                                partition: 0, fetchOffset: offset, maxBytes: 1 << 20, currentLeaderEpoch: current,
                                lastFetchedEpoch: lastFetched)
                        ])
                ])
        ).response?.topics.first?.partitions.first
    }

    func testOffsetForLeaderEpochAndFetchV2AgainstASingleNode() async throws {
        var broker = try BrokerProcess(dataDirectory: directory.path + "/data")
        defer { broker.stop() }
        try await createTopic(broker, "epochs")
        var connection = try RawConnection(port: broker.port)
        try produce(connection, "epochs", count: 3)
        try produce(connection, "epochs", count: 2)

        // Epoch 0 is the latest: it ends at the log end. Epoch 1 is unknown.
        var answer = try XCTUnwrap(endOffset(connection, "epochs", epoch: 0))
        XCTAssertEqual(answer.errorCode, ErrorCode.none)
        XCTAssertEqual(answer.leaderEpoch, 0)
        XCTAssertEqual(answer.endOffset, 5)
        XCTAssertEqual(try endOffset(connection, "epochs", epoch: 1)?.leaderEpoch, -1)
        // KIP-320 on OffsetForLeaderEpoch.
        XCTAssertEqual(try endOffset(connection, "epochs", epoch: 0, current: 1)?.errorCode, .unknownLeaderEpoch)
        XCTAssertEqual(try endOffset(connection, "epochs", epoch: 0, current: 0)?.errorCode, ErrorCode.none)
        XCTAssertEqual(
            try connection.roundTrip(
                OffsetForLeaderEpochRequest(topics: [
                    .init(name: "nope", partitions: [.init(partition: 0, leaderEpoch: 0)])
                ])
            ).response?.topics.first?.partitions.first?.errorCode, .unknownTopicOrPartition)

        // Fetch v2: the stored batches carry epoch 0; a matching current epoch reads, a newer one is refused.
        let read = try XCTUnwrap(fetch(connection, "epochs", offset: 0, current: 0))
        XCTAssertEqual(read.errorCode, ErrorCode.none)
        var headers: [Int32] = []
        var position = 0
        while let header = RecordBatchHeader(read.records, at: position),
            header.totalSize <= read.records.count - position
        {
            headers.append(header.partitionLeaderEpoch)
            position += header.totalSize
        }
        XCTAssertEqual(headers, [0, 0], "every stored batch carries the leader epoch")
        let future = try XCTUnwrap(fetch(connection, "epochs", offset: 0, current: 3))
        XCTAssertEqual(future.errorCode, .unknownLeaderEpoch)
        XCTAssertTrue(future.records.isEmpty)

        // A "follower" that holds offsets up to 7 in epoch 0, past this log's end (5): it diverges
        // at epoch 0, which ends at 5 here, and gets no records.
        let diverging = try XCTUnwrap(fetch(connection, "epochs", offset: 7, lastFetched: 0))
        XCTAssertEqual(diverging.divergingEpoch, 0)
        XCTAssertEqual(diverging.divergingEndOffset, 5)
        XCTAssertTrue(diverging.records.isEmpty)
        // One claiming an epoch above every epoch here is told this leader is behind; one that
        // agrees gets records and no diverging epoch.
        let unknown = try XCTUnwrap(fetch(connection, "epochs", offset: 5, lastFetched: 2))
        XCTAssertEqual(unknown.errorCode, .unknownLeaderEpoch)
        XCTAssertTrue(unknown.records.isEmpty)
        let agreeing = try XCTUnwrap(fetch(connection, "epochs", offset: 3, lastFetched: 0))
        XCTAssertEqual(agreeing.divergingEpoch, -1)
        XCTAssertFalse(agreeing.records.isEmpty)

        // kill -9 and restart: the history comes back from the checkpoint.
        broker.kill9()
        broker = try BrokerProcess(dataDirectory: directory.path + "/data", port: broker.port)
        connection = try RawConnection(port: broker.port)
        answer = try XCTUnwrap(endOffset(connection, "epochs", epoch: 0))
        XCTAssertEqual(try fetch(connection, "epochs", offset: 0)?.highWatermark, 5)
        XCTAssertEqual(answer.errorCode, ErrorCode.none)
        XCTAssertEqual(answer.leaderEpoch, 0)
        XCTAssertEqual(answer.endOffset, 5)
        // The restarted node leads again in the image's epoch (the controller bumps it when the
        // node's old registration is fenced): that epoch starts at the log end.
        let epoch = try XCTUnwrap(
            connection.roundTrip(MetadataRequest(topics: ["epochs"])).response?.topics.first?.partitions.first?
                .leaderEpoch)
        let expected = epoch == 0 ? "0\n1\n0 0\n" : "0\n2\n0 0\n\(epoch) 5\n"
        var checkpoint = ""
        let deadline = Date().addingTimeInterval(10)
        repeat {
            checkpoint =
                (try? String(contentsOfFile: directory.path + "/data/epochs-0/leader-epoch-checkpoint", encoding: .utf8))
                ?? ""
            if checkpoint == expected { break }
            usleep(50_000)
        } while Date() < deadline
        XCTAssertEqual(checkpoint, expected)
        XCTAssertEqual(try fetch(connection, "epochs", offset: 0, current: epoch)?.errorCode, ErrorCode.none)
    }
}
