import Foundation
import Glibc
@testable import TernNet
import XCTest

/// The write queue flushed into one end of a non-blocking Unix socket pair.
final class WriteQueueTests: XCTestCase {
    private var ends: [Int32] = [-1, -1]

    override func setUpWithError() throws {
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0 else { throw TestFailure("socketpair") }
        for end in ends { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
    }

    override func tearDown() {
        ends.forEach { close($0) }
    }

    /// Reads whatever the peer end holds now.
    private func readAvailable() -> [UInt8] {
        var out: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = scratch.withUnsafeMutableBytes { read(ends[1], $0.baseAddress, $0.count) }
            guard n > 0 else { return out }
            out += scratch[0..<n]
        }
    }

    func testSmallChunksCoalesceIntoOneWritevAndKeepOrderAroundFileRegions() throws {
        let path = NSTemporaryDirectory() + "tern-wq-\(UUID().uuidString)"
        let file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        defer {
            close(file)
            unlink(path)
        }
        let fileBytes = randomBytes(5000)
        XCTAssertEqual(fileBytes.withUnsafeBytes { pwrite(file, $0.baseAddress, $0.count, 0) }, 5000)

        var queue = WriteQueue()
        var expected: [UInt8] = []
        for i in 0..<500 {
            let chunk = indexedPayload(i, extra: i % 13)
            queue.append(.bytes(chunk))
            expected += chunk
        }
        queue.append(.bytes([]))
        queue.append(.file(FileRegion(descriptor: file, offset: 10, count: 4000, owner: path)))
        expected += fileBytes[10..<4010]
        let large = filledPayload(1, count: 10_000)
        queue.append(.bytes([1, 2, 3]))
        queue.append(.bytes(large))
        expected += [1, 2, 3] + large
        XCTAssertEqual(queue.pendingBytes, expected.count)

        guard case .drained(let written) = queue.flush(to: ends[0]) else { return XCTFail("not drained") }
        XCTAssertEqual(written, expected.count)
        XCTAssertEqual(queue.pendingBytes, 0)
        XCTAssertTrue(queue.isEmpty)
        XCTAssertEqual(queue.sendfileCalls, 1)
        XCTAssertEqual(queue.writevCalls, 2, "500 small chunks, then a small and a large one")
        XCTAssertTrue(sameBytes(readAvailable(), expected))
    }

    func testPartialWritesResumeWhereTheyStopped() throws {
        var size: Int32 = 16 * 1024
        setsockopt(ends[0], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var queue = WriteQueue()
        var expected: [UInt8] = []
        for i in 0..<40 {
            let chunk = i % 3 == 0 ? filledPayload(i, count: 50_000) : indexedPayload(i, extra: 100)
            queue.append(.bytes(chunk))
            expected += chunk
        }
        var received: [UInt8] = []
        var blocked = 0
        flushing: while true {
            switch queue.flush(to: ends[0]) {
            case .drained: break flushing
            case .wouldBlock:
                blocked += 1
                received += readAvailable()
            case .failed(let error): return XCTFail("\(error)")
            }
        }
        received += readAvailable()
        XCTAssertGreaterThan(blocked, 0)
        XCTAssertTrue(sameBytes(received, expected))
    }
}
