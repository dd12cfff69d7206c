import Dispatch
import Glibc
import Logging
import XCTest

@testable import TernNet

/// A peer that closes while the server has stopped reading its connection for backpressure: a
/// suspended read source reports nothing, yet the close must be noticed, so long polls are
/// answered and the connection's descriptor and request memory are given back.
final class ServerPeerCloseTests: XCTestCase {
    /// Parks every request (a long poll) until the connection is about to close, then answers it.
    private final class ParkingHandler: ServerConnectionHandler {
        let parked = Locked<[(ServerConnection, ResponseTicket)]>([])
        let toldOfClose = Locked(0)
        let closes = CloseCounter()

        func connection(
            _ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket
        ) {
            parked.withLock { $0.append((connection, ticket)) }
        }

        func connectionWillClose(_ connection: ServerConnection) {
            toldOfClose.withLock { $0 += 1 }
            let mine = parked.withLock { parked in
                defer { parked.removeAll { $0.0 === connection } }
                return parked.filter { $0.0 === connection }
            }
            for (connection, ticket) in mine { connection.respond(ticket, framed([0])) }
        }

        func connectionDidClose(_ connection: ServerConnection) {
            closes.record(connection)
        }
    }

    func testPeerCloseIsSeenWhileTheInFlightLimitSuspendsReading() throws {
        let handler = ParkingHandler()
        let server = try startServer(handler: handler) {
            $0.maxInFlightRequests = 2
            // Neither closes this connection within the test: only the peer's close can.
            $0.idleTimeout = .seconds(600)
            $0.partialRequestTimeout = .seconds(600)
        }
        defer { server.shutdown(timeout: .seconds(5)) }
        let socket = try TestSocket(port: server.boundPort)
        try socket.write(framed([1]) + framed([2]))
        XCTAssertTrue(waitUntil { handler.parked.value.count == 2 })
        let connection = try XCTUnwrap(handler.parked.value.first?.0)
        XCTAssertTrue(waitUntil { connection.channel.loop.queue.sync { connection.isReadSuspended } })

        // The client goes away while both of its requests are parked.
        Glibc.shutdown(socket.fd, Int32(SHUT_WR))
        XCTAssertTrue(
            waitUntil(timeout: .seconds(15)) { handler.toldOfClose.value == 1 },
            "the parked requests were not released when the peer closed")
        XCTAssertTrue(waitUntil { server.connectionCount == 0 }, "the connection stayed open")
        // A half-closing client still gets the answers to what it sent.
        XCTAssertEqual(try socket.readFrame(), [0])
        XCTAssertEqual(try socket.readFrame(), [0])
        XCTAssertTrue(socket.waitForClose())
    }

    func testPeerCloseIsSeenWhileWaitingForRequestMemory() throws {
        let pool = RequestMemoryPool(limit: 64 * 1024)
        let handler = EchoHandler()
        let server = try startServer(handler: handler) {
            $0.maxFrameBytes = 1 << 20
            $0.memoryPool = pool
            $0.idleTimeout = .seconds(600)
            $0.partialRequestTimeout = .seconds(600)
        }
        defer { server.shutdown(timeout: .seconds(5)) }
        // A handler keeps the whole pool, so every frame over 64 KiB waits for memory.
        pool.charge(64 * 1024)
        defer { pool.release(64 * 1024) }
        let waiting = try TestSocket(port: server.boundPort)
        try waiting.write(framed([UInt8](repeating: 1, count: 200 * 1024)).prefix(100 * 1024).map { $0 })
        XCTAssertTrue(waitUntil { pool.waitingCount == 1 }, "the large frame did not wait for memory")

        // It gives up and closes: the rest of its frame can never come.
        Glibc.shutdown(waiting.fd, Int32(SHUT_WR))
        XCTAssertTrue(
            waitUntil(timeout: .seconds(15)) { server.connectionCount == 0 },
            "the connection waited on after its peer closed")
        XCTAssertEqual(pool.waitingCount, 0)
        XCTAssertEqual(pool.usedBytes, 64 * 1024)
        XCTAssertEqual(handler.received.value, 0)
    }
}
