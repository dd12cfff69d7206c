import Synchronization
import TernWire

/// Hands out producer ids for InitProducerId from blocks the active controller allocates
/// (AllocateProducerIds, committed to the metadata log first), so an id is unique across the
/// cluster and never reused after a restart: a restarted broker asks for a new block and the
/// unused rest of its old one is simply skipped. A request arriving when the block is used up
/// waits for the next block; one allocation is in flight at a time.
final class ProducerIdManager: Sendable {
    typealias Allocate =
        @Sendable (@escaping @Sendable (Result<AllocateProducerIdsResponse, any Error>) -> Void) -> Void
    typealias Completion = @Sendable (Result<Int64, ProducerIdError>) -> Void

    private struct State {
        var next: Int64 = 0
        var end: Int64 = 0
        var allocating = false
        var waiters: [Completion] = []
    }

    private let state = Mutex(State())
    private let allocate: Allocate

    /// - Parameter allocate: asks the active controller for a block (``ClusterNode``).
    init(allocate: @escaping Allocate) {
        self.allocate = allocate
    }

    /// Completes with a fresh producer id, at once while the current block lasts; any thread.
    func nextId(_ completion: @escaping Completion) {
        let (id, start) = state.withLock { state -> (Int64?, Bool) in
            if state.next < state.end {
                defer { state.next += 1 }
                return (state.next, false)
            }
            state.waiters.append(completion)
            guard !state.allocating else { return (nil, false) }
            state.allocating = true
            return (nil, true)
        }
        if let id { return completion(.success(id)) }
        if start { requestBlock() }
    }

    private func requestBlock() {
        allocate { [self] result in
            let outcome: Result<(Int64, Int64), ProducerIdError>
            switch result {
            case .success(let response) where response.errorCode == .none && response.producerIdLength > 0:
                outcome = .success(
                    (response.producerIdStart, response.producerIdStart + Int64(response.producerIdLength)))
            case .success(let response):
                outcome = .failure(
                    ProducerIdError(
                        "the controller refused a block of producer ids: \(response.errorCode): "
                            + "\(response.errorMessage ?? "")"))
            case .failure(let error):
                outcome = .failure(ProducerIdError("no block of producer ids from the controller: \(error)"))
            }
            var served: [(Completion, Result<Int64, ProducerIdError>)] = []
            state.withLock { state in
                state.allocating = false
                switch outcome {
                case .success(let (start, end)):
                    state.next = start
                    state.end = end
                    while !state.waiters.isEmpty, state.next < state.end {
                        served.append((state.waiters.removeFirst(), .success(state.next)))
                        state.next += 1
                    }
                case .failure(let error):
                    // Every waiter fails (retriable): the producer asks again after its backoff.
                    served = state.waiters.map { ($0, .failure(error)) }
                    state.waiters = []
                }
            }
            for (completion, result) in served { completion(result) }
            // More waiters than a block holds (not with 1000 ids a block, but never strand one).
            let more = state.withLock { state -> Bool in
                guard !state.waiters.isEmpty, !state.allocating else { return false }
                state.allocating = true
                return true
            }
            if more { requestBlock() }
        }
    }
}

/// Why no producer id could be handed out (retriable: the controller may be moving).
struct ProducerIdError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
