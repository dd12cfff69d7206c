import Dispatch
import XCTest

@testable import TernNet

/// The token bucket behind rate-limited peer warnings, driven by an explicit clock.
final class LogRateLimiterTests: XCTestCase {
    func testBurstThenRateAndSuppressedCounts() {
        let limiter = LogRateLimiter(burst: 3, perSecond: 2)
        let start = DispatchTime.now().uptimeNanoseconds
        XCTAssertEqual((0..<3).map { _ in limiter.admit(now: start) }, [0, 0, 0])
        XCTAssertNil(limiter.admit(now: start))
        XCTAssertNil(limiter.admit(now: start + 100_000_000))
        // Half a second refills one token: the line says two were dropped before it.
        XCTAssertEqual(limiter.admit(now: start + 500_000_000), 2)
        XCTAssertNil(limiter.admit(now: start + 500_000_000))
        // A long quiet spell refills no more than the burst.
        let later = start + 3_600_000_000_000
        XCTAssertEqual((0..<4).map { _ in limiter.admit(now: later) }, [1, 0, 0, nil])
    }
}
