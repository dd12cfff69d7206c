import TernTestSupport
import TernWire
import XCTest

final class ByteWriterTests: XCTestCase {
    func testWritesBigEndianIntegers() {
        var w = ByteWriter()
        w.write(UInt8(0xAB))
        w.write(Int8(-1))
        w.write(true)
        w.write(false)
        w.write(UInt16(0x0102))
        w.write(Int16(-2))
        w.write(UInt32(0x0102_0304))
        w.write(Int32(-2))
        w.write(UInt64(0x0102_0304_0506_0708))
        w.write(Int64.min)
        XCTAssertEqual(
            w.bytes,
            [
                0xAB, 0xFF, 1, 0, 1, 2, 0xFF, 0xFE, 1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFE, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0,
                0, 0, 0, 0, 0, 0,
            ])
        XCTAssertEqual(w.count, 32)
    }

    func testStringsAndBytes() {
        var w = ByteWriter()
        w.writeString("hé")
        w.writeNullableString(nil)
        w.writeNullableString("")
        w.writeNullableBytes(nil)
        w.writeNullableBytes([])
        w.writeNullableBytes([9])
        XCTAssertEqual(
            w.bytes,
            [0, 3, 0x68, 0xC3, 0xA9] + [0xFF, 0xFF] + [0, 0] + [0xFF, 0xFF, 0xFF, 0xFF] + [0, 0, 0, 0] + [
                0, 0, 0, 1, 9,
            ])
    }

    func testArrays() {
        var w = ByteWriter()
        w.writeArray([UInt16(1), 2]) { $0.write($1) }
        w.writeArray([UInt8]()) { $0.write($1) }
        XCTAssertEqual(w.bytes, [0, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 0])
    }

    func testRawBytes() {
        var w = ByteWriter()
        w.write(contentsOf: [1, 2] as [UInt8])
        w.write(contentsOf: [3, 4, 5][1...])
        [UInt8](arrayLiteral: 6, 7).withUnsafeBytes { w.write(contentsOf: $0) }
        XCTAssertEqual(w.bytes, [1, 2, 4, 5, 6, 7])
    }

    func testPatchAndTake() {
        var w = ByteWriter(capacity: 4)
        w.write(UInt32(0))
        w.write(UInt64(0))
        w.write(UInt8(0xEE))
        w.patch(UInt32(0xA1B2_C3D4), at: 0)
        w.patch(UInt64(0x1122_3344_5566_7788), at: 4)
        XCTAssertEqual(w.bytes, [0xA1, 0xB2, 0xC3, 0xD4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0xEE])
        let taken = w.take()
        XCTAssertEqual(taken.count, 13)
        XCTAssertEqual(w.count, 0)
        XCTAssertEqual(w.bytes, [])
        w.reserve(100)
        w.write(UInt8(1))
        XCTAssertEqual(w.bytes, [1])
    }

    func testWriterAndReaderAgreeOnRandomSequences() throws {
        var rng = SeededGenerator(seed: 0x5EED_0001)
        for _ in 0..<500 {
            enum Field: Equatable {
                case u8(UInt8), i16(Int16), u32(UInt32), i64(Int64), varint(Int32), varlong(Int64), str(String), nstr(
                    String?),
                    bytes([UInt8]?)
            }
            var fields: [Field] = []
            for _ in 0..<Int.random(in: 0...20, using: &rng) {
                switch Int.random(in: 0..<9, using: &rng) {
                case 0: fields.append(.u8(.random(in: .min ... .max, using: &rng)))
                case 1: fields.append(.i16(.random(in: .min ... .max, using: &rng)))
                case 2: fields.append(.u32(.random(in: .min ... .max, using: &rng)))
                case 3: fields.append(.i64(.random(in: .min ... .max, using: &rng)))
                case 4: fields.append(.varint(.random(in: .min ... .max, using: &rng)))
                case 5: fields.append(.varlong(.random(in: .min ... .max, using: &rng)))
                case 6: fields.append(.str(rng.asciiString(Int.random(in: 0...30, using: &rng))))
                case 7: fields.append(.nstr(Bool.random(using: &rng) ? nil : rng.asciiString(3)))
                default: fields.append(.bytes(Bool.random(using: &rng) ? nil : rng.bytes(lengths: 0...40)))
                }
            }
            var w = ByteWriter()
            for field in fields {
                switch field {
                case .u8(let v): w.write(v)
                case .i16(let v): w.write(v)
                case .u32(let v): w.write(v)
                case .i64(let v): w.write(v)
                case .varint(let v): w.writeVarint(v)
                case .varlong(let v): w.writeVarlong(v)
                case .str(let v): w.writeString(v)
                case .nstr(let v): w.writeNullableString(v)
                case .bytes(let v): w.writeNullableBytes(v)
                }
            }
            var r = ByteReader(w.bytes)
            var decoded: [Field] = []
            for field in fields {
                switch field {
                case .u8: decoded.append(.u8(try r.readUInt8()))
                case .i16: decoded.append(.i16(try r.readInt16()))
                case .u32: decoded.append(.u32(try r.readUInt32()))
                case .i64: decoded.append(.i64(try r.readInt64()))
                case .varint: decoded.append(.varint(try r.readVarint()))
                case .varlong: decoded.append(.varlong(try r.readVarlong()))
                case .str: decoded.append(.str(try r.readString()))
                case .nstr: decoded.append(.nstr(try r.readNullableString()))
                case .bytes: decoded.append(.bytes(try r.readNullableBytes()))
                }
            }
            XCTAssertEqual(decoded, fields)
            XCTAssertTrue(r.isAtEnd)
        }
    }
}
