import TernTestSupport
import TernWire
import XCTest

/// The cluster APIs' layouts (`docs/protocol.md` §7.18–7.20) pinned byte for byte, and their
/// hostile inputs beyond what every message gets (round trip, every truncation: WireSamples).
final class ClusterMessageTests: XCTestCase {
    func testHeartbeatAndRegistrationLayouts() throws {
        XCTAssertEqual(
            encodedBody(BrokerHeartbeatRequest(nodeId: 2, brokerEpoch: 41, metadataOffset: -1, wantShutDown: true)),
            [0, 0, 0, 2] + [0, 0, 0, 0, 0, 0, 0, 41] + [UInt8](repeating: 0xFF, count: 8) + [0, 1])
        XCTAssertEqual(
            encodedBody(BrokerHeartbeatResponse(isCaughtUp: true, isFenced: false, shouldShutDown: true)),
            [0, 0, 0xFF, 0xFF, 1, 0, 1])
        let registration = BrokerRegistrationRequest(
            nodeId: 1, clusterId: "c", incarnationId: MetadataUUID(high: 1, low: 2),
            listeners: [.init(name: "P", host: "h", port: 9092)], roles: [.broker, .controller])
        XCTAssertEqual(
            encodedBody(registration),
            [0, 0, 0, 1, 0, 1, 0x63] + [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]
                + [0, 0, 0, 1, 0, 1, 0x50, 0, 1, 0x68, 0x23, 0x84] + [3])
    }

    func testUnknownRoleBitsAreMalformed() throws {
        let registration = BrokerRegistrationRequest(
            nodeId: 1, clusterId: "", incarnationId: .zero, listeners: [], roles: [.broker])
        var bytes = encodedBody(registration)
        bytes[bytes.count - 1] = 4
        var reader = ByteReader(bytes)
        assertWireError(.malformed) { _ = try BrokerRegistrationRequest(from: &reader) }

        let response = DescribeClusterResponse(
            clusterId: nil, controllerId: 1,
            nodes: [.init(nodeId: 1, roles: [.controller], fenced: false, listeners: [])])
        var described = encodedBody(response)
        // errorCode 2, null message 2, null cluster id 2, controllerId 4, count 4, nodeId 4: roles at 18.
        XCTAssertEqual(described[18], 2)
        described[18] = 0x82
        var describedReader = ByteReader(described)
        assertWireError(.malformed) { _ = try DescribeClusterResponse(from: &describedReader) }
    }
}
