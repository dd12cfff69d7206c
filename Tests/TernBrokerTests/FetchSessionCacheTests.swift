import TernStorage
import TernWire
import XCTest

@testable import TernBroker

/// Fetch sessions (Fetch v1): what a session remembers, what an incremental request may leave out
/// and what an incremental response omits.
final class FetchSessionCacheTests: XCTestCase {
    private func partition(_ number: Int32, offset: Int64) -> FetchRequest.Partition {
        FetchRequest.Partition(partition: number, fetchOffset: offset, maxBytes: 1024)
    }

    private func request(
        _ partitions: [FetchRequest.Partition], sessionId: Int32, epoch: Int32, forgotten: [Int32] = []
    ) -> FetchRequest {
        FetchRequest(
            maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
            topics: partitions.isEmpty ? [] : [FetchRequest.Topic(name: "t", partitions: partitions)],
            sessionId: sessionId, sessionEpoch: epoch,
            forgottenTopics: forgotten.isEmpty ? [] : [FetchRequest.ForgottenTopic(name: "t", partitions: forgotten)])
    }

    /// A read of topic "t" where each partition has (bytes, high watermark).
    private func read(_ partitions: [(Int32, Int, Int64)]) -> FetchRead {
        FetchRead(
            topics: [
                FetchRead.Topic(
                    name: "t",
                    partitions: partitions.map { number, bytes, highWatermark in
                        FetchRead.Partition(
                            header: FetchResponse.Partition(partition: number, highWatermark: highWatermark, logStartOffset: 0),
                            slices: [], byteCount: bytes)
                    })
            ], byteCount: partitions.reduce(0) { $0 + $1.1 }, hasError: false)
    }

    private func numbers(_ read: FetchRead) -> [Int32] {
        read.topics.flatMap { $0.partitions.map(\.header.partition) }
    }

    func testIncrementalRequestsReadTheWholeSessionAndAnswerOnlyWhatChanged() throws {
        let cache = FetchSessionCache(slots: 10)
        let opened = try cache.resolve(
            request([partition(0, offset: 0), partition(1, offset: 0), partition(2, offset: 0)], sessionId: 0, epoch: 0)
        ).get()
        XCTAssertNotEqual(opened.sessionId, 0)
        XCTAssertFalse(opened.incremental)
        // The full response lists everything, and the session learns each high watermark.
        XCTAssertEqual(numbers(cache.filter(read([(0, 0, 5), (1, 0, 5), (2, 0, 5)]), opened)), [0, 1, 2])

        // Partition 1 moved on; the request names only it, the read still covers all three.
        let next = try cache.resolve(request([partition(1, offset: 5)], sessionId: opened.sessionId, epoch: 1)).get()
        XCTAssertTrue(next.incremental)
        XCTAssertEqual(next.request.topics.flatMap { $0.partitions }.count, 3)
        XCTAssertEqual(next.request.topics.flatMap { $0.partitions }.first { $0.partition == 1 }?.fetchOffset, 5)
        // Only partition 2 has records and partition 0 a new high watermark: 1 is left out.
        XCTAssertEqual(numbers(cache.filter(read([(0, 0, 6), (1, 0, 5), (2, 100, 5)]), next)), [0, 2])

        // Forgetting a partition removes it from the session.
        let third = try cache.resolve(request([], sessionId: opened.sessionId, epoch: 2, forgotten: [0])).get()
        XCTAssertEqual(Set(third.request.topics.flatMap { $0.partitions.map(\.partition) }), [1, 2])
    }

    func testPartitionsThatReturnedRecordsMoveToTheBackForFairness() throws {
        let cache = FetchSessionCache(slots: 10)
        let opened = try cache.resolve(
            request([partition(0, offset: 0), partition(1, offset: 0), partition(2, offset: 0)], sessionId: 0, epoch: 0)
        ).get()
        _ = cache.filter(read([(0, 500, 9), (1, 0, 0), (2, 0, 0)]), opened)
        let next = try cache.resolve(request([partition(0, offset: 9)], sessionId: opened.sessionId, epoch: 1)).get()
        XCTAssertEqual(next.request.topics.flatMap { $0.partitions.map(\.partition) }, [1, 2, 0])
    }

    func testUnknownSessionsAndWrongEpochsAreRefused() throws {
        let cache = FetchSessionCache(slots: 10)
        let opened = try cache.resolve(request([partition(0, offset: 0)], sessionId: 0, epoch: 0)).get()
        XCTAssertEqual(
            cache.resolve(request([], sessionId: opened.sessionId + 1000, epoch: 1)).failureCode, .fetchSessionIdNotFound)
        XCTAssertEqual(cache.resolve(request([], sessionId: opened.sessionId, epoch: 2)).failureCode, .invalidFetchSessionEpoch)
        XCTAssertEqual(cache.resolve(request([], sessionId: opened.sessionId, epoch: -7)).failureCode, .invalidFetchSessionEpoch)
        // A refused epoch does not advance the session: epoch 1 is still the next one.
        XCTAssertNil(cache.resolve(request([], sessionId: opened.sessionId, epoch: 1)).failureCode)
        // The final epoch closes the session and is served without one.
        let closed = try cache.resolve(request([partition(0, offset: 3)], sessionId: opened.sessionId, epoch: -1)).get()
        XCTAssertEqual(closed.sessionId, 0)
        XCTAssertEqual(cache.count, 0)
    }

    func testTheLeastRecentlyUsedSessionIsEvictedWhenTheCacheIsFull() throws {
        let cache = FetchSessionCache(slots: 2)
        let a = try cache.resolve(request([partition(0, offset: 0)], sessionId: 0, epoch: 0)).get()
        let b = try cache.resolve(request([partition(0, offset: 0)], sessionId: 0, epoch: 0)).get()
        _ = try cache.resolve(request([], sessionId: a.sessionId, epoch: 1)).get()  // a is now the more recent
        let c = try cache.resolve(request([partition(0, offset: 0)], sessionId: 0, epoch: 0)).get()
        XCTAssertEqual(cache.count, 2)
        XCTAssertEqual(cache.resolve(request([], sessionId: b.sessionId, epoch: 1)).failureCode, .fetchSessionIdNotFound)
        XCTAssertNil(cache.resolve(request([], sessionId: a.sessionId, epoch: 2)).failureCode)
        XCTAssertNil(cache.resolve(request([], sessionId: c.sessionId, epoch: 1)).failureCode)
    }

    func testVersionZeroAndZeroSlotsServeWithoutASession() throws {
        let none = FetchSessionCache(slots: 0)
        XCTAssertEqual(try none.resolve(request([partition(0, offset: 0)], sessionId: 0, epoch: 0)).get().sessionId, 0)
        let cache = FetchSessionCache(slots: 5)
        var v0 = request([partition(0, offset: 0)], sessionId: 0, epoch: 0)
        v0.version = 0
        XCTAssertEqual(try cache.resolve(v0).get().sessionId, 0)
        XCTAssertEqual(cache.count, 0)
    }
}

extension Result where Failure == FetchSessionError {
    fileprivate var failureCode: ErrorCode? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
}
