import TernTestSupport
import TernWire
import XCTest

/// Zig-zag varints and varlongs as Kafka (and protobuf's sint32/sint64) write them.
final class VarintTests: XCTestCase {
    private func varint(_ value: Int32) -> [UInt8] {
        var w = ByteWriter()
        w.writeVarint(value)
        return w.bytes
    }

    private func varlong(_ value: Int64) -> [UInt8] {
        var w = ByteWriter()
        w.writeVarlong(value)
        return w.bytes
    }

    func testZigZagMapping() {
        let pairs32: [(Int32, UInt32)] = [
            (0, 0), (-1, 1), (1, 2), (-2, 3), (2, 4), (Int32.max, 0xFFFF_FFFE), (Int32.min, 0xFFFF_FFFF),
        ]
        for (signed, unsigned) in pairs32 {
            XCTAssertEqual(ZigZag.encode32(signed), unsigned)
            XCTAssertEqual(ZigZag.decode32(unsigned), signed)
        }
        let pairs64: [(Int64, UInt64)] = [
            (0, 0), (-1, 1), (1, 2), (-2, 3), (Int64.max, UInt64.max - 1), (Int64.min, UInt64.max),
        ]
        for (signed, unsigned) in pairs64 {
            XCTAssertEqual(ZigZag.encode64(signed), unsigned)
            XCTAssertEqual(ZigZag.decode64(unsigned), signed)
        }
    }

    func testKnownEncodings() {
        XCTAssertEqual(varint(0), [0x00])
        XCTAssertEqual(varint(-1), [0x01])
        XCTAssertEqual(varint(1), [0x02])
        XCTAssertEqual(varint(63), [0x7E])
        XCTAssertEqual(varint(-64), [0x7F])
        XCTAssertEqual(varint(64), [0x80, 0x01])
        XCTAssertEqual(varint(300), [0xD8, 0x04])
        XCTAssertEqual(varint(Int32.max), [0xFE, 0xFF, 0xFF, 0xFF, 0x0F])
        XCTAssertEqual(varint(Int32.min), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        XCTAssertEqual(varlong(0), [0x00])
        XCTAssertEqual(varlong(-1), [0x01])
        XCTAssertEqual(varlong(Int64.max), [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        XCTAssertEqual(varlong(Int64.min), [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        var w = ByteWriter()
        w.writeUnsignedVarint(UInt64.max)
        XCTAssertEqual(w.bytes, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
    }

    func testRoundTripsAtBoundaries() throws {
        var values32: [Int32] = [0, 1, -1, Int32.max, Int32.min, Int32.max - 1, Int32.min + 1]
        var values64: [Int64] = [0, 1, -1, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1]
        for bits in 1..<63 {
            let p = Int64(1) << bits
            values64 += [p, p - 1, -p, -p + 1]
            if bits < 31 { values32 += [Int32(p), Int32(p - 1), Int32(-p), Int32(-p + 1)] }
        }
        for value in values32 {
            let bytes = varint(value)
            XCTAssertEqual(bytes.count, ZigZag.varintSize(value), "\(value)")
            XCTAssertLessThanOrEqual(bytes.count, 5)
            var r = ByteReader(bytes)
            XCTAssertEqual(try r.readVarint(), value)
            XCTAssertTrue(r.isAtEnd)
            // A varint is also a valid varlong of the same value.
            var asLong = ByteReader(bytes)
            XCTAssertEqual(try asLong.readVarlong(), Int64(value))
        }
        for value in values64 {
            let bytes = varlong(value)
            XCTAssertEqual(bytes.count, ZigZag.varlongSize(value), "\(value)")
            XCTAssertLessThanOrEqual(bytes.count, 10)
            var r = ByteReader(bytes)
            XCTAssertEqual(try r.readVarlong(), value)
            XCTAssertTrue(r.isAtEnd)
        }
    }

    func testRandomRoundTrips() throws {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<5000 {
            let a = Int32.random(in: .min ... .max, using: &rng)
            let b = Int64.random(in: .min ... .max, using: &rng) >> Int64.random(in: 0...63, using: &rng)
            let u = UInt64.random(in: .min ... .max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            var w = ByteWriter()
            w.writeVarint(a)
            w.writeVarlong(b)
            w.writeUnsignedVarint(u)
            XCTAssertEqual(w.count, ZigZag.varintSize(a) + ZigZag.varlongSize(b) + ZigZag.unsignedVarintSize(u))
            var r = ByteReader(w.bytes)
            XCTAssertEqual(try r.readVarint(), a)
            XCTAssertEqual(try r.readVarlong(), b)
            XCTAssertEqual(try r.readUnsignedVarint(), u)
            XCTAssertTrue(r.isAtEnd)
        }
    }

    func testSizes() {
        XCTAssertEqual(ZigZag.unsignedVarintSize(0), 1)
        XCTAssertEqual(ZigZag.unsignedVarintSize(127), 1)
        XCTAssertEqual(ZigZag.unsignedVarintSize(128), 2)
        XCTAssertEqual(ZigZag.unsignedVarintSize(UInt64.max), 10)
        XCTAssertEqual(ZigZag.varintSize(-64), 1)
        XCTAssertEqual(ZigZag.varintSize(64), 2)
        XCTAssertEqual(ZigZag.varintSize(Int32.min), 5)
        XCTAssertEqual(ZigZag.varlongSize(Int64.min), 10)
    }

    func testOverlongVarintIsMalformed() {
        // Six bytes: more than a 32-bit varint may take.
        var six = ByteReader([0x80, 0x80, 0x80, 0x80, 0x80, 0x00])
        assertWireError(.malformed) { try six.readVarint() }
        // Five bytes whose value needs more than 32 bits.
        var wide = ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 0x1F])
        assertWireError(.malformed) { try wide.readVarint() }
        var wide2 = ByteReader([0x80, 0x80, 0x80, 0x80, 0x10])
        assertWireError(.malformed) { try wide2.readVarint() }
        // Eleven bytes: more than a varlong may take.
        var eleven = ByteReader([UInt8](repeating: 0x80, count: 10) + [0x00])
        assertWireError(.malformed) { try eleven.readVarlong() }
        var unsigned = ByteReader([0x80, 0x80, 0x00])
        assertWireError(.malformed) { try unsigned.readUnsignedVarint(maxBytes: 2) }
    }

    func testPaddedEncodingsWithinTheLimitAreAccepted() throws {
        // Like Kafka's ByteUtils, a non-minimal encoding that fits the byte limit reads as its value.
        var padded = ByteReader([0x82, 0x80, 0x80, 0x80, 0x00])
        XCTAssertEqual(try padded.readVarint(), 1)
        var paddedLong = ByteReader([UInt8](repeating: 0x80, count: 9) + [0x00])
        XCTAssertEqual(try paddedLong.readVarlong(), 0)
    }

    func testTruncatedVarintsThrowTruncated() {
        for bytes: [UInt8] in [[], [0x80], [0xFF, 0xFF, 0xFF, 0xFF]] {
            var r = ByteReader(bytes)
            assertWireError(.truncated, "\(bytes)") { try r.readVarint() }
        }
        var long = ByteReader([UInt8](repeating: 0xFF, count: 9))
        assertWireError(.truncated) { try long.readVarlong() }
    }
}
