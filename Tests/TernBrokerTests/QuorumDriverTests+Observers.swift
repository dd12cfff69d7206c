import Foundation
import Synchronization
import TernRaft
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// Observers through the real I/O shell: a driver outside the voters, with no listener, gets its
/// fetch answers in the responses to its own requests; voters take nothing else from it.
extension QuorumDriverTests {
    /// An observer (node 9) of three voters: its driver's peers are every voter.
    func observerConfiguration(_ observer: Voter) -> QuorumConfiguration {
        var configuration = self.configuration(for: voters[0])
        configuration.nodeId = observer.id
        configuration.peers = Dictionary(
            uniqueKeysWithValues: voters.map { ($0.id, QuorumAddress(host: "127.0.0.1", port: $0.port)) })
        configuration.listenAddress = nil
        configuration.isObserver = true
        configuration.logDir = observer.directory.path
        return configuration
    }

    func testObserverAppliesTheCommittedLogAndIsListedByTheLeader() throws {
        makeVoters(3)
        for voter in voters { try start(voter) }
        let observer = Voter(id: 9, port: 0)
        defer {
            stop(observer)
            observer.directory.remove()
        }
        try start(observer, observerConfiguration(observer))
        let leader = try XCTUnwrap(waitForLeader(voters))
        guard case .success = propose(try XCTUnwrap(leader.driver), ["a", "b"]) else { return XCTFail("not committed") }
        waitUntil("the observer to apply both proposals") { observer.applied.payloads == ["a", "b"] }
        XCTAssertEqual(observer.applied.gaps.withLock { $0 }, [])
        let status = try XCTUnwrap(observer.driver?.status())
        XCTAssertTrue(status.isObserver)
        XCTAssertEqual(status.leaderId, leader.id)
        XCTAssertEqual(status.voters.map(\.id), [1, 2, 3])
        waitUntil("the leader listing observer 9 as caught up") {
            guard let s = leader.driver?.status() else { return false }
            return s.observers.map(\.id) == [9] && s.observers.first?.endOffset == s.logEndOffset
                && !s.voters.contains { $0.id == 9 }
        }
        // A proposal to the observer is refused, naming the leader.
        if case .failure(let error) = propose(try XCTUnwrap(observer.driver), ["c"]) {
            XCTAssertEqual(error.code, .notLeader)
            XCTAssertEqual(error.leaderHint, leader.id)
        } else {
            XCTFail("an observer accepted a proposal")
        }
    }

    /// On a voter's controller listener a node outside the voters may only fetch: its fetch is
    /// answered in the response (here "not leader", the voter leads nothing), anything else is
    /// refused as from an unknown voter, and none of it changes the voter's epoch.
    func testVoterAnswersAnObserversFetchInTheResponseAndRefusesItsOtherMessages() throws {
        makeVoters(3)
        let driver = try start(voters[0])
        let connection = try RawConnection(port: voters[0].port, timeout: 10)
        func send(_ message: RaftMessage, from: RaftNodeId = 9) throws -> [UInt8] {
            try connection.write(
                RaftEnvelope(clusterId: "test-cluster", from: from, message: message)
                    .encodeFrame(correlationId: 7, clientId: "observer"))
            return try XCTUnwrap(connection.readFrame())
        }

        var reader = ByteReader(try send(.fetch(FetchRequest(epoch: 5, fetchOffset: 0, lastFetchedEpoch: 0))))
        XCTAssertEqual(try Frame.readResponseHead(&reader).status.errorCode, ErrorCode.none)
        let key = ApiKey(rawValue: try reader.readUInt16("apiKey"))
        let answer = try RaftEnvelope(apiKey: key, version: RaftEnvelope.version, body: &reader)
        XCTAssertEqual(answer.from, 1)
        guard case .fetchResponse(let r) = answer.message else { return XCTFail("\(answer)") }
        XCTAssertEqual(r.failure, .notLeader)
        XCTAssertEqual(r.epoch, 0, "an observer's epoch 5 moved the voter's")

        for message: RaftMessage in [
            .vote(VoteRequest(epoch: 5, lastEpoch: 0, endOffset: 0, preVote: false)), .beginQuorumEpoch(epoch: 5),
            .fetchResponse(FetchResponse(epoch: 5, leaderId: 9, fetchOffset: 0, lastFetchedEpoch: 0)),
        ] {
            var refused = ByteReader(try send(message))
            XCTAssertEqual(try Frame.readResponseHead(&refused).status.errorCode, .inconsistentVoterSet, "\(message)")
            XCTAssertTrue(refused.isAtEnd)
        }
        let after = driver.status()
        XCTAssertEqual(after.epoch, 0)
        XCTAssertNil(after.leaderId)
        XCTAssertNil(after.votedFor)
    }
}
