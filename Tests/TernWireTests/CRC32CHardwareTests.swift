import TernTestSupport
import TernWire
import XCTest

/// The CRC32-instruction path and the portable path agree on every length and alignment.
final class CRC32CHardwareTests: XCTestCase {
    func testHardwareAndSoftwareAgree() {
        var generator = SeededGenerator(seed: 32)
        let data = generator.bytes(4096)
        data.withUnsafeBytes { raw in
            for start in 0..<9 {
                for length in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4000] where start + length <= raw.count {
                    let slice = UnsafeRawBufferPointer(rebasing: raw[start..<start + length])
                    XCTAssertEqual(
                        CRC32C.update(0, slice), CRC32C.softwareUpdate(0, slice), "start \(start) length \(length)")
                    XCTAssertEqual(CRC32C.update(0x1234_5678, slice), CRC32C.softwareUpdate(0x1234_5678, slice))
                }
            }
        }
        XCTAssertEqual(Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) }, 0xE306_9283)
        #if arch(x86_64)
        print("CRC32C.usesHardware = \(CRC32C.usesHardware)")
        #endif
    }
}
