import TernWire
import XCTest

/// Kafka's murmur2, checked against the vectors of Kafka's own `UtilsTest.testMurmur2`.
final class Murmur2Tests: XCTestCase {
    func testKafkaVectors() {
        let cases: [([UInt8], Int32)] = [
            (Array("21".utf8), -973_932_308),
            (Array("foobar".utf8), -790_332_482),
            (Array("a-little-bit-long-string".utf8), -985_981_536),
            (Array("a-little-bit-longer-string".utf8), -1_486_304_829),
            (Array("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8".utf8), -58_897_971),
            ([UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "c")], 479_470_107),
            // Every tail length (akka's Murmur2Spec, librdkafka's rdmurmur2.c, both against Kafka).
            (Array("1".utf8), -1_993_445_489), (Array("12".utf8), 126_087_238), (Array("123".utf8), -267_702_483),
            (Array("1234".utf8), -1_614_185_708), (Array("12345".utf8), -1_188_365_604),
            (Array("kafka".utf8), -798_503_068),
        ]
        for (key, expected) in cases {
            XCTAssertEqual(Murmur2.hash(key), expected, String(decoding: key, as: UTF8.self))
        }
    }

    func testEveryTailLengthAndHighBytes() {
        // Bytes >= 0x80 must be treated as unsigned (Java masks with 0xff); lengths 0...8 cover
        // every tail case. The empty-key value comes from a line-by-line transcription of Kafka's Utils.murmur2.
        let high: [UInt8] = [0x80, 0xFF, 0xFE, 0x81, 0x90, 0xAB, 0xCD, 0xEF]
        var seen = Set<Int32>()
        for length in 0...high.count {
            seen.insert(Murmur2.hash(high.prefix(length)))
        }
        XCTAssertEqual(seen.count, high.count + 1, "each prefix hashes differently")
        XCTAssertEqual(Murmur2.hash([UInt8]()), 275_646_681)
    }

    func testAcceptsAnyCollection() {
        let bytes = Array("foobar".utf8)
        XCTAssertEqual(Murmur2.hash(bytes[...]), -790_332_482)
        XCTAssertEqual(Murmur2.hash("foobar".utf8), -790_332_482)
        XCTAssertEqual(Murmur2.hash(([9, 9] + bytes)[2...]), -790_332_482)
    }

    func testPartitionMatchesKafkasDefaultPartitioner() {
        // Kafka: Utils.toPositive(Utils.murmur2(key)) % numPartitions.
        XCTAssertEqual(
            Murmur2.partition(forKey: Array("foobar".utf8), partitionCount: 10), (-790_332_482 & 0x7FFF_FFFF) % 10)
        XCTAssertEqual(Murmur2.partition(forKey: Array("21".utf8), partitionCount: 7), (-973_932_308 & 0x7FFF_FFFF) % 7)
        for n in 1...64 as ClosedRange<Int32> {
            for key in ["", "a", "key-1", "ünïcode"] {
                let p = Murmur2.partition(forKey: Array(key.utf8), partitionCount: n)
                XCTAssertTrue((0..<n).contains(p))
            }
        }
        XCTAssertEqual(Murmur2.partition(forKey: Array("abc".utf8), partitionCount: 1), 0)
    }
}
