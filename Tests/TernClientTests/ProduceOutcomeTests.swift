import TernWire
import XCTest

@testable import TernClient

final class ProduceOutcomeTests: XCTestCase {
    let p0 = TopicPartition(topic: "t", partition: 0)
    let p1 = TopicPartition(topic: "t", partition: 1)
    let p2 = TopicPartition(topic: "t", partition: 2)

    func testMapsEachPartitionOfTheResponse() {
        let response = ProduceResponse(topics: [
            .init(
                name: "t",
                partitions: [
                    .init(partition: 0, baseOffset: 42),
                    .init(partition: 1, errorCode: .notLeaderOrFollower, errorMessage: "moved"),
                    .init(partition: 2, errorCode: .messageTooLarge, errorMessage: "batch of 2000000 bytes"),
                ])
        ])
        let outcomes = ProduceOutcome.map(.success(response), sent: [p0, p1, p2], peer: "broker 1")
        XCTAssertEqual(outcomes[p0], .delivered(baseOffset: 42))
        guard case .retriable(let retriable) = outcomes[p1] else { return XCTFail("\(String(describing: outcomes[p1]))") }
        XCTAssertEqual(retriable.brokerError, .notLeaderOrFollower)
        XCTAssertTrue(retriable.message.contains("t-1"), retriable.message)
        XCTAssertTrue(retriable.message.contains("NOT_LEADER_OR_FOLLOWER"), retriable.message)
        guard case .failed(let failed) = outcomes[p2] else { return XCTFail("\(String(describing: outcomes[p2]))") }
        XCTAssertEqual(failed.code, .broker)
        XCTAssertEqual(failed.brokerError, .messageTooLarge)
        XCTAssertTrue(failed.message.contains("batch of 2000000 bytes"), failed.message)
        XCTAssertTrue(failed.message.contains("broker 1"), failed.message)
    }

    func testAPartitionMissingFromTheResponseFails() {
        let response = ProduceResponse(topics: [.init(name: "t", partitions: [.init(partition: 0, baseOffset: 0)])])
        let outcomes = ProduceOutcome.map(.success(response), sent: [p0, p1], peer: "broker 1")
        guard case .failed(let error) = outcomes[p1] else { return XCTFail() }
        XCTAssertEqual(error.code, .protocolError)
    }

    func testARequestFailureAppliesToEveryPartition() {
        let down = TernError(.connectionFailed, "connection to broker 1 failed: reset")
        let outcomes = ProduceOutcome.map(.failure(down), sent: [p0, p1], peer: "broker 1")
        for tp in [p0, p1] {
            guard case .retriable(let error) = outcomes[tp] else { return XCTFail() }
            XCTAssertTrue(error.message.contains("\(tp)"))
        }
        let refused = TernError.broker(.unsupportedVersion, "no", context: "Produce request")
        guard case .failed = ProduceOutcome.map(.failure(refused), sent: [p0], peer: "b")[p0] else { return XCTFail() }
    }
}
