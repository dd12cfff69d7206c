import Synchronization
import TernNet
import TernWire
import XCTest

@testable import TernClient

/// A transport that records what is sent and lets the test answer by hand.
final class ScriptedTransport: FrameTransport {
    let sent = Mutex<[[UInt8]]>([])
    let closed = Atomic<Bool>(false)
    let onFrame: @Sendable (UnsafeRawBufferPointer) -> Void
    let onClose: @Sendable ((any Error)?) -> Void

    init(onFrame: @escaping @Sendable (UnsafeRawBufferPointer) -> Void, onClose: @escaping @Sendable ((any Error)?) -> Void) {
        self.onFrame = onFrame
        self.onClose = onClose
    }

    func send(_ bytes: [UInt8]) { sent.withLock { $0.append(bytes) } }
    func send(_ chunks: [[UInt8]]) { sent.withLock { $0.append(chunks.flatMap { $0 }) } }
    func close() {
        if !closed.exchange(true, ordering: .relaxed) { onClose(nil) }
    }
    var isClosed: Bool { closed.load(ordering: .relaxed) }

    /// Answers with a response frame (without size prefix).
    func respond(_ frame: [UInt8]) { frame.withUnsafeBytes { onFrame(UnsafeRawBufferPointer(rebasing: $0[4...])) } }

    /// The correlation id of the `index`th frame sent.
    func correlationId(_ index: Int) throws -> UInt32 {
        var reader = ByteReader(sent.withLock { $0[index] }, range: 4..<sent.withLock { $0[index].count })
        return try RequestHeader(from: &reader).correlationId
    }
}

final class BrokerConnectionTests: XCTestCase {
    func makeConnection(requestTimeout: Duration = .seconds(5)) throws -> (BrokerConnection, ScriptedTransport) {
        let holder = Mutex<ScriptedTransport?>(nil)
        var configuration = ClientConfiguration(bootstrap: ["x:1"], requestTimeout: requestTimeout)
        configuration.transport = TransportFactory { _, _, _, onFrame, onClose in
            let transport = ScriptedTransport(onFrame: onFrame, onClose: onClose)
            holder.withLock { $0 = transport }
            return transport
        }
        let connection = try BrokerConnection.open(
            node: 1, address: BrokerAddress(host: "x", port: 1), configuration: configuration)
        return (connection, try XCTUnwrap(holder.withLock { $0 }))
    }

    func testResponsesAreMatchedByCorrelationId() async throws {
        let (connection, transport) = try makeConnection()
        let first = Task { try await connection.send(ApiVersionsRequest()) }
        let second = Task { try await connection.send(MetadataRequest(topics: nil)) }
        while transport.sent.withLock({ $0.count }) < 2 { await Task.yield() }
        let ids = try (0..<2).map { try transport.correlationId($0) }
        XCTAssertNotEqual(ids[0], ids[1])
        // Answer in reverse order of sending; each caller still gets its own response.
        let apiVersionsIndex = transport.sent.withLock { $0[0][5] } == UInt8(ApiKey.apiVersions.rawValue) ? 0 : 1
        let metadataId = ids[1 - apiVersionsIndex]
        let versionsId = ids[apiVersionsIndex]
        transport.respond(
            Frame.response(MetadataResponse(brokers: [], clusterId: "c", controllerId: 3, topics: []), correlationId: metadataId))
        transport.respond(Frame.response(ApiVersionsResponse(apis: [], brokerVersion: "v9"), correlationId: versionsId))
        let versions = try await first.value
        let metadata = try await second.value
        XCTAssertEqual(versions.brokerVersion, "v9")
        XCTAssertEqual(metadata.controllerId, 3)
        XCTAssertEqual(connection.pendingCount, 0)
    }

    func testTopLevelErrorStatusThrowsBrokerError() async throws {
        let (connection, transport) = try makeConnection()
        let task = Task { try await connection.send(MetadataRequest(topics: nil)) }
        while transport.sent.withLock({ $0.isEmpty }) { await Task.yield() }
        transport.respond(
            Frame.errorResponse(
                correlationId: try transport.correlationId(0), status: ResponseStatus(.unsupportedVersion, "v7 unknown")))
        let error = await assertThrowsTernError(.broker) { try await task.value }
        XCTAssertEqual(error?.brokerError, .unsupportedVersion)
        XCTAssertTrue(error?.message.contains("v7 unknown") ?? false)
    }

    func testCloseFailsEveryPendingRequest() async throws {
        let (connection, transport) = try makeConnection()
        let tasks = (0..<3).map { _ in Task { try await connection.send(MetadataRequest(topics: nil)) } }
        while transport.sent.withLock({ $0.count }) < 3 { await Task.yield() }
        transport.onClose(NetError(.connectionReset, "reset by peer"))
        for task in tasks {
            let error = await assertThrowsTernError(.connectionFailed) { try await task.value }
            XCTAssertTrue(error?.message.contains("x:1") ?? false, error?.message ?? "")
            XCTAssertTrue(error?.message.contains("reset by peer") ?? false, error?.message ?? "")
        }
        XCTAssertTrue(connection.isClosed)
        await assertThrowsTernError(.connectionFailed) { try await connection.send(MetadataRequest(topics: nil)) }
    }

    func testUnknownCorrelationIdClosesTheConnection() async throws {
        let (connection, transport) = try makeConnection()
        let task = Task { try await connection.send(MetadataRequest(topics: nil)) }
        while transport.sent.withLock({ $0.isEmpty }) { await Task.yield() }
        transport.respond(Frame.errorResponse(correlationId: 9999, status: .ok))
        await assertThrowsTernError(.protocolError) { try await task.value }
        XCTAssertTrue(transport.isClosed)
    }

    func testRequestTimeoutFailsAndCloses() async throws {
        let (connection, transport) = try makeConnection(requestTimeout: .milliseconds(50))
        let error = await assertThrowsTernError(.timedOut) { try await connection.send(MetadataRequest(topics: nil)) }
        XCTAssertTrue(error?.message.contains("Metadata") ?? false, error?.message ?? "")
        XCTAssertTrue(transport.isClosed)
    }

    func testPendingTableFailsInCorrelationOrder() {
        var table = PendingRequestTable()
        let order = Mutex<[Int]>([])
        for index in 0..<5 {
            _ = table.register(api: .fetch, deadline: .now + .seconds(1)) { _ in order.withLock { $0.append(index) } }
        }
        for entry in table.close(reason: TernError(.closed, "bye")) { entry.handler(.failure(TernError(.closed, "x"))) }
        XCTAssertEqual(order.withLock { $0 }, [0, 1, 2, 3, 4])
        guard case .failure = table.register(api: .fetch, deadline: .now, handler: { _ in }) else {
            return XCTFail("registering after close must fail")
        }
    }
}
