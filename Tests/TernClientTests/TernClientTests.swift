import Synchronization
import TernWire
import XCTest

@testable import TernClient

final class TernClientTests: XCTestCase {
    func testBootstrapsFromTheFirstReachableAddress() async throws {
        let broker = FakeBroker()
        var configuration = broker.configuration()
        configuration.bootstrap = ["fake-broker:1", "fake-broker:9092"]
        let client = try await TernClient(configuration: configuration)
        XCTAssertEqual(client.brokerVersion, "fake-1.0")
        XCTAssertEqual(client.metadata.current.brokers[1], BrokerAddress(host: "fake-broker", port: 9092))
        XCTAssertEqual(broker.requestCount(.apiVersions), 1)
        await client.close()
    }

    func testUnreachableBootstrapNamesEveryAddress() async {
        let broker = FakeBroker()
        var configuration = broker.configuration()
        configuration.bootstrap = ["fake-broker:1", "other:2"]
        let error = await assertThrowsTernError(.connectionFailed) { try await TernClient(configuration: configuration) }
        XCTAssertTrue(error?.message.contains("fake-broker:1") ?? false, error?.message ?? "")
        XCTAssertTrue(error?.message.contains("other:2") ?? false, error?.message ?? "")
    }

    func testBadBootstrapEntryIsAnInvalidArgument() async {
        var configuration = FakeBroker().configuration()
        configuration.bootstrap = ["nohost"]
        await assertThrowsTernError(.invalidArgument) { try await TernClient(configuration: configuration) }
    }

    func testBrokerWithoutARequiredApiIsRefused() async {
        let broker = FakeBroker()
        broker.state.withLock { $0.omitApis = [.fetch] }
        let error = await assertThrowsTernError(.broker) { try await TernClient(configuration: broker.configuration()) }
        XCTAssertTrue(error?.message.contains("Fetch") ?? false, error?.message ?? "")
    }

    func testRawSendDecodesTopLevelErrors() async throws {
        let broker = FakeBroker()
        let client = try await TernClient(configuration: broker.configuration())
        let metadata = try await client.send(MetadataRequest(topics: nil), to: 1)
        XCTAssertEqual(metadata.brokers.first?.nodeId, 1)
        await client.close()
        await assertThrowsTernError(.closed) { try await client.send(MetadataRequest(topics: nil), to: 1) }
    }
}
