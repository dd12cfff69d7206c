import Testing
import TernWire

/// Zig-zag and LEB128 properties over edge values (Swift Testing, parameterized).
@Suite struct ZigZagPropertyTests {
    @Test(arguments: [Int32.min, Int32.min + 1, -65, -64, -1, 0, 1, 63, 64, Int32.max - 1, Int32.max])
    func varintRoundTripsAndHasTheComputedSize(_ value: Int32) throws {
        var writer = ByteWriter()
        writer.writeVarint(value)
        #expect(writer.count == ZigZag.varintSize(value))
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readVarint() == value)
        #expect(reader.isAtEnd)
    }

    @Test(arguments: [Int64.min, -1, 0, 1, Int64(Int32.max) + 1, Int64.max])
    func varlongRoundTripsAndHasTheComputedSize(_ value: Int64) throws {
        var writer = ByteWriter()
        writer.writeVarlong(value)
        #expect(writer.count == ZigZag.varlongSize(value))
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readVarlong() == value)
    }

    @Test func smallMagnitudesGetSmallEncodings() {
        #expect(ZigZag.encode32(0) == 0)
        #expect(ZigZag.encode32(-1) == 1)
        #expect(ZigZag.encode32(1) == 2)
        #expect(ZigZag.encode64(-2) == 3)
    }
}
