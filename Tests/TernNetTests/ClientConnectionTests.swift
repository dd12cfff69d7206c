import Dispatch
import Foundation
import TernNet
import XCTest

final class ClientConnectionTests: XCTestCase {
    func testSendsFromManyThreadsAllArriveInPerThreadOrder() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort)
        defer { client.connection.close() }

        let threads = 8
        let perThread = 500
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread {
                client.connection.send(framed(indexedPayload(t * 1_000_000 + i)))
            }
        }
        let frames = try XCTUnwrap(client.waitForFrames(threads * perThread))
        var next = [Int](repeating: 0, count: threads)
        for payload in frames {
            let value = index(of: payload)
            let thread = value / 1_000_000
            XCTAssertEqual(value % 1_000_000, next[thread], "thread \(thread)'s frames reordered")
            next[thread] += 1
        }
        XCTAssertEqual(next, [Int](repeating: perThread, count: threads))
    }

    func testOversizedResponseClosesClientWithFrameTooLarge() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort, maxFrameBytes: 16)
        client.connection.send(framed([UInt8](repeating: 1, count: 10)))
        XCTAssertEqual(client.waitForFrames(1)?.first?.count, 10)
        client.connection.send(framed([UInt8](repeating: 1, count: 17)))
        XCTAssertTrue(waitUntil { client.closeResult.value != nil })
        XCTAssertEqual(client.closeResult.value, .error(.frameTooLarge))
        XCTAssertTrue(client.connection.isClosed)
        XCTAssertEqual(client.count, 1)
    }
}
