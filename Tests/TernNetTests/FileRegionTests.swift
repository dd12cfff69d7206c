import Foundation
import Glibc
@testable import TernNet
import XCTest

/// Responses that send file regions with sendfile(2).
final class FileRegionTests: XCTestCase {
    /// An open temporary file; closes and removes it when released (the region's `owner`).
    final class TemporaryFile: Sendable {
        let path: String
        let descriptor: Int32
        let released: Locked<Bool>

        init(contents: [UInt8], released: Locked<Bool> = Locked(false)) throws {
            path = NSTemporaryDirectory() + "tern-net-\(UUID().uuidString)"
            descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw TestFailure("open \(path): \(String(cString: strerror(errno)))") }
            self.released = released
            let written = contents.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
            guard written == contents.count else { throw TestFailure("short write to \(path)") }
        }

        deinit {
            close(descriptor)
            unlink(path)
            released.withLock { $0 = true }
        }
    }

    /// Answers each request (its payload: 8-byte offset, 8-byte count) with a header chunk, the
    /// file region and a trailer chunk, framed together.
    final class FileResponder: ServerConnectionHandler {
        let file = Locked<TemporaryFile?>(nil)
        let answered = Locked(0)
        let lastConnection = Locked<ServerConnection?>(nil)

        func connection(_ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket) {
            let offset = index(of: frame)
            let count = index(of: frame.dropFirst(8))
            guard let file = file.value else { return connection.noResponse(ticket) }
            let header: [UInt8] = Array("head".utf8)
            let trailer: [UInt8] = Array("tail".utf8)
            let size = UInt32(header.count + count + trailer.count)
            let prefix = [UInt8(size >> 24), UInt8((size >> 16) & 0xFF), UInt8((size >> 8) & 0xFF), UInt8(size & 0xFF)]
            connection.respond(
                ticket,
                [
                    .bytes(prefix), .bytes(header),
                    .file(FileRegion(descriptor: file.descriptor, offset: Int64(offset), count: count, owner: file)),
                    .bytes(trailer),
                ])
            answered.withLock { $0 += 1 }
            lastConnection.withLock { $0 = connection }
        }

        func connectionDidClose(_ connection: ServerConnection) {}
    }

    func testSmallFileRegionArrivesByteIdentical() throws {
        let contents = randomBytes(10_000)
        let handler = FileResponder()
        handler.file.withLock { $0 = try? TemporaryFile(contents: contents) }
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort)
        defer { client.connection.close() }

        client.connection.send(framed(indexedPayload(100) + indexedPayload(5_000)))
        client.connection.send(framed(indexedPayload(0) + indexedPayload(10_000)))
        let frames = try XCTUnwrap(client.waitForFrames(2))
        XCTAssertEqual(frames[0], Array("head".utf8) + contents[100..<5_100] + Array("tail".utf8))
        XCTAssertEqual(frames[1], Array("head".utf8) + contents + Array("tail".utf8))
    }

    func testLargeFileRegionToSlowReaderArrivesIntactAndReleasesOwner() throws {
        let size = 6 * 1024 * 1024
        let contents = randomBytes(size)
        let released = Locked(false)
        let handler = FileResponder()
        handler.file.withLock { $0 = try? TemporaryFile(contents: contents, released: released) }
        let server = try startServer(handler: handler)
        defer { server.shutdown(timeout: .seconds(5)) }
        // A small receive buffer and a reader that waits: sendfile hits EAGAIN and the rest goes
        // out through the write source.
        let socket = try TestSocket(port: server.boundPort, receiveBufferBytes: 64 * 1024)

        // Two pipelined requests; the second may be read only once the first's unsent bytes
        // have drained below maxPendingResponseBytes.
        try socket.write(framed(indexedPayload(0) + indexedPayload(size)))
        try socket.write(framed(indexedPayload(3) + indexedPayload(size - 3)))
        XCTAssertTrue(waitUntil { handler.answered.value >= 1 })
        usleep(100_000)

        let first = try socket.readFrame()
        XCTAssertEqual(first.count, size + 8)
        XCTAssertTrue(sameBytes(first, Array("head".utf8) + contents + Array("tail".utf8)), "first file response altered")
        XCTAssertTrue(waitUntil { handler.answered.value == 2 })
        handler.file.withLock { $0 = nil }  // from now on only the queued region keeps the file open
        let second = try socket.readFrame()
        XCTAssertTrue(
            sameBytes(second, Array("head".utf8) + contents[3...] + Array("tail".utf8)), "second file response altered")
        XCTAssertTrue(waitUntil { released.value }, "file region owner was not released after sending")
        let connection = try XCTUnwrap(handler.lastConnection.value)
        let statistics = connection.channel.loop.queue.sync { connection.statistics }
        XCTAssertGreaterThan(statistics.wouldBlockWrites, 0, "sendfile never hit EAGAIN")
        XCTAssertGreaterThan(statistics.sendfileCalls, 2)
    }
}
