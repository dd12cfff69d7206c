import Foundation
import TernTestSupport
import TernWire
import XCTest

@testable import TernStorage

/// The chunked header walk that reads, recovery and truncation share, fed hostile files.
final class BatchScannerTests: XCTestCase {
    private func scan(_ bytes: [UInt8], verifyCRC: Bool) throws -> (
        entries: [Int64], stop: BatchScanner.Stop?, reads: Int
    ) {
        let directory = try ScratchDirectory()
        let path = directory.path + "/" + Segment.fileName(0, ".log")
        try DiskSurgery.write(bytes, to: path)
        let file = try SegmentFile(path: path, create: false)
        var scanner = BatchScanner(file: file, limit: Int64(bytes.count), from: 0, verifyCRC: verifyCRC)
        var entries: [Int64] = []
        while let entry = try scanner.next() { entries.append(entry.position) }
        return (entries, scanner.stop, scanner.bytesRead)
    }

    private func log(batches: Int, valueSize: Int) -> ([UInt8], [Int64]) {
        var bytes: [UInt8] = []
        var positions: [Int64] = []
        var offset: Int64 = 0
        for _ in 0..<batches {
            positions.append(Int64(bytes.count))
            bytes += makeBatch(count: 3, baseOffset: offset, valueSize: valueSize)
            offset += 3
        }
        return (bytes, positions)
    }

    func testWalksEveryBatchReadingInChunks() throws {
        let (bytes, positions) = log(batches: 200, valueSize: 50)
        for verify in [false, true] {
            let result = try scan(bytes, verifyCRC: verify)
            XCTAssertEqual(result.entries, positions)
            XCTAssertNil(result.stop)
            // Far fewer reads than headers: the file is read 16 KiB at a time.
            XCTAssertLessThanOrEqual(result.reads, bytes.count + BatchScanner.chunkSize)
        }
    }

    func testLargeBatchesAreReadWhole() throws {
        let (bytes, positions) = log(batches: 3, valueSize: 40_000)
        XCTAssertEqual(try scan(bytes, verifyCRC: true).entries, positions)
    }

    func testStopsAtHostileData() throws {
        let (good, positions) = log(batches: 5, valueSize: 20)
        let last = Int(positions[4])
        var hugeLength = good
        hugeLength.replaceSubrange((last + 8)..<(last + 12), with: [0x7F, 0xFF, 0xFF, 0xFF])
        var negative = good
        negative.replaceSubrange((last + 8)..<(last + 12), with: [0xFF, 0xFF, 0xFF, 0xF0])
        var badMagic = good
        badMagic[last + RecordBatchHeader.Offset.magic] = 7
        var badCRC = good
        badCRC[good.count - 1] ^= 1
        var negativeOffset = good
        negativeOffset.replaceSubrange(last..<(last + 8), with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        var overflowing = good
        overflowing.replaceSubrange(last..<(last + 8), with: [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        let cases: [(String, [UInt8], Bool)] = [
            ("batchLength 0x7FFFFFFF", hugeLength, false),
            ("negative batchLength", negative, false),
            ("magic 7", badMagic, false),
            ("CRC", badCRC, true),
            ("negative offset", negativeOffset, false),
            ("offset overflow", overflowing, false),
            ("torn header", Array(good[..<(last + 20)]), false),
            ("torn batch", Array(good[..<(good.count - 5)]), false),
            ("garbage", Array(good[..<last]) + DiskSurgery.garbage(500), true),
        ]
        for (name, bytes, verify) in cases {
            let result = try scan(bytes, verifyCRC: verify)
            XCTAssertEqual(result.entries, Array(positions[0..<4]), name)
            XCTAssertEqual(result.stop?.position, positions[4], name)
            XCTAssertFalse(result.stop?.reason.isEmpty ?? true, name)
        }
        let crc = try scan(badCRC, verifyCRC: false)
        XCTAssertEqual(crc.entries, positions, "without verifyCRC only framing is checked")
    }

    func testPureGarbageNeverTraps() throws {
        for seed in 0..<50 as Range<UInt64> {
            let bytes = DiskSurgery.garbage(Int(seed * 37 % 3000), seed: seed)
            let result = try scan(bytes, verifyCRC: seed % 2 == 0)
            XCTAssertTrue(result.entries.isEmpty || result.stop != nil || bytes.isEmpty)
        }
    }
}
