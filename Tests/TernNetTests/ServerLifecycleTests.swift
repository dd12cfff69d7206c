import Dispatch
import Foundation
import Logging
import TernNet
import XCTest

/// Binding, connecting, shutdown and close notifications.
final class ServerLifecycleTests: XCTestCase {
    func testStartOnPortInUseThrowsAddressInUse() throws {
        let first = try startServer(handler: EchoHandler())
        defer { first.shutdown(timeout: .seconds(1)) }
        var configuration = ServerConfiguration(host: "127.0.0.1", port: first.boundPort)
        configuration.eventLoopCount = 1
        let second = Server(configuration: configuration, handler: EchoHandler(), logger: first.testLogger)
        XCTAssertThrowsError(try second.start()) { error in
            let netError = error as? NetError
            XCTAssertEqual(netError?.code, .addressInUse)
            XCTAssertTrue(netError?.message.contains("127.0.0.1:\(first.boundPort)") ?? false, "\(error)")
            XCTAssertTrue(netError?.message.contains("in use") ?? false, "\(error)")
        }
        second.shutdown(timeout: .zero)  // harmless on a server that never started
    }

    func testConnectToClosedPortThrowsConnectionRefused() throws {
        let server = try startServer(handler: EchoHandler())
        let port = server.boundPort
        server.shutdown(timeout: .seconds(1))
        XCTAssertThrowsError(
            try ClientConnection.connect(
                host: "127.0.0.1", port: port, timeout: .seconds(2), maxFrameBytes: 1024, onFrame: { _ in },
                onClose: { _ in })
        ) { error in
            XCTAssertEqual((error as? NetError)?.code, .connectionRefused, "\(error)")
            XCTAssertTrue("\(error)".contains("\(port)"), "\(error)")
        }
    }

    func testConnectByHostNameAndBadPort() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        // "localhost" may resolve to ::1 first, where nothing listens; the next address works.
        let client = try TestClient(port: server.boundPort, host: "localhost")
        defer { client.connection.close() }
        client.connection.send(framed([7]))
        XCTAssertEqual(client.waitForFrames(1), [[7]])

        XCTAssertThrowsError(
            try ClientConnection.connect(
                host: "127.0.0.1", port: 70_000, timeout: .seconds(1), maxFrameBytes: 1024, onFrame: { _ in },
                onClose: { _ in })
        ) { XCTAssertEqual(($0 as? NetError)?.code, .invalidArgument) }
    }

    func testShutdownWaitsForInFlightTicketsThenClosesEachConnectionOnce() throws {
        let handler = HoldingHandler()
        let server = try startServer(handler: handler)
        let clients = try (0..<3).map { _ in try TestClient(port: server.boundPort) }
        for (c, client) in clients.enumerated() {
            client.connection.send((0..<4).map { framed(indexedPayload(c * 10 + $0)) })
        }
        XCTAssertTrue(waitUntil { handler.count == 12 })
        XCTAssertEqual(server.connectionCount, 3)

        // Answer from another thread while shutdown is waiting.
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(200)) {
            handler.take().shuffled().forEach { $0.answer() }
        }
        server.shutdown(timeout: .seconds(10))

        XCTAssertEqual(server.connectionCount, 0)
        XCTAssertEqual(handler.closes.perConnection.count, 3)
        XCTAssertEqual(Set(handler.closes.perConnection.values), [1])
        for (c, client) in clients.enumerated() {
            let frames = try XCTUnwrap(client.waitForFrames(4))
            XCTAssertEqual(frames.map { index(of: $0) }, (0..<4).map { c * 10 + $0 })
            XCTAssertTrue(waitUntil { client.closeResult.value != nil })
            XCTAssertEqual(client.closeResult.value, .error(.closed))
            XCTAssertTrue(client.connection.isClosed)
        }
        XCTAssertThrowsError(try TestSocket(port: server.boundPort), "still accepting after shutdown")
    }

    func testStopAcceptingKeepsServingOpenConnections() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort)
        defer { client.connection.close() }
        client.connection.send(framed([1]))
        XCTAssertEqual(client.waitForFrames(1), [[1]])

        server.stopAccepting()
        XCTAssertTrue(waitUntil { (try? TestSocket(port: server.boundPort)) == nil }, "still accepting")
        client.connection.send(framed([2]))
        XCTAssertEqual(client.waitForFrames(2), [[1], [2]])
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testShutdownGivesUpOnUnansweredTicketsAfterTimeout() throws {
        let handler = HoldingHandler()
        let server = try startServer(handler: handler)
        let client = try TestClient(port: server.boundPort)
        client.connection.send(framed([1]))
        XCTAssertTrue(waitUntil { handler.count == 1 })

        server.shutdown(timeout: .milliseconds(200))
        XCTAssertEqual(server.connectionCount, 0)
        XCTAssertEqual(handler.closes.perConnection.values.first, 1)
        // A late answer is ignored.
        handler.take().forEach { $0.answer() }
        XCTAssertTrue(waitUntil { client.connection.isClosed })
        XCTAssertEqual(client.count, 0)
    }

    func testConnectionCloseIsGracefulAndNotifiesOnce() throws {
        let handler = HoldingHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort)
        client.connection.send([framed([1]), framed([2])])
        XCTAssertTrue(waitUntil { handler.count == 2 })
        let requests = handler.take()
        requests[0].connection.close()
        requests[0].connection.close()
        // Closing waits for the two requests in flight to be answered and written.
        usleep(50_000)
        XCTAssertEqual(server.connectionCount, 1)
        requests.reversed().forEach { $0.answer() }

        XCTAssertEqual(client.waitForFrames(2), [[1], [2]])
        XCTAssertTrue(waitUntil { client.closeResult.value != nil })
        XCTAssertEqual(client.closeResult.value, .error(.closed))
        XCTAssertTrue(waitUntil { handler.closes.total == 1 })
        XCTAssertEqual(handler.count, 0)
        XCTAssertEqual(server.connectionCount, 0)
    }

    func testClientCloseIsSeenByServerAndCallsOnCloseOnce() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort)
        client.connection.send(framed([1]))
        XCTAssertEqual(client.waitForFrames(1), [[1]])

        client.connection.close()
        client.connection.close()
        XCTAssertTrue(client.connection.isClosed)
        client.connection.send(framed([2]))  // dropped
        XCTAssertTrue(waitUntil { client.closeResult.value != nil })
        XCTAssertEqual(client.closeResult.value, .orderly)
        XCTAssertTrue(waitUntil { handler.closes.total == 1 && server.connectionCount == 0 })
    }
}

extension Server {
    /// A silent logger for servers made inside tests.
    var testLogger: Logger { Logger(label: "tern.net.test", factory: { _ in SwiftLogNoOpLogHandler() }) }
}
