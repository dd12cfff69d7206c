import Dispatch
import Foundation
@testable import TernNet
import XCTest

/// Round trips, pipelining, ordering and frame splitting over real loopback sockets.
final class ServerFramingTests: XCTestCase {
    func testEchoRoundTrip() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort)
        defer { client.connection.close() }

        client.connection.send(framed(Array("hello tern".utf8)))
        let frames = try XCTUnwrap(client.waitForFrames(1))
        XCTAssertEqual(frames, [Array("hello tern".utf8)])
    }

    func testEmptyAndLargeFramesEcho() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort)
        defer { client.connection.close() }

        // Larger than the 64 KiB read buffer: it must grow for this frame only.
        let large = filledPayload(7, count: 3 * 1024 * 1024)
        client.connection.send([framed([]), framed(large), framed([1, 2, 3])])
        let frames = try XCTUnwrap(client.waitForFrames(3))
        XCTAssertEqual(frames.count, 3)
        XCTAssertEqual(frames[0], [])
        XCTAssertTrue(sameBytes(frames[1], large), "large frame came back altered")
        XCTAssertEqual(frames[2], [1, 2, 3])
    }

    func testEightConnectionsPipelineManyFramesInOrder() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let perConnection = 2_000
        let clients = try (0..<8).map { _ in try TestClient(port: server.boundPort) }
        defer { clients.forEach { $0.connection.close() } }

        DispatchQueue.concurrentPerform(iterations: clients.count) { c in
            for i in 0..<perConnection {
                clients[c].connection.send(framed(indexedPayload(i, extra: i % 50)))
            }
        }
        for client in clients {
            let frames = try XCTUnwrap(client.waitForFrames(perConnection), "missing responses")
            XCTAssertEqual(frames.map { index(of: $0) }, Array(0..<perConnection))
            XCTAssertEqual(frames.map(\.count), (0..<perConnection).map { 8 + $0 % 50 })
        }
        XCTAssertEqual(handler.received.value, 8 * perConnection)
    }

    func testResponsesCompletedOutOfOrderFromOtherThreadsArriveInRequestOrder() throws {
        let handler = HoldingHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort)
        defer { client.connection.close() }

        let count = 200
        for i in 0..<count { client.connection.send(framed(indexedPayload(i))) }
        XCTAssertTrue(waitUntil { handler.count == count })
        let held = handler.take()
        // Reverse for the first half, shuffled for the rest, each from a global-queue thread.
        let requests = Array(held[0..<count / 2].reversed()) + held[(count / 2)...].shuffled()
        DispatchQueue.concurrentPerform(iterations: requests.count) { requests[$0].answer() }

        let frames = try XCTUnwrap(client.waitForFrames(count))
        XCTAssertEqual(frames.map { index(of: $0) }, Array(0..<count))
    }

    func testNoResponseFreesTheSlotWithoutWriting() throws {
        let handler = HoldingHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort)
        defer { client.connection.close() }

        client.connection.send((0..<5).map { framed(indexedPayload($0)) })
        XCTAssertTrue(waitUntil { handler.count == 5 })
        let requests = handler.take()
        // Odd requests (acks=0 style) get no response; completion order is reversed.
        for request in requests.reversed() {
            if index(of: request.payload) % 2 == 1 {
                request.connection.noResponse(request.ticket)
            } else {
                request.answer()
            }
        }
        let frames = try XCTUnwrap(client.waitForFrames(3))
        XCTAssertEqual(frames.map { index(of: $0) }, [0, 2, 4])
        client.connection.send(framed(indexedPayload(5)))
        XCTAssertTrue(waitUntil { handler.count == 1 })
        handler.take().forEach { $0.answer() }
        XCTAssertEqual(client.waitForFrames(4)?.map { index(of: $0) }, [0, 2, 4, 5])
    }

    func testFrameSentOneByteAtATime() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let socket = try TestSocket(port: server.boundPort)

        let payload = indexedPayload(42, extra: 20)
        for byte in framed(payload) {
            try socket.write([byte])
            usleep(500)  // let the server see (most) bytes in separate reads
        }
        XCTAssertEqual(try socket.readFrame(), payload)
        XCTAssertEqual(handler.received.value, 1)
    }

    func testManyFramesInOneWrite() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let socket = try TestSocket(port: server.boundPort)

        let count = 1_000
        try socket.write((0..<count).flatMap { framed(indexedPayload($0, extra: $0 % 7)) })
        for i in 0..<count {
            let payload = try socket.readFrame()
            XCTAssertEqual(index(of: payload), i)
            XCTAssertEqual(payload.count, 8 + i % 7)
        }
        // The responses ready after each read event left in one writev, not one write each.
        let connection = try XCTUnwrap(handler.lastConnection.value)
        let statistics = connection.channel.loop.queue.sync { connection.statistics }
        XCTAssertLessThanOrEqual(statistics.writevCalls, statistics.readEvents)
        XCTAssertLessThan(statistics.writevCalls, count / 10)
    }

    func testFramesSplitAtEveryBoundary() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let socket = try TestSocket(port: server.boundPort)

        // Three frames written in uneven pieces that cut headers and payloads.
        let stream = (0..<3).flatMap { framed(indexedPayload($0, extra: 5)) }
        var offset = 0
        for piece in [1, 2, 4, 6, 9, 3, 2, 11, 1] where offset < stream.count {
            let end = min(offset + piece, stream.count)
            try socket.write(Array(stream[offset..<end]))
            offset = end
            usleep(1000)
        }
        try socket.write(Array(stream[offset...]))
        for i in 0..<3 {
            XCTAssertEqual(index(of: try socket.readFrame()), i)
        }
    }
}
