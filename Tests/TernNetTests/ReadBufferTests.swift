import Glibc
@testable import TernNet
import XCTest

/// Frame splitting fed through a non-blocking pipe: byte by byte, all at once, and oversized.
final class ReadBufferTests: XCTestCase {
    private var pipeEnds: (read: Int32, write: Int32) = (-1, -1)

    override func setUpWithError() throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw TestFailure("pipe failed") }
        pipeEnds = (ends[0], ends[1])
        // Both ends non-blocking: a full pipe must fail the test rather than hang it.
        for end in ends { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
    }

    override func tearDown() {
        close(pipeEnds.read)
        close(pipeEnds.write)
    }

    private func feed(_ bytes: [UInt8]) {
        let written = bytes.withUnsafeBytes { write(pipeEnds.write, $0.baseAddress, $0.count) }
        XCTAssertEqual(written, bytes.count)
    }

    /// Reads what the pipe holds and returns every complete frame.
    private func drain(_ buffer: ReadBuffer) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        while true {
            while case .complete(let payload) = buffer.nextFrame() { frames.append([UInt8](payload)) }
            guard case .processed(let n) = buffer.read(from: pipeEnds.read), n > 0 else { break }
        }
        while case .complete(let payload) = buffer.nextFrame() { frames.append([UInt8](payload)) }
        return frames
    }

    func testFramesFedOneByteAtATime() {
        let buffer = ReadBuffer(initialCapacity: 16, maxFrameBytes: 1024)
        let payloads = (0..<5).map { indexedPayload($0, extra: $0 * 9) }
        var frames: [[UInt8]] = []
        for byte in payloads.flatMap(framed) {
            feed([byte])
            frames += drain(buffer)
        }
        XCTAssertEqual(frames, payloads)
    }

    func testManyFramesAtOnceAndGrowthForALargeFrame() {
        let buffer = ReadBuffer(initialCapacity: 64, maxFrameBytes: 100_000)
        let payloads = [indexedPayload(0), indexedPayload(1, extra: 50_000), [], indexedPayload(3, extra: 3)]
        feed(payloads.flatMap(framed))
        XCTAssertEqual(drain(buffer), payloads)
        XCTAssertEqual(buffer.unconsumedBytes, 0)
        feed(framed([5]))
        XCTAssertEqual(drain(buffer), [[5]])
        // Grown for the large frame only, never past the frame limit.
        XCTAssertGreaterThanOrEqual(buffer.capacity, 4 + 8 + 50_000)
        XCTAssertLessThanOrEqual(buffer.capacity, 4 + 100_000)
    }

    func testOversizedPrefixIsReported() {
        let buffer = ReadBuffer(initialCapacity: 64, maxFrameBytes: 10)
        feed(framed([1, 2]) + [0, 0, 0, 11])
        _ = buffer.read(from: pipeEnds.read)
        guard case .complete = buffer.nextFrame() else { return XCTFail("first frame missing") }
        guard case .tooLarge(let size) = buffer.nextFrame() else { return XCTFail("oversized frame not reported") }
        XCTAssertEqual(size, 11)
    }

    /// Newline-terminated frames, the shape of a text protocol.
    private struct LineDecoder: FrameDecoder {
        func boundary(in bytes: UnsafeRawBufferPointer) -> FrameBoundary {
            guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return .incomplete }
            return .complete(length: newline + 1)
        }
    }

    func testCustomFramingDelimitsGrowsAndBoundsFrames() {
        let buffer = ReadBuffer(initialCapacity: 16, maxFrameBytes: 100, framing: .custom(LineDecoder()))
        var frames: [[UInt8]] = []
        // Byte by byte, including a frame longer than the initial buffer.
        let input = Array("one\ntwo\n\(String(repeating: "x", count: 40))\n".utf8)
        for byte in input {
            feed([byte])
            frames += drain(buffer)
        }
        XCTAssertEqual(frames.map { String(decoding: $0, as: UTF8.self) }, ["one\n", "two\n", String(repeating: "x", count: 40) + "\n"])
        XCTAssertFalse(buffer.hasFrame)
        // No boundary within the frame limit: too large, never an unbounded buffer.
        // (The channel closes the connection at `.tooLarge` and never reads again.)
        feed(Array(repeating: UInt8(ascii: "y"), count: 150))
        var reads = 0
        while case .incomplete = buffer.nextFrame(), reads < 10 {
            _ = buffer.read(from: pipeEnds.read)
            reads += 1
        }
        guard case .tooLarge(let size) = buffer.nextFrame() else { return XCTFail("undelimited input not reported") }
        XCTAssertGreaterThanOrEqual(size, 100)
        XCTAssertLessThanOrEqual(buffer.capacity, 104)
    }
}
