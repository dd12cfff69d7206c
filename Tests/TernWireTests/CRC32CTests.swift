import TernTestSupport
import TernWire
import XCTest

final class CRC32CTests: XCTestCase {
    /// Bit-at-a-time CRC-32C, the definition the table-driven implementation must match.
    private func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    private func crc(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { CRC32C.checksum($0) } }

    func testKnownVectors() {
        XCTAssertEqual(crc(Array("123456789".utf8)), 0xE306_9283)
        // RFC 3720 (iSCSI) appendix B.4.
        XCTAssertEqual(crc([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(crc([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(crc((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(crc((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
        XCTAssertEqual(crc([]), 0)
        XCTAssertEqual(crc(Array("a".utf8)), 0xC1D0_4330)
    }

    func testMatchesBitwiseReferenceAtEveryLengthAndAlignment() {
        var rng = SeededGenerator(seed: 7)
        let data = rng.bytes(300)
        for start in 0..<9 {
            for length in 0...(data.count - start) where length < 70 || length % 37 == 0 {
                let slice = Array(data[start..<start + length])
                XCTAssertEqual(
                    CRC32C.checksum(data, range: start..<start + length), reference(slice),
                    "start \(start) length \(length)")
            }
        }
    }

    func testIncrementalUpdateEqualsOneShot() {
        var rng = SeededGenerator(seed: 8)
        let data = rng.bytes(100)
        let whole = crc(data)
        for split in 0...data.count {
            let first = data.withUnsafeBytes { CRC32C.update(0, UnsafeRawBufferPointer(rebasing: $0[..<split])) }
            let both = data.withUnsafeBytes { CRC32C.update(first, UnsafeRawBufferPointer(rebasing: $0[split...])) }
            XCTAssertEqual(both, whole, "split at \(split)")
        }
    }

    func testLargeInput() {
        var rng = SeededGenerator(seed: 9)
        let data = rng.bytes(1 << 20)
        XCTAssertEqual(crc(data), reference(data))
    }
}
