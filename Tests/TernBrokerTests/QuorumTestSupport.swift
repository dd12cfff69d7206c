import Foundation
import TernRaft
import XCTest

@testable import TernBroker

/// A voter of an in-process test quorum: its id and, while it runs, its driver.
protocol QuorumTestVoter: AnyObject {
    var id: RaftNodeId { get }
    var driver: QuorumDriver? { get }
}

/// A test case that runs voters of a real quorum (loopback sockets, temporary files) in-process.
protocol QuorumTestCase: XCTestCase {
    /// The longest any wait for the quorum may take.
    var wait: TimeInterval { get }
}

extension QuorumTestCase {
    /// Polls `condition` every 10 ms until it holds or `timeout` (default ``wait``) passes.
    func waitUntil(
        _ what: String, timeout: TimeInterval? = nil, file: StaticString = #filePath, line: UInt = #line,
        _ condition: () -> Bool
    ) {
        let deadline = Date().addingTimeInterval(timeout ?? wait)
        while !condition() {
            guard Date() < deadline else { return XCTFail("timed out waiting for \(what)", file: file, line: line) }
            usleep(10_000)
        }
    }

    /// The one leader every running voter agrees on, once there is one.
    func agreedLeader<Voter: QuorumTestVoter>(_ running: [Voter]) -> Voter? {
        let statuses = running.compactMap { $0.driver?.status() }
        let leaders = statuses.filter { $0.role == .leader }
        guard leaders.count == 1, let leader = leaders.first else { return nil }
        guard statuses.allSatisfy({ $0.epoch == leader.epoch && $0.leaderId == leader.nodeId }) else { return nil }
        return running.first { $0.id == leader.nodeId }
    }

    /// Waits for ``agreedLeader(_:)``; nil (and a test failure) when none appears within ``wait``.
    func waitForLeader<Voter: QuorumTestVoter>(
        _ running: [Voter], file: StaticString = #filePath, line: UInt = #line
    ) -> Voter? {
        var leader: Voter?
        waitUntil("one agreed leader", file: file, line: line) {
            leader = agreedLeader(running)
            return leader != nil
        }
        return leader
    }
}
