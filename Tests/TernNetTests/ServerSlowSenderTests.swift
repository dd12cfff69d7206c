import Dispatch
import Glibc
import Logging
import XCTest

@testable import TernNet

/// Peers that announce a frame and then stall or trickle it: they hold only the request memory
/// they really sent, and `partialRequestTimeout` closes them.
final class ServerSlowSenderTests: XCTestCase {
    private func header(_ size: Int) -> [UInt8] {
        [UInt8(size >> 24 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)]
    }

    /// Whether the server has closed `socket` (end of input or reset), without blocking.
    private func isClosedByServer(_ socket: TestSocket) -> Bool {
        var scratch = [UInt8](repeating: 0, count: 64)
        let n = scratch.withUnsafeMutableBytes { Glibc.recv(socket.fd, $0.baseAddress!, 64, Int32(MSG_DONTWAIT)) }
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }

    func testTricklingSendersDoNotPinTheRequestMemoryOfOthers() throws {
        let pool = RequestMemoryPool(limit: 1 << 20)
        let handler = EchoHandler()
        let server = try startServer(handler: handler) {
            $0.maxFrameBytes = 16 << 20
            $0.memoryPool = pool
            // Only the reservation is under test here, not the deadline.
            $0.partialRequestTimeout = nil
        }
        defer { server.shutdown(timeout: .seconds(5)) }

        // Four peers announce 16 MiB frames (64 MiB, far over the 1 MiB pool) and send a little.
        let tricklers = try (0..<4).map { _ in try TestSocket(port: server.boundPort) }
        for trickler in tricklers { try trickler.write(header(16 << 20) + [UInt8](repeating: 7, count: 1000)) }
        for round in 0..<5 {
            usleep(20_000)
            for trickler in tricklers { try trickler.write([UInt8(round)]) }
        }
        XCTAssertTrue(waitUntil { server.connectionCount == 4 })
        usleep(100_000)
        // What they sent is held (a resident buffer each at most), not what they announced.
        XCTAssertLessThanOrEqual(pool.usedBytes, 4 * 64 * 1024, "size prefixes reserved their whole frames")

        // A normal peer's large frame is read and answered meanwhile.
        let client = try TestClient(port: server.boundPort)
        defer { client.connection.close() }
        let payload = filledPayload(3, count: 512 * 1024)
        client.connection.send(framed(payload))
        let answered = try XCTUnwrap(client.waitForFrames(1, timeout: .seconds(20)), "the large frame was never read")
        XCTAssertTrue(sameBytes(answered[0], payload))

        // Everything reserved is given back when the tricklers go.
        tricklers.forEach { Glibc.shutdown($0.fd, Int32(SHUT_RDWR)) }
        XCTAssertTrue(waitUntil { pool.usedBytes == 0 }, "\(pool.usedBytes) bytes still reserved")
    }

    func testPeerThatStallsMidFrameIsClosedButAnIdlePeerIsNot() throws {
        let handler = EchoHandler()
        let server = try startServer(handler: handler) {
            $0.partialRequestTimeout = .milliseconds(300)
            $0.idleTimeout = .seconds(600)
        }
        defer { server.shutdown(timeout: .seconds(5)) }
        let idle = try TestSocket(port: server.boundPort)
        let trickler = try TestSocket(port: server.boundPort)

        // One byte every 20 ms keeps the trickler from ever being idle; its frame never completes.
        let started = DispatchTime.now()
        try trickler.write(header(1000) + [1])
        var closed = false
        let deadline = DispatchTime.now() + .seconds(20)
        while !closed && DispatchTime.now() < deadline {
            usleep(20_000)
            closed = isClosedByServer(trickler)
            if !closed {
                _ = [UInt8(2)].withUnsafeBytes { Glibc.send(trickler.fd, $0.baseAddress!, 1, Int32(MSG_NOSIGNAL)) }
            }
        }
        let elapsedMs = (DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1_000_000
        XCTAssertTrue(closed, "a peer trickling one frame was never closed")
        XCTAssertGreaterThanOrEqual(elapsedMs, 250, "closed before its frame had been incomplete for the timeout")

        // The idle peer, with no partial frame, stays and is served.
        XCTAssertFalse(isClosedByServer(idle))
        try idle.write(framed([4, 5, 6]))
        XCTAssertEqual(try idle.readFrame(), [4, 5, 6])
        XCTAssertEqual(handler.received.value, 1)
    }
}
