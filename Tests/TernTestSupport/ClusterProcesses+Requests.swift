import Foundation
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// What the cluster integration tests ask a running ``ClusterProcesses`` again and again: one
/// request to one node, its Metadata, a bounded wait that fails with every node's log, and the
/// wait for the cluster to form (every broker registered and unfenced, a controller elected).
extension ClusterProcesses {
    /// One request to `nodeId`'s client listener on a fresh connection; nil when the node does not
    /// answer within `timeout` or answers with a non-zero header error.
    public func send<R: WireRequest>(_ nodeId: Int32, _ request: R, timeout: TimeInterval = 20) -> R.Response? {
        guard let connection = try? RawConnection(port: node(nodeId).clientPort, timeout: timeout),
            let (status, response) = try? connection.roundTrip(request), status.errorCode == .none
        else { return nil }
        return response
    }

    /// `nodeId`'s Metadata answer for `topics` (nil: every topic); nil when it does not answer.
    public func metadata(_ nodeId: Int32, _ topics: [String]? = nil, timeout: TimeInterval = 5) -> MetadataResponse? {
        send(nodeId, MetadataRequest(topics: topics), timeout: timeout)
    }

    /// Polls every `interval` µs until `condition` holds (a throw counts as not yet) or `seconds`
    /// pass; then fails the test with `message` and every node's log.
    public func waitUntil(
        _ seconds: Double, _ message: String, every interval: useconds_t = 100_000, file: StaticString = #filePath,
        line: UInt = #line, _ condition: () throws -> Bool
    ) {
        pollUntil(seconds, message, every: interval, logs: logs, file: file, line: line, condition)
    }

    /// ``waitUntil(_:_:every:file:line:_:)`` for an async `condition` (asking through the SDK),
    /// polling every 200 ms. (A separate name: an async overload would capture the synchronous
    /// calls made from async tests.)
    public func waitUntilAsync(
        _ seconds: Double, _ message: String, file: StaticString = #filePath, line: UInt = #line,
        _ condition: () async -> Bool
    ) async {
        await pollUntilAsync(seconds, message, logs: logs, file: file, line: line, condition)
    }

    /// Waits until each of `askingNodes` reports `count` unfenced brokers and a controller (fails
    /// the test past `seconds` each); returns the controller the last one reported (-1 on failure).
    @discardableResult
    public func waitForBrokers(
        _ count: Int, askingNodes: [Int32], seconds: Double = 60, file: StaticString = #filePath, line: UInt = #line
    ) -> Int32 {
        var controller: Int32 = -1
        for nodeId in askingNodes {
            waitUntil(seconds, "node \(nodeId) sees \(count) unfenced brokers and a controller", file: file, line: line)
            {
                guard let answer = metadata(nodeId, []), answer.brokers.count == count, answer.controllerId >= 0 else {
                    return false
                }
                controller = answer.controllerId
                return true
            }
        }
        return controller
    }
}
