import XCTest

@testable import TernNet

/// The per-key log limiter behind authorization denials and failing group writes, driven by an
/// explicit clock (no sleeps).
final class KeyedLogLimiterTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    /// A key failing every 100 ms gets its first line, then one line per interval saying how
    /// many were held back, and its end says how long and how often it occurred.
    func testFirstThenOneLinePerIntervalThenEnd() {
        let limiter = KeyedLogLimiter<Int32>(intervalNanoseconds: 10 * second)
        let start: UInt64 = 5 * second
        let tick = second / 10
        var lines: [(at: UInt64, KeyedLogLimiter<Int32>.Admitted)] = []
        for i in 0..<250 {
            let now = start + UInt64(i) * tick
            if let admitted = limiter.admit(7, now: now) { lines.append((now, admitted)) }
        }
        // 25 s of failures: lines at 0 s, 10 s and 20 s.
        XCTAssertEqual(lines.map(\.at), [start, start + 10 * second, start + 20 * second])
        XCTAssertEqual(lines[0].1, .init(first: true, suppressed: 0, occurrences: 1, since: start))
        XCTAssertEqual(lines[1].1, .init(first: false, suppressed: 99, occurrences: 101, since: start))
        XCTAssertEqual(lines[2].1, .init(first: false, suppressed: 99, occurrences: 201, since: start))
        // Recovery: 49 held back since the line at 20 s, 250 in all, over 25 s.
        let end = start + 25 * second
        XCTAssertEqual(limiter.end(7, now: end), .init(suppressed: 49, occurrences: 250, lasted: 25 * second))
        XCTAssertNil(limiter.end(7, now: end), "ended once")
        // The next failure starts a new episode at once.
        XCTAssertEqual(limiter.admit(7, now: end + 1)?.first, true)
    }

    /// Keys are independent: one failing key does not hold back another's first line.
    func testKeysAreIndependent() {
        let limiter = KeyedLogLimiter<String>(intervalNanoseconds: second)
        XCTAssertEqual(limiter.admit("a", now: 0)?.first, true)
        XCTAssertNil(limiter.admit("a", now: 1))
        XCTAssertEqual(limiter.admit("b", now: 2)?.first, true)
        XCTAssertNil(limiter.end("c", now: 3), "a key never seen has nothing to end")
        XCTAssertEqual(limiter.end("a", now: 4)?.suppressed, 1)
        XCTAssertNil(limiter.admit("b", now: 5))
    }

    /// The table is bounded: full of recent keys, a new key is admitted but not remembered;
    /// once the old keys are an interval old they are swept and new keys are remembered again.
    func testTableIsBounded() {
        let limiter = KeyedLogLimiter<Int>(intervalNanoseconds: second, maxKeys: 2)
        XCTAssertNotNil(limiter.admit(1, now: 0))
        XCTAssertNotNil(limiter.admit(2, now: 0))
        // Not remembered: every occurrence is a first one, and it has nothing to end.
        XCTAssertEqual(limiter.admit(3, now: 10)?.first, true)
        XCTAssertEqual(limiter.admit(3, now: 20)?.first, true)
        XCTAssertNil(limiter.end(3, now: 30))
        // A second later keys 1 and 2 are swept; 3 is remembered and held back.
        XCTAssertEqual(limiter.admit(3, now: second)?.first, true)
        XCTAssertNil(limiter.admit(3, now: second + 1))
        XCTAssertEqual(limiter.admit(1, now: second + 2)?.first, true, "key 1 was forgotten")
    }

    /// A `now` earlier than the key's last line (a stale clock reading) lets the line through
    /// rather than silencing the key.
    func testClockGoingBackLetsTheLineThrough() {
        let limiter = KeyedLogLimiter<Int>(intervalNanoseconds: second)
        XCTAssertNotNil(limiter.admit(1, now: 10 * second))
        XCTAssertEqual(limiter.admit(1, now: 9 * second)?.first, false)
        XCTAssertEqual(limiter.end(1, now: 8 * second)?.lasted, 0)
    }
}
