import XCTest

@testable import TernStorage

final class OffsetMapTests: XCTestCase {
    func testKeyHashIsMurmur3X64128() {
        // Reference values of MurmurHash3_x64_128 with seed 0 (h1, h2).
        let empty = KeyHash([])
        XCTAssertEqual(empty.high, 0)
        XCTAssertEqual(empty.low, 0)
        let hello = KeyHash(Array("hello".utf8))
        XCTAssertEqual(hello.high, 0xcbd8_a7b3_41bd_9b02)
        XCTAssertEqual(hello.low, 0x5b1e_906a_48ae_1d19)
        let fox = KeyHash(Array("The quick brown fox jumps over the lazy dog".utf8))
        XCTAssertEqual(fox.high, 0xe34b_bc7b_bc07_1b6c)
        XCTAssertEqual(fox.low, 0x7a43_3ca9_c49a_9347)
    }

    func testTheMapKeepsTheLatestOffsetAndRefusesNewKeysWhenFull() {
        let map = OffsetMap(bufferBytes: 10 * OffsetMap.slotSize)
        XCTAssertEqual(map.slots, 10)
        XCTAssertEqual(map.maxEntries, 9)
        XCTAssertEqual(map.memoryBytes, 240)
        for i in 0..<9 { XCTAssertTrue(map.put(KeyHash(Array("k\(i)".utf8)), offset: Int64(i))) }
        XCTAssertFalse(map.put(KeyHash(Array("new".utf8)), offset: 100), "full")
        XCTAssertEqual(map.get(KeyHash(Array("new".utf8))), -1)
        XCTAssertTrue(map.put(KeyHash(Array("k3".utf8)), offset: 50), "an existing key can still move")
        XCTAssertTrue(map.put(KeyHash(Array("k3".utf8)), offset: 20), "an older offset does not replace a newer one")
        XCTAssertEqual(map.get(KeyHash(Array("k3".utf8))), 50)
        XCTAssertEqual(map.get(KeyHash(Array("k0".utf8))), 0)
        map.clear()
        XCTAssertEqual(map.count, 0)
        XCTAssertEqual(map.get(KeyHash(Array("k3".utf8))), -1)
    }
}
