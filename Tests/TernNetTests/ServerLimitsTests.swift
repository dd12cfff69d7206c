import Dispatch
import Foundation
import Logging
@testable import TernNet
import XCTest

/// Oversized and garbage frames, backpressure and the idle timeout.
final class ServerLimitsTests: XCTestCase {
    func testOversizedFrameClosesThatConnectionOnlyAndIsLogged() throws {
        let handler = EchoHandler()
        let (logger, logs) = RecordingLogHandler.logger()
        let server = try startServer(handler: handler, logger: logger) { $0.maxFrameBytes = 1024 }
        defer { server.shutdown(timeout: .seconds(5)) }
        let healthy = try TestClient(port: server.boundPort)
        defer { healthy.connection.close() }
        let offender = try TestSocket(port: server.boundPort)

        try offender.write([0, 0, 0x08, 0x01] + [UInt8](repeating: 1, count: 100))  // 2049 > 1024
        XCTAssertTrue(offender.waitForClose(), "oversized frame did not close the connection")

        healthy.connection.send(framed([9, 9, 9]))
        XCTAssertEqual(healthy.waitForFrames(1), [[9, 9, 9]])
        XCTAssertEqual(handler.received.value, 1)

        XCTAssertTrue(waitUntil { handler.closes.total == 1 })
        let warning = try XCTUnwrap(logs.all.first { $0.level == .warning && $0.metadata["tern_frame_bytes"] != nil })
        XCTAssertEqual(warning.metadata["tern_frame_bytes"], "2049")
        XCTAssertNotNil(warning.metadata["tern_peer"])
        XCTAssertTrue("\(warning.metadata["tern_peer"] ?? "")".hasPrefix("127.0.0.1:"))
        XCTAssertNotNil(warning.metadata["tern_connection_id"])
    }

    func testGarbageSizePrefixClosesConnectionAndServerKeepsServing() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let garbage = try TestSocket(port: server.boundPort)

        try garbage.write([0xFF, 0xFF, 0xFF, 0xFF, 0xDE, 0xAD, 0xBE, 0xEF])
        XCTAssertTrue(garbage.waitForClose())

        let client = try TestClient(port: server.boundPort)
        defer { client.connection.close() }
        client.connection.send(framed([1]))
        XCTAssertEqual(client.waitForFrames(1), [[1]])
    }

    func testPendingResponseBytesSuspendReadingUntilTheClientReads() throws {
        /// Answers each request with `responseBytes` bytes and remembers its connection.
        final class BigResponder: ServerConnectionHandler {
            static let responseBytes = 1024 * 1024
            let received = Locked(0)
            let connection = Locked<ServerConnection?>(nil)
            func connection(_ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket) {
                received.withLock { $0 += 1 }
                self.connection.withLock { $0 = connection }
                connection.respond(ticket, framed(filledPayload(index(of: frame), count: Self.responseBytes)))
            }
            func connectionDidClose(_ connection: ServerConnection) {}
        }
        let handler = BigResponder()
        let server = try startServer(handler: handler) { $0.maxPendingResponseBytes = 64 * 1024 }
        defer { server.shutdown(timeout: .seconds(5)) }
        let socket = try TestSocket(port: server.boundPort, receiveBufferBytes: 64 * 1024)

        // 64 requests, 64 MiB of responses: far more than socket buffers hold while we don't read.
        let count = 64
        try socket.write((0..<count).flatMap { framed(indexedPayload($0)) })
        XCTAssertTrue(waitUntil { handler.connection.value != nil })
        let connection = try XCTUnwrap(handler.connection.value)
        let suspended = waitUntil {
            connection.channel.loop.queue.sync { connection.isReadSuspended }
        }
        XCTAssertTrue(suspended, "reading was not suspended")
        let handled = handler.received.value
        XCTAssertLessThan(handled, count, "the server kept reading while responses piled up")

        for i in 0..<count {
            let payload = try socket.readFrame()
            XCTAssertEqual(payload.count, BigResponder.responseBytes)
            XCTAssertEqual(index(of: payload), i)
            XCTAssertTrue(sameBytes(payload, filledPayload(i, count: BigResponder.responseBytes)), "response \(i) altered")
        }
        XCTAssertEqual(handler.received.value, count)
    }

    func testInFlightLimitStopsReadingUntilTicketsComplete() throws {
        let handler = HoldingHandler()
        let server = try startServer(handler: handler) { $0.maxInFlightRequests = 4 }
        defer { server.shutdown(timeout: .seconds(5)) }
        let socket = try TestSocket(port: server.boundPort)

        let count = 20
        try socket.write((0..<count).flatMap { framed(indexedPayload($0)) })
        var answered = 0
        while answered < count {
            let expected = min(4, count - answered)
            XCTAssertTrue(waitUntil { handler.count >= expected })
            let batch = handler.take()
            // Never more than the limit, although every request is already in the buffer.
            XCTAssertEqual(batch.count, expected)
            let connection = batch[0].connection
            XCTAssertTrue(connection.channel.loop.queue.sync { connection.isReadSuspended } || expected < 4)
            XCTAssertEqual(handler.count, 0)
            batch.reversed().forEach { $0.answer() }
            for request in batch {
                XCTAssertEqual(index(of: try socket.readFrame()), index(of: request.payload))
            }
            answered += batch.count
        }
        XCTAssertEqual(answered, count)
    }

    func testIdleTimeoutClosesSilentConnection() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler) { $0.idleTimeout = .milliseconds(200) }
        defer { server.shutdown(timeout: .seconds(5)) }
        let socket = try TestSocket(port: server.boundPort)
        socket.setReceiveTimeout(seconds: 5)

        XCTAssertTrue(socket.waitForClose(), "idle connection was not closed")
        XCTAssertTrue(waitUntil { handler.closes.total == 1 && server.connectionCount == 0 })
    }

    func testIdleTimeoutSparesConnectionWithRequestInFlight() throws {
        let handler = HoldingHandler()
        let server = try startServer(handler: handler) { $0.idleTimeout = .milliseconds(100) }
        defer { server.shutdown(timeout: .seconds(5)) }
        let socket = try TestSocket(port: server.boundPort)

        try socket.write(framed(indexedPayload(1)))
        XCTAssertTrue(waitUntil { handler.count == 1 })
        usleep(400_000)  // several idle periods pass while the request is in flight
        XCTAssertEqual(server.connectionCount, 1)
        handler.take().forEach { $0.answer() }
        XCTAssertEqual(index(of: try socket.readFrame()), 1)
    }
}
