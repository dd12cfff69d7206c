import Synchronization
import TernStorage
import TernWire

/// Incremental fetch sessions (Fetch v1, as Kafka's KIP-227): the broker remembers the partitions
/// and fetch offsets of a consumer's session, so that each later request lists only what changed
/// and each response only partitions with records, an error, or a new high watermark or log start
/// offset. A consumer of many partitions, most of them idle, then sends and receives a few bytes
/// per fetch instead of its whole partition list twice.
///
/// At most `slots` sessions are kept; a new one evicts the least recently used (its owner gets
/// FETCH_SESSION_ID_NOT_FOUND on its next incremental request and starts over with a full one).
final class FetchSessionCache: Sendable {
    /// What a session knows of one partition.
    struct Entry: Sendable {
        var fetchOffset: Int64
        var maxBytes: Int32
        /// Fetch v2's leader epochs, as last sent by the client (-1: none).
        var currentLeaderEpoch: Int32 = -1
        var lastFetchedEpoch: Int32 = -1
        /// As last sent to the client; -2 before the first response, so it is always included.
        var highWatermark: Int64 = -2
        var logStartOffset: Int64 = -2
    }

    struct Session: Sendable {
        let id: Int32
        /// The epoch the next incremental request must carry.
        var nextEpoch: Int32 = 1
        /// Partitions in the order they joined the session (the order a full read walks).
        var order: [TopicPartition] = []
        var entries: [TopicPartition: Entry] = [:]
        var lastUsed: UInt64 = 0
    }

    /// How a request is served.
    struct Resolved: Sendable {
        /// The full request to read (every partition of the session).
        var request: FetchRequest
        /// The session id to answer with (0: none).
        var sessionId: Int32
        /// Whether the response lists only changed partitions.
        var incremental: Bool
    }

    private struct State: Sendable {
        var sessions: [Int32: Session] = [:]
        var nextId: Int32 = 1
        var clock: UInt64 = 0
    }

    let slots: Int
    private let state = Mutex(State())

    init(slots: Int) {
        self.slots = max(0, slots)
    }

    /// Number of live sessions.
    var count: Int { state.withLock { $0.sessions.count } }

    /// Applies a request to its session (creating, updating or closing it) and returns the full
    /// request to read, or the top-level error to answer.
    func resolve(_ request: FetchRequest) -> Result<Resolved, FetchSessionError> {
        let sessionless = Resolved(request: request, sessionId: 0, incremental: false)
        guard request.version >= 1 else { return .success(sessionless) }
        return state.withLock { state in
            state.clock += 1
            switch request.sessionEpoch {
            case FetchRequest.finalEpoch:
                if request.sessionId != 0 { state.sessions[request.sessionId] = nil }
                return .success(sessionless)
            case FetchRequest.initialEpoch:
                if request.sessionId != 0 { state.sessions[request.sessionId] = nil }
                guard slots > 0 else { return .success(sessionless) }
                if state.sessions.count >= slots,
                    let victim = state.sessions.values.min(by: { $0.lastUsed < $1.lastUsed })
                {
                    state.sessions[victim.id] = nil
                }
                var session = Session(id: Self.newId(&state))
                session.lastUsed = state.clock
                Self.apply(request, to: &session)
                state.sessions[session.id] = session
                return .success(Resolved(request: request, sessionId: session.id, incremental: false))
            case ..<FetchRequest.finalEpoch:
                return .failure(
                    FetchSessionError(.invalidFetchSessionEpoch, "fetch session epoch \(request.sessionEpoch) is not valid"))
            default:
                guard var session = state.sessions[request.sessionId] else {
                    return .failure(
                        FetchSessionError(
                            .fetchSessionIdNotFound, "fetch session \(request.sessionId) does not exist (evicted or never opened)"))
                }
                guard request.sessionEpoch == session.nextEpoch else {
                    return .failure(
                        FetchSessionError(
                            .invalidFetchSessionEpoch,
                            "fetch session \(session.id) expected epoch \(session.nextEpoch), got \(request.sessionEpoch)"))
                }
                session.nextEpoch = session.nextEpoch == Int32.max ? 1 : session.nextEpoch + 1
                session.lastUsed = state.clock
                Self.apply(request, to: &session)
                state.sessions[session.id] = session
                var full = request
                full.topics = Self.topics(of: session)
                full.forgottenTopics = []
                return .success(Resolved(request: full, sessionId: session.id, incremental: true))
            }
        }
    }

    /// Keeps what the client is told in step with the session and, for an incremental response,
    /// drops the partitions with nothing new.
    func filter(_ read: FetchRead, _ resolved: Resolved) -> FetchRead {
        guard resolved.sessionId != 0 else { return read }
        return state.withLock { state in
            guard var session = state.sessions[resolved.sessionId] else { return read }
            var out = read
            for t in out.topics.indices {
                let name = out.topics[t].name
                out.topics[t].partitions.removeAll { p in
                    let tp = TopicPartition(name, p.header.partition)
                    guard var entry = session.entries[tp] else { return resolved.incremental }
                    let changed =
                        p.byteCount > 0 || p.header.errorCode != .none || entry.highWatermark != p.header.highWatermark
                        || entry.logStartOffset != p.header.logStartOffset
                    entry.highWatermark = p.header.highWatermark
                    entry.logStartOffset = p.header.logStartOffset
                    session.entries[tp] = entry
                    return resolved.incremental && !changed
                }
            }
            out.topics.removeAll { $0.partitions.isEmpty && resolved.incremental }
            // Fairness under the response byte limit: partitions that just returned records go to
            // the back of the session's order, so the others come first next time.
            var served = Set<TopicPartition>()
            for topic in read.topics {
                for p in topic.partitions where p.byteCount > 0 { served.insert(TopicPartition(topic.name, p.header.partition)) }
            }
            if !served.isEmpty, served.count < session.order.count {
                session.order = session.order.filter { !served.contains($0) } + session.order.filter { served.contains($0) }
            }
            state.sessions[session.id] = session
            return out
        }
    }

    private static func newId(_ state: inout State) -> Int32 {
        repeat {
            let id = state.nextId
            state.nextId = state.nextId == Int32.max ? 1 : state.nextId + 1
            if state.sessions[id] == nil { return id }
        } while true
    }

    /// Adds or updates the request's partitions and removes its forgotten ones.
    private static func apply(_ request: FetchRequest, to session: inout Session) {
        for topic in request.forgottenTopics {
            for partition in topic.partitions {
                let tp = TopicPartition(topic.name, partition)
                if session.entries.removeValue(forKey: tp) != nil { session.order.removeAll { $0 == tp } }
            }
        }
        for topic in request.topics {
            for p in topic.partitions {
                let tp = TopicPartition(topic.name, p.partition)
                if var entry = session.entries[tp] {
                    entry.fetchOffset = p.fetchOffset
                    entry.maxBytes = p.maxBytes
                    entry.currentLeaderEpoch = p.currentLeaderEpoch
                    entry.lastFetchedEpoch = p.lastFetchedEpoch
                    session.entries[tp] = entry
                } else {
                    session.entries[tp] = Entry(
                        fetchOffset: p.fetchOffset, maxBytes: p.maxBytes, currentLeaderEpoch: p.currentLeaderEpoch,
                        lastFetchedEpoch: p.lastFetchedEpoch)
                    session.order.append(tp)
                }
            }
        }
    }

    /// Every partition of the session as request topics, in session order.
    private static func topics(of session: Session) -> [FetchRequest.Topic] {
        FetchRequest.Topic.grouped(
            session.order.lazy.compactMap { tp in
                session.entries[tp].map {
                    (
                        tp.topic,
                        FetchRequest.Partition(
                            partition: tp.partition, fetchOffset: $0.fetchOffset, maxBytes: $0.maxBytes,
                            currentLeaderEpoch: $0.currentLeaderEpoch, lastFetchedEpoch: $0.lastFetchedEpoch)
                    )
                }
            })
    }
}

/// A fetch-session failure, answered as the response's top-level error.
struct FetchSessionError: Error, Sendable {
    let code: ErrorCode
    let message: String
    init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}
