import Synchronization
import TernWire
import XCTest

@testable import TernClient

/// Collects the results of fire-and-forget sends.
final class ResultCollector: Sendable {
    private let results = Mutex<[Result<RecordMetadata, TernError>]>([])

    var completion: @Sendable (Result<RecordMetadata, TernError>) -> Void {
        { result in self.results.withLock { $0.append(result) } }
    }

    var all: [Result<RecordMetadata, TernError>] { results.withLock { $0 } }

    var successes: [RecordMetadata] {
        all.compactMap { if case .success(let metadata) = $0 { return metadata } else { return nil } }
    }

    var failures: [TernError] {
        all.compactMap { if case .failure(let error) = $0 { return error } else { return nil } }
    }
}

/// Metadata with one topic whose partitions are all led by node 1.
func testMetadata(topic: String = "t", partitions: Int, leader: Int32 = 1) -> ClusterMetadata {
    var metadata = ClusterMetadata()
    metadata.brokers[1] = BrokerAddress(host: "b1", port: 9092)
    metadata.topics[topic] = ClusterMetadata.Topic(
        name: topic, errorCode: .none, isInternal: false,
        partitions: (0..<partitions).map {
            ClusterMetadata.Partition(
                partition: Int32($0), errorCode: .none, leader: leader, leaderEpoch: 0, replicas: [leader], isr: [leader])
        })
    return metadata
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func string(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
func string(_ bytes: ArraySlice<UInt8>?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

/// Asserts that `body` throws a ``TernError`` with `code`, and returns it.
@discardableResult
func assertThrowsTernError<T>(
    _ code: TernError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
) async -> TernError? {
    do {
        _ = try await body()
        XCTFail("expected a \(code) error", file: file, line: line)
    } catch let error as TernError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected TernError, got \(error)", file: file, line: line)
    }
    return nil
}
