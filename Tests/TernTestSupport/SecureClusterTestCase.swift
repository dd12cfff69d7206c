import Foundation
import XCTest

/// The fixture of a test case that starts a secure cluster (``startSecureClusterNodes(directory:scheme:settings:plainListener:count:)``):
/// a temporary directory and test certificates made before each test, the nodes and their
/// processes, stopped and removed after it, and a bounded wait that fails with every node's log.
open class SecureClusterTestCase: XCTestCase {
    public var directory: TemporaryDirectory!
    public var certificates: TestCertificates!
    public var nodes: [SecureClusterNode] = []
    public var processes: [BrokerProcess] = []

    /// The label of the test's temporary directory.
    open var directoryLabel: String { "tern-secure-cluster" }

    override open func setUpWithError() throws {
        try super.setUpWithError()
        directory = TemporaryDirectory(directoryLabel)
        certificates = try TestCertificates()
    }

    override open func tearDown() {
        for process in processes { process.stop() }
        processes = []
        certificates?.directory.remove()
        directory?.remove()
        super.tearDown()
    }

    /// Every node's log, each under a `--- node N` line.
    public var logs: String {
        processes.enumerated().map { "--- node \($0.offset + 1)\n\($0.element.log)" }.joined()
    }

    /// Waits up to `seconds` for `condition`, checking every 100 ms; fails with the nodes' logs.
    public func waitUntil(
        _ seconds: Double, _ message: String, file: StaticString = #filePath, line: UInt = #line,
        _ condition: () async -> Bool
    ) async {
        await pollUntilAsync(seconds, message, every: .milliseconds(100), logs: logs, file: file, line: line, condition)
    }
}
