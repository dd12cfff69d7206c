import TernTestSupport
import TernWire
import XCTest

/// The reassignment shape of the partition records (version 1) and of the wire messages that
/// drive it: old version-0 bytes still decode, version 1 is written only when needed, and bad
/// presence flags or contradictory fields are refused with a clear error.
final class PartitionReassignmentRecordTests: XCTestCase {
    let topicId = MetadataUUID(high: 1, low: 2)

    func testRecordsWithoutReassignmentKeepVersionZeroBytes() throws {
        // The exact bytes a build before reassignment wrote (type 7, version 0, then the fields).
        let change = MetadataRecord.partitionChange(
            .init(topicId: topicId, partition: 3, leader: 2, isr: [2], leaderEpoch: 1, partitionEpoch: 4))
        var expected: [UInt8] = [0, 7, 0, 0]
        expected += [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]  // topic id
        expected += [0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4]
        XCTAssertEqual(change.encoded(), expected)
        XCTAssertEqual(try MetadataRecord.decode(expected), change)
        let partition = MetadataRecord.partition(
            .init(topicId: topicId, partition: 0, replicas: [1], isr: [1], leader: 1))
        XCTAssertEqual(Array(partition.encoded()[2..<4]), [0, 0], "no reassignment: version 0")
    }

    func testReassignmentFieldsUseVersionOne() throws {
        let change = MetadataRecord.partitionChange(
            .init(
                topicId: topicId, partition: 3, leader: 2, isr: [2], leaderEpoch: 1, partitionEpoch: 4,
                replicas: [5, 2], addingReplicas: [5], removingReplicas: [2]))
        let bytes = change.encoded()
        XCTAssertEqual(Array(bytes[0..<4]), [0, 7, 0, 1])
        // After the version-0 fields: presence 1 + [5, 2], presence 1 + [5], presence 1 + [2].
        XCTAssertEqual(
            Array(bytes[44...]),
            [1, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 2, 1, 0, 0, 0, 1, 0, 0, 0, 5, 1, 0, 0, 0, 1, 0, 0, 0, 2])
        XCTAssertEqual(try MetadataRecord.decode(bytes), change)
    }

    func testABadPresenceFlagIsMalformed() {
        var bytes = MetadataRecord.partitionChange(
            .init(
                topicId: topicId, partition: 3, leader: 2, isr: [2], leaderEpoch: 1, partitionEpoch: 4,
                replicas: [2], addingReplicas: nil, removingReplicas: nil)
        ).encoded()
        bytes[44] = 2
        XCTAssertThrowsError(try MetadataRecord.decode(bytes)) {
            let error = $0 as? WireError
            XCTAssertEqual(error?.code, .malformed)
            XCTAssertTrue(error?.message.contains("presence flag 2") ?? false, "\($0)")
        }
    }

    func testAFutureVersionIsRefusedByNumber() {
        var bytes = MetadataRecord.partition(
            .init(topicId: topicId, partition: 0, replicas: [1], isr: [1], leader: 1)
        ).encoded()
        bytes[3] = 2
        XCTAssertThrowsError(try MetadataRecord.decode(bytes)) {
            let error = $0 as? WireError
            XCTAssertEqual(error?.code, .unsupportedVersion)
            XCTAssertTrue(error?.message.contains("version 2") ?? false, "\($0)")
        }
    }

    func testAVersionOnePartitionRecordCutAfterVersionZeroFieldsIsRefused() {
        let bytes = MetadataRecord.partition(
            .init(
                topicId: topicId, partition: 0, replicas: [1, 2], isr: [1], leader: 1, addingReplicas: [2])
        ).encoded()
        // Dropping the two arrays leaves a complete version-0 body under a version-1 header.
        XCTAssertThrowsError(try MetadataRecord.decode(Array(bytes.prefix(bytes.count - 12)))) {
            XCTAssertEqual(($0 as? WireError)?.code, .truncated, "\($0)")
        }
    }

    func testACancellationNamingReplicasIsMalformed() {
        var writer = ByteWriter()
        writer.write(Int32(1000))
        writer.write(UInt32(1))
        writer.writeString("orders")
        writer.write(UInt32(1))
        writer.write(Int32(0))
        writer.write(true)
        writer.writeInt32Array([1])
        var reader = ByteReader(writer.take())
        XCTAssertThrowsError(try AlterPartitionReassignmentsRequest(from: &reader)) {
            XCTAssertEqual(($0 as? WireError)?.code, .malformed)
        }
    }

    func testListingAllTopicsAndNamingSomeIsMalformed() {
        var writer = ByteWriter()
        writer.write(true)
        writer.write(UInt32(1))
        writer.writeString("orders")
        writer.writeInt32Array([0])
        var reader = ByteReader(writer.take())
        XCTAssertThrowsError(try ListPartitionReassignmentsRequest(from: &reader)) {
            XCTAssertEqual(($0 as? WireError)?.code, .malformed)
        }
    }
}
