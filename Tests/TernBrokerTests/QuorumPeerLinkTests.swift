import Dispatch
import Foundation
import Logging
import Synchronization
import TernNet
import TernRaft
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// The outbound link to a voter, against a real TernNet server: what it holds for a peer that
/// never acknowledges is bounded (in frames and bytes), and an acknowledging peer gets everything.
final class QuorumPeerLinkTests: XCTestCase {
    /// A controller listener stand-in that counts frames and acknowledges them or not.
    final class Peer: ServerConnectionHandler {
        let received = Atomic<Int>(0)
        let connections = Mutex<Set<UInt64>>([])
        let acknowledge: Bool
        init(acknowledge: Bool) { self.acknowledge = acknowledge }

        func connection(
            _ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket
        ) {
            var reader = ByteReader(Array(frame))
            let header = try? RequestHeader(from: &reader)
            received.add(1, ordering: .relaxed)
            connections.withLock { _ = $0.insert(connection.id) }
            if acknowledge, let header {
                connection.respond(ticket, Frame.errorResponse(correlationId: header.correlationId, status: .ok))
            } else {
                connection.noResponse(ticket)
            }
        }
        func connectionDidClose(_ connection: ServerConnection) {}
    }

    let logger = Logger(label: "test.quorum.link")

    func makeLink(
        port: Int, maxMessages: Int, maxBytes: Int = 64 << 20, requestTimeoutMs: Int = 600_000
    ) -> QuorumPeerLink {
        var configuration = QuorumConfiguration(
            nodeId: 1, peers: [2: QuorumAddress(host: "127.0.0.1", port: port)],
            listenAddress: QuorumAddress(host: "127.0.0.1", port: 0), clusterId: "c", logDir: "/nonexistent")
        configuration.maxQueuedMessagesPerPeer = maxMessages
        configuration.maxQueuedBytesPerPeer = maxBytes
        configuration.requestTimeoutMs = requestTimeoutMs
        return QuorumPeerLink(
            id: 2, address: QuorumAddress(host: "127.0.0.1", port: port), configuration: configuration, logger: logger,
            warnings: LogRateLimiter(burst: 10, perSecond: 1))
    }

    func startServer(_ peer: Peer) throws -> Server {
        let server = Server(
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1), handler: peer,
            logger: logger)
        try server.start()
        return server
    }

    func waitUntil(_ what: String, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(30)
        while !condition() {
            guard Date() < deadline else { return XCTFail("timed out waiting for \(what)") }
            usleep(5_000)
        }
    }

    static let message = RaftEnvelope(clusterId: "c", from: 1, message: .beginQuorumEpoch(epoch: 4))

    func testAPeerThatNeverAcknowledgesHoldsAtMostTheBound() throws {
        let peer = Peer(acknowledge: false)
        let server = try startServer(peer)
        defer { server.shutdown(timeout: .seconds(2)) }
        let link = makeLink(port: server.boundPort, maxMessages: 16)
        defer { link.close() }
        for _ in 0..<100 { link.send(Self.message) }
        waitUntil("the 16 frames held to arrive") { peer.received.load(ordering: .relaxed) >= 16 }
        XCTAssertEqual(link.droppedCount, 84)
        for _ in 0..<10 { link.send(Self.message) }
        XCTAssertEqual(link.droppedCount, 94, "nothing acknowledged: every new frame is dropped")
        XCTAssertEqual(peer.received.load(ordering: .relaxed), 16)
    }

    func testTheByteBoundHoldsToo() throws {
        let peer = Peer(acknowledge: false)
        let server = try startServer(peer)
        defer { server.shutdown(timeout: .seconds(2)) }
        let frameSize = Self.message.encodeFrame(correlationId: 1, clientId: "tern-raft-1").count
        let link = makeLink(port: server.boundPort, maxMessages: 1000, maxBytes: frameSize * 5)
        defer { link.close() }
        for _ in 0..<50 { link.send(Self.message) }
        waitUntil("the 5 frames that fit to arrive") { peer.received.load(ordering: .relaxed) >= 5 }
        XCTAssertEqual(link.droppedCount, 45)
    }

    func testAnAcknowledgingPeerGetsEverything() throws {
        let peer = Peer(acknowledge: true)
        let server = try startServer(peer)
        defer { server.shutdown(timeout: .seconds(2)) }
        let link = makeLink(port: server.boundPort, maxMessages: 4)
        defer { link.close() }
        for i in 1...200 {
            link.send(Self.message)
            waitUntil("frame \(i)") { peer.received.load(ordering: .relaxed) >= i }
        }
        XCTAssertEqual(link.droppedCount, 0)
    }

    /// A peer that is down: the link keeps retrying with back-off and delivers what it queued
    /// once the peer is up.
    func testQueuedFramesLeaveOnceThePeerComesUp() throws {
        let port = freeLoopbackPort()
        let link = makeLink(port: port, maxMessages: 8)
        defer { link.close() }
        for _ in 0..<3 { link.send(Self.message) }
        waitUntil("a failed connect") { link.failedConnectCount >= 2 }
        let peer = Peer(acknowledge: true)
        let server = Server(
            configuration: ServerConfiguration(host: "127.0.0.1", port: port, eventLoopCount: 1), handler: peer,
            logger: logger)
        try server.start()
        defer { server.shutdown(timeout: .seconds(2)) }
        waitUntil("the queued frames to arrive after a reconnect") { peer.received.load(ordering: .relaxed) >= 3 }
        XCTAssertEqual(link.droppedCount, 0)
    }

    /// A peer that takes frames but acknowledges nothing (a paused process, or a host that died
    /// without closing): after the request timeout the link drops the connection and makes a
    /// new one, rather than waiting out TCP's retransmissions.
    func testAConnectionWithoutAcknowledgementsIsReplaced() throws {
        let peer = Peer(acknowledge: false)
        let server = try startServer(peer)
        defer { server.shutdown(timeout: .seconds(2)) }
        let link = makeLink(port: server.boundPort, maxMessages: 16, requestTimeoutMs: 200)
        defer { link.close() }
        waitUntil("frames on a second connection") {
            link.send(Self.message)
            return peer.connections.withLock { $0.count } >= 2
        }
    }
}
