import Foundation
import Glibc
import XCTest

@testable import TernNet

/// A file region whose bytes may change under it (a log truncation) is never sent once its
/// `isCurrent` check turns false: not before its first `sendfile`, nor after a partial one.
final class FileRegionFenceTests: XCTestCase {
    /// Answers each request with a header, a region of the whole file guarded by `current`, and
    /// a trailer.
    final class FencedResponder: ServerConnectionHandler {
        let file: FileRegionTests.TemporaryFile
        let size: Int
        let current = Locked(true)
        let answered = Locked(0)

        init(file: FileRegionTests.TemporaryFile, size: Int) {
            self.file = file
            self.size = size
        }

        func connection(
            _ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket
        ) {
            let body = 4 + size + 4
            let prefix = [UInt8(body >> 24), UInt8((body >> 16) & 0xFF), UInt8((body >> 8) & 0xFF), UInt8(body & 0xFF)]
            let current = self.current
            connection.respond(
                ticket,
                [
                    .bytes(prefix), .bytes(Array("head".utf8)),
                    .file(
                        FileRegion(
                            descriptor: file.descriptor, offset: 0, count: size, owner: file,
                            isCurrent: { current.value })),
                    .bytes(Array("tail".utf8)),
                ])
            answered.withLock { $0 += 1 }
        }

        func connectionDidClose(_ connection: ServerConnection) {}
    }

    /// Everything the server sends until it closes the connection (nil if it does not close
    /// within the socket's receive timeout).
    func readUntilClose(_ socket: TestSocket) -> [UInt8]? {
        var received: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = scratch.withUnsafeMutableBytes { Glibc.recv(socket.fd, $0.baseAddress!, $0.count, 0) }
            if n == 0 { return received }
            if n < 0 {
                if errno == EINTR { continue }
                return errno == ECONNRESET ? received : nil
            }
            received += scratch[0..<n]
        }
    }

    func testARegionStaleBeforeItsSendIsNeverSent() throws {
        let contents = [UInt8](repeating: 0xAB, count: 10_000)
        let handler = FencedResponder(file: try FileRegionTests.TemporaryFile(contents: contents), size: contents.count)
        handler.current.withLock { $0 = false }
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let socket = try TestSocket(port: server.boundPort)
        try socket.write(framed(indexedPayload(0)))
        let received = try XCTUnwrap(readUntilClose(socket), "the connection is closed")
        XCTAssertFalse(received.contains(0xAB), "no byte of the stale region went out")
        XCTAssertLessThan(received.count, 8 + contents.count)
    }

    func testARegionThatGoesStaleMidSendStopsTheStream() throws {
        let size = 6 * 1024 * 1024
        let contents = [UInt8](repeating: 0xCD, count: size)
        let handler = FencedResponder(file: try FileRegionTests.TemporaryFile(contents: contents), size: size)
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        // A small receive buffer and no reading yet: sendfile sends part, then waits for EAGAIN.
        let socket = try TestSocket(port: server.boundPort, receiveBufferBytes: 64 * 1024)
        try socket.write(framed(indexedPayload(0)))
        XCTAssertTrue(waitUntil { handler.answered.value == 1 })
        usleep(100_000)
        handler.current.withLock { $0 = false }  // the "truncation"
        let received = try XCTUnwrap(readUntilClose(socket), "the connection is closed")
        XCTAssertGreaterThan(received.count, 8, "part of the region had gone out before")
        XCTAssertLessThan(received.count, 8 + size, "the rest of the region was not sent")
    }
}
