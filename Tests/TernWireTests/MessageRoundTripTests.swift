import TernTestSupport
import TernWire
import XCTest

/// Every request and response survives encode → decode, and `Frame.request`/`Frame.response`/
/// `Frame.readResponseHead`; fixed encodings pin the layout `docs/protocol.md` specifies.
final class MessageRoundTripTests: XCTestCase {
    func testEveryMessageTypeHasASample() {
        let names = Set(WireSamples.all().map { $0.name.prefix { $0 != "(" } })
        let expected: Set<Substring> = [
            "ApiVersionsRequest", "ApiVersionsResponse", "MetadataRequest", "MetadataResponse", "CreateTopicsRequest",
            "CreateTopicsResponse", "DeleteTopicsRequest", "DeleteTopicsResponse", "DescribeConfigsRequest",
            "DescribeConfigsResponse", "ProduceRequest", "ProduceResponse", "FetchRequest", "FetchResponse",
            "ListOffsetsRequest", "ListOffsetsResponse", "AlterConfigsRequest", "AlterConfigsResponse",
            "FindCoordinatorRequest", "FindCoordinatorResponse", "ConsumerGroupHeartbeatRequest",
            "ConsumerGroupHeartbeatResponse", "OffsetCommitRequest", "OffsetCommitResponse", "OffsetFetchRequest",
            "OffsetFetchResponse", "ListGroupsRequest", "ListGroupsResponse", "DescribeGroupsRequest",
            "DescribeGroupsResponse", "DeleteGroupsRequest", "DeleteGroupsResponse", "ResetGroupOffsetsRequest",
            "ResetGroupOffsetsResponse",
            "DescribeLogDirsRequest", "DescribeLogDirsResponse",
            "BrokerRegistrationRequest", "BrokerRegistrationResponse", "BrokerHeartbeatRequest",
            "BrokerHeartbeatResponse", "EnvelopeRequest", "EnvelopeResponse", "DescribeClusterRequest", "DescribeClusterResponse", "DescribeQuorumRequest",
            "DescribeQuorumResponse", "DescribeLogDirsRequest", "DescribeLogDirsResponse", "FetchKeyRequest",
            "FetchKeyResponse",
            "SaslHandshakeRequest", "SaslHandshakeResponse", "SaslAuthenticateRequest", "SaslAuthenticateResponse",
            "DescribeUserScramCredentialsRequest", "DescribeUserScramCredentialsResponse",
            "AlterUserScramCredentialsRequest", "AlterUserScramCredentialsResponse",
            "CreateAclsRequest", "CreateAclsResponse", "DescribeAclsRequest", "DescribeAclsResponse",
            "DeleteAclsRequest", "DeleteAclsResponse", "OffsetForLeaderEpochRequest", "OffsetForLeaderEpochResponse",
            "InitProducerIdRequest", "InitProducerIdResponse", "AllocateProducerIdsRequest", "AllocateProducerIdsResponse",
            "AlterPartitionReassignmentsRequest", "AlterPartitionReassignmentsResponse",
            "ListPartitionReassignmentsRequest", "ListPartitionReassignmentsResponse",
            "AlterPartitionRequest", "AlterPartitionResponse",
            "ElectLeadersRequest", "ElectLeadersResponse",
            "DescribeReplicaLagRequest", "DescribeReplicaLagResponse",
        ]
        XCTAssertEqual(names, expected)
    }

    func testBodiesRoundTrip() throws {
        for sample in WireSamples.all() {
            var reader = ByteReader(sample.encoded)
            let (reencoded, equal) = try sample.decode(&reader)
            XCTAssertTrue(equal, "\(sample.name): decoded value differs")
            XCTAssertTrue(reader.isAtEnd, "\(sample.name): \(reader.remaining) bytes left unread")
            XCTAssertEqual(reencoded, sample.encoded, "\(sample.name): re-encoding differs")
        }
    }

    func testBodiesDecodeInsideALargerBuffer() throws {
        // Decoders must honour the reader's range, not the array's bounds.
        for sample in WireSamples.all() {
            let padded = [0xAA, 0xBB] + sample.encoded + [0xCC, 0xDD, 0xEE]
            var reader = ByteReader(padded, range: 2..<(2 + sample.encoded.count))
            XCTAssertTrue(try sample.decode(&reader).equal, sample.name)
            XCTAssertTrue(reader.isAtEnd, sample.name)
        }
    }

    func testFramesRoundTrip() throws {
        for (i, sample) in WireSamples.all().enumerated() {
            XCTAssertTrue(try sample.frameRoundTrip(UInt32(i) * 7919, "client-ü"), sample.name)
            XCTAssertTrue(try sample.frameRoundTrip(UInt32.max, ""), sample.name)
        }
    }

    func testFetchResponseIncrementalWritersMatchEncode() throws {
        let records = makeBatch(count: 2)
        let response = FetchResponse(topics: [
            .init(
                name: "t",
                partitions: [
                    .init(partition: 0, highWatermark: 2, logStartOffset: 0, records: records),
                    .init(partition: 1, errorCode: .offsetOutOfRange, errorMessage: "x"),
                ])
        ])
        var writer = ByteWriter()
        writer.write(UInt32(1))
        FetchResponse.writeTopicHeader(&writer, name: "t", partitionCount: 2)
        for p in response.topics[0].partitions {
            FetchResponse.writePartitionHeader(&writer, p, recordsLength: p.records.count)
            writer.write(contentsOf: p.records)
        }
        XCTAssertEqual(writer.bytes, encodedBody(response))
    }

    func testMetadataRequestDistinguishesAllTopicsFromNone() throws {
        for request in [MetadataRequest(topics: nil), MetadataRequest(topics: [])] {
            var reader = ByteReader(encodedBody(request))
            XCTAssertEqual(try MetadataRequest(from: &reader), request)
        }
    }

    func testProduceRecordsCrossTheWireUnchanged() throws {
        let batch = makeBatch(count: 4)
        let frame = Frame.request(
            ProduceRequest(
                acks: 1, timeoutMs: 1000,
                topics: [.init(name: "t", partitions: [.init(partition: 0, records: batch)])]),
            correlationId: 1, clientId: "p")
        let (_, request) = try parseRequestFrame(frame, as: ProduceRequest.self)
        let records = try XCTUnwrap(request.topics.first?.partitions.first?.records)
        XCTAssertEqual(records, batch)
        XCTAssertEqual(try records.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }.count, 1)
    }
}
