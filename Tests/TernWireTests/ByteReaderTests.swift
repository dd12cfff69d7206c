import TernTestSupport
import TernWire
import XCTest

/// Asserts that `body` throws a ``WireError`` with `code`.
func assertWireError<T>(
    _ code: WireError.Code, _ message: @autoclosure () -> String = "", file: StaticString = #filePath,
    line: UInt = #line,
    _ body: () throws -> T
) {
    do {
        _ = try body()
        XCTFail("expected \(code), got success. \(message())", file: file, line: line)
    } catch let error as WireError {
        XCTAssertEqual(error.code, code, "\(error). \(message())", file: file, line: line)
    } catch {
        XCTFail("expected WireError \(code), got \(error). \(message())", file: file, line: line)
    }
}

final class ByteReaderTests: XCTestCase {
    func testReadsBigEndianIntegers() throws {
        var reader = ByteReader([
            0x7F, 0x80, 0x01, 0x02, 0xFF, 0xFE, 0x01, 0x02, 0x03, 0x04, 0xFF, 0xFF, 0xFF, 0xFE,
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x80, 0, 0, 0, 0, 0, 0, 0,
        ])
        XCTAssertEqual(try reader.readUInt8(), 0x7F)
        XCTAssertEqual(try reader.readInt8(), -128)
        XCTAssertEqual(try reader.readUInt16(), 0x0102)
        XCTAssertEqual(try reader.readInt16(), -2)
        XCTAssertEqual(try reader.readUInt32(), 0x0102_0304)
        XCTAssertEqual(try reader.readInt32(), -2)
        XCTAssertEqual(try reader.readInt64(), 0x0102_0304_0506_0708)
        XCTAssertEqual(try reader.readInt64(), Int64.min)
        XCTAssertTrue(reader.isAtEnd)
        XCTAssertEqual(reader.remaining, 0)
    }

    func testReadsBooleans() throws {
        var reader = ByteReader([0, 1, 2, 0xFF])
        XCTAssertEqual(
            try [reader.readBool(), reader.readBool(), reader.readBool(), reader.readBool()], [false, true, true, true])
    }

    func testShortReadsThrowTruncatedWithoutMoving() {
        for width in [2, 4, 8] {
            for available in 0..<width {
                var reader = ByteReader([UInt8](repeating: 0xAB, count: available))
                assertWireError(.truncated, "width \(width), \(available) bytes") {
                    switch width {
                    case 2: _ = try reader.readUInt16()
                    case 4: _ = try reader.readUInt32()
                    default: _ = try reader.readInt64()
                    }
                }
                XCTAssertEqual(reader.position, 0)
                XCTAssertEqual(reader.remaining, available)
            }
        }
        var empty = ByteReader([])
        assertWireError(.truncated) { try empty.readUInt8() }
        assertWireError(.truncated) { try empty.readBool() }
    }

    func testRangeLimitsReads() throws {
        var reader = ByteReader([9, 1, 2, 3, 9], range: 1..<4)
        XCTAssertEqual(reader.position, 1)
        XCTAssertEqual(reader.end, 4)
        XCTAssertEqual(reader.remaining, 3)
        XCTAssertEqual(try reader.readBytes(count: 3), [1, 2, 3])
        assertWireError(.truncated) { try reader.readUInt8() }
    }

    func testStrings() throws {
        var w = ByteWriter()
        w.writeString("")
        w.writeString("héllo ☃")
        w.writeNullableString(nil)
        w.writeNullableString("x")
        var reader = ByteReader(w.bytes)
        XCTAssertEqual(try reader.readString(), "")
        XCTAssertEqual(try reader.readString(), "héllo ☃")
        XCTAssertNil(try reader.readNullableString())
        XCTAssertEqual(try reader.readNullableString(), "x")
        XCTAssertTrue(reader.isAtEnd)
    }

    func testNullWhereAStringIsRequiredIsMalformed() {
        var reader = ByteReader([0xFF, 0xFF])
        assertWireError(.malformed) { try reader.readString() }
    }

    func testStringLongerThanInputIsTruncated() {
        var reader = ByteReader([0x00, 0x05, 0x61, 0x62])
        assertWireError(.truncated) { try reader.readString() }
    }

    func testInvalidUTF8IsMalformed() {
        let invalid: [[UInt8]] = [
            [0xFF], [0xC3, 0x28], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0x80],
            [0x61, 0xE2, 0x82],
        ]
        for bytes in invalid {
            var reader = ByteReader([0, UInt8(bytes.count)] + bytes)
            assertWireError(.malformed, "\(bytes)") { try reader.readString() }
            var nullable = ByteReader([0, UInt8(bytes.count)] + bytes)
            assertWireError(.malformed, "\(bytes)") { try nullable.readNullableString() }
        }
    }

    func testLongestStr16() throws {
        let text = String(repeating: "a", count: 0xFFFE)
        var w = ByteWriter()
        w.writeString(text)
        var reader = ByteReader(w.bytes)
        XCTAssertEqual(try reader.readString(), text)
    }

    func testNullableBytes() throws {
        var reader = ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 2, 7, 8])
        XCTAssertNil(try reader.readNullableBytes())
        XCTAssertEqual(try reader.readNullableBytes(), [])
        XCTAssertEqual(try reader.readNullableBytes(), [7, 8])
        var negative = ByteReader([0xFF, 0xFF, 0xFF, 0xFE])
        assertWireError(.malformed) { try negative.readNullableBytes() }
        var long = ByteReader([0x7F, 0xFF, 0xFF, 0xFF, 1])
        assertWireError(.truncated) { try long.readNullableBytes() }
    }

    func testBytesSkipAndRange() throws {
        var reader = ByteReader([1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try reader.readBytes(count: 0), [])
        XCTAssertEqual(try reader.readBytes(count: 2), [1, 2])
        try reader.skip(1)
        XCTAssertEqual(try reader.readRange(count: 2), 3..<5)
        assertWireError(.truncated) { try reader.readBytes(count: 2) }
        assertWireError(.truncated) { try reader.skip(2) }
        assertWireError(.truncated) { try reader.readRange(count: 2) }
        assertWireError(.malformed) { try reader.readBytes(count: -1) }
        assertWireError(.malformed) { try reader.skip(-1) }
        assertWireError(.malformed) { try reader.readRange(count: -1) }
        XCTAssertEqual(reader.position, 5)
        XCTAssertEqual(try reader.readUInt8(), 6)
    }

    func testArrays() throws {
        var w = ByteWriter()
        w.writeArray([Int32(1), -1, Int32.max]) { $0.write($1) }
        w.writeArray([String]()) { $0.writeString($1) }
        var reader = ByteReader(w.bytes)
        XCTAssertEqual(try reader.readArray(minElementSize: 4) { try $0.readInt32() }, [1, -1, Int32.max])
        XCTAssertEqual(try reader.readArray(minElementSize: 2) { try $0.readString() }, [])
        XCTAssertTrue(reader.isAtEnd)
    }

    func testArrayCountThatCannotFitIsMalformed() {
        // 3 elements of at least 4 bytes cannot fit in 8 bytes.
        var reader = ByteReader([0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2])
        assertWireError(.malformed) { try reader.readArrayCount(minElementSize: 4) }
        var exact = ByteReader([0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2])
        XCTAssertEqual(try exact.readArrayCount(minElementSize: 4), 2)
        var huge = ByteReader([0xFF, 0xFF, 0xFF, 0xFF])
        assertWireError(.malformed) { try huge.readArray { try $0.readUInt8() } }
        var zeroSize = ByteReader([0, 0, 0, 1])
        assertWireError(.malformed, "minElementSize 0 counts as 1") { try zeroSize.readArrayCount(minElementSize: 0) }
    }

    func testHugeArrayCountFailsFast() {
        let start = ContinuousClock.now
        for _ in 0..<10_000 {
            var reader = ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
            assertWireError(.malformed) { try reader.readArray(minElementSize: 1) { try $0.readInt64() } }
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
    }

    func testBigEndianHelpers() {
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes.withUnsafeMutableBytes {
            BigEndian.store(UInt32(0x0A0B_0C0D), at: 1, in: $0)
            BigEndian.store(UInt64(0x0102_0304_0506_0708), at: 5, in: $0)
        }
        XCTAssertEqual(bytes, [0, 0x0A, 0x0B, 0x0C, 0x0D, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0])
        bytes.withUnsafeBytes {
            XCTAssertEqual(BigEndian.uint16(at: 1, in: $0), 0x0A0B)
            XCTAssertEqual(BigEndian.uint32(at: 1, in: $0), 0x0A0B_0C0D)
            XCTAssertEqual(BigEndian.uint64(at: 5, in: $0), 0x0102_0304_0506_0708)
        }
    }

    func testWireErrorDescription() {
        let error = WireError(.malformed, "x: bad")
        XCTAssertEqual(error.description, "malformed: x: bad")
        XCTAssertNotEqual(WireError.Code.truncated, .malformed)
        XCTAssertEqual(
            Set(
                [WireError.Code.truncated, .malformed, .checksumMismatch, .unsupportedVersion, .unsupportedCompression]
                    .map(\.description)
            ).count,
            5)
    }
}
