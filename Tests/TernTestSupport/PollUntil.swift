import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Polls every `interval` µs until `condition` holds (a throw counts as not yet) or `seconds`
/// pass; then fails the test with `message` and `logs` (the brokers' logs, read only then) and
/// returns false. The bounded wait every cluster integration test repeats.
@discardableResult
public func pollUntil(
    _ seconds: Double, _ message: String, every interval: useconds_t = 100_000, logs: @autoclosure () -> String,
    file: StaticString = #filePath, line: UInt = #line, _ condition: () throws -> Bool
) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? condition()) == true { return true }
        usleep(interval)
    }
    XCTFail("\(message) within \(seconds) s\n\(logs())", file: file, line: line)
    return false
}

/// ``pollUntil(_:_:every:logs:file:line:_:)`` for an async `condition` (asking through the SDK).
/// (A separate name: an async overload would capture the synchronous calls made from async tests.)
@discardableResult
public func pollUntilAsync(
    _ seconds: Double, _ message: String, every interval: Duration = .milliseconds(200),
    logs: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line,
    _ condition: () async -> Bool
) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    XCTFail("\(message) within \(seconds) s\n\(logs())", file: file, line: line)
    return false
}
