import Dispatch
import Logging
import Synchronization
import TernRaft
import TernWire

/// The broker settings the controller's topic decisions need: what a request leaves to the
/// broker (`num.partitions`, `default.replication.factor`) and the cluster's partition budget
/// (`max.partitions`).
struct ControllerTopicDefaults: Sendable {
    var numPartitions: Int32 = 1
    var replicationFactor: Int16 = 1
    var maxPartitions: Int = 100_000
    /// `offsets.topic.replication.factor`: `__consumer_offsets` gets this many replicas, or as
    /// many as there are live brokers when fewer, and is widened as brokers join.
    var offsetsTopicReplicationFactor: Int16 = 3
}

/// Collects the answers of several proposals made for one request and calls `done` once, with
/// the highest committed offset, when the last one arrives.
final class ProposalGather<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item?]
        var waiting: Int
        var offset: Int64 = -1
    }
    private let state: Mutex<State>
    private let done: @Sendable ([Item], Int64) -> Void

    /// `items` are the answers known at once (nil: waiting for a proposal); call
    /// ``finish(_:_:offset:)`` once per nil, then ``start()``.
    init(_ items: [Item?], done: @escaping @Sendable ([Item], Int64) -> Void) {
        state = Mutex(State(items: items, waiting: items.filter { $0 == nil }.count + 1))
        self.done = done
    }

    func finish(_ index: Int, _ item: Item, offset: Int64) {
        complete { state in
            state.items[index] = item
            state.offset = max(state.offset, offset)
        }
    }

    /// Called once every proposal has been handed to the quorum: the request is answered when
    /// the last of them (or this) completes.
    func start() { complete { _ in } }

    private func complete(_ change: (inout State) -> Void) {
        let finished = state.withLock { state -> ([Item], Int64)? in
            change(&state)
            state.waiting -= 1
            guard state.waiting == 0 else { return nil }
            return (state.items.compactMap { $0 }, state.offset)
        }
        if let (items, offset) = finished { done(items, offset) }
    }
}

extension ActiveController {
    /// A proposal's failure as a client sees it: REQUEST_TIMED_OUT when the quorum did not commit
    /// in time, NOT_CONTROLLER when leadership moved or the quorum is gone; the message names the
    /// lost metadata quorum.
    static func quorumFailure(_ error: QuorumError) -> (ErrorCode, String) {
        (error.code == .timedOut ? .requestTimedOut : .notController, "no metadata quorum: \(error)")
    }

    /// The proposal timeout for a request that allows `timeoutMs` (at most the controller's own).
    func timeout(forRequestMs timeoutMs: Int32) -> Duration {
        timeoutMs > 0 ? min(.milliseconds(Int64(timeoutMs)), proposalTimeout) : proposalTimeout
    }

    /// CreateTopics on the queue: each topic decided against the working image
    /// (``ControllerDecisions/createTopic(_:name:partitions:replicationFactor:configs:internalTopic:using:)``)
    /// and proposed as its own entry, so one refused topic does not fail the others; answered
    /// once every proposal is committed or failed. `internalTopics`: the forwarding broker's own
    /// request, which may create `__consumer_offsets`.
    func createTopics(
        _ request: CreateTopicsRequest, internalTopics: Bool,
        reply: @escaping @Sendable (CreateTopicsResponse, Int64) -> Void
    ) {
        dispatchPrecondition(condition: .onQueue(queue))
        var known: [TopicResult?] = []
        var proposals: [(index: Int, records: [MetadataRecord])] = []
        for topic in request.topics {
            switch decideCreate(topic, internalTopic: internalTopics) {
            case .failure(let error):
                known.append(TopicResult(name: topic.name, errorCode: error.code, errorMessage: error.message))
            case .success where request.validateOnly:
                known.append(TopicResult(name: topic.name))
            case .success(let records):
                // Into the working image now, so the next topic of this request sees it.
                proposals.append((known.count, records))
                known.append(nil)
            }
        }
        proposeTopics(
            proposals, known: known, names: request.topics.map(\.name), timeoutMs: request.timeoutMs,
            change: ("creation", "created topic")
        ) { reply(CreateTopicsResponse(topics: $0), $1) }
    }

    /// ``proposeEach(_:known:timeout:what:committed:failed:done:)`` for a request answered topic
    /// by topic (`names[i]` is the topic of item `i`): each committed topic is logged as
    /// `change.done`, each proposal is named "<change.what> of topic <name>".
    private func proposeTopics(
        _ proposals: [(index: Int, records: [MetadataRecord])], known: [TopicResult?], names: [String],
        timeoutMs: Int32, change: (what: String, done: Logger.Message),
        done: @escaping @Sendable ([TopicResult], Int64) -> Void
    ) {
        let logged = change.done
        proposeEach(
            proposals, known: known, timeout: timeout(forRequestMs: timeoutMs),
            what: { "\(change.what) of topic \(names[$0])" },
            committed: { index in
                self.logger.info(logged, metadata: ["tern_topic": "\(names[index])"])
                return TopicResult(name: names[index])
            },
            failed: { TopicResult(name: names[$0], errorCode: $1, errorMessage: $2) }, done: done)
    }

    private func decideCreate(
        _ topic: CreateTopicsRequest.Topic, internalTopic: Bool
    ) -> Result<[MetadataRecord], ControllerError> {
        var configs: [String: String] = [:]
        for entry in topic.configs {
            guard configs[entry.name] == nil else {
                return .failure(ControllerError(.invalidConfig, "config \(entry.name) given twice"))
            }
            configs[entry.name] = entry.value.trimmingWhitespace()
        }
        let partitions = topic.numPartitions == -1 ? topicDefaults.numPartitions : topic.numPartitions
        var factor = topic.replicationFactor == -1 ? topicDefaults.replicationFactor : topic.replicationFactor
        return state.withLock { state in
            if internalTopic, topic.name == ControllerDecisions.offsetsTopicName, topic.replicationFactor == -1 {
                // As many replicas as live brokers, up to the setting; widened later as more join.
                let live = Int16(clamping: state.working.unfencedBrokerIds.count)
                factor = max(1, min(topicDefaults.offsetsTopicReplicationFactor, live))
            }
            guard state.activeEpoch != nil else {
                return .failure(
                    ControllerError(.notController, "no metadata quorum: node \(nodeId) is not the active controller"))
            }
            let existing = state.working.sortedTopics.reduce(0) { $0 + $1.partitions.count }
            if partitions > 0, existing + Int(partitions) > topicDefaults.maxPartitions,
                TopicInfo.validateNew(name: topic.name, partitions: partitions, by: internalTopic ? .broker : .client)
                    == nil,
                state.working.topic(named: topic.name) == nil
            {
                return .failure(
                    ControllerError(
                        .invalidPartitions,
                        "creating '\(topic.name)' with \(partitions) partitions would take the cluster to "
                            + "\(existing + Int(partitions)) partitions, over max.partitions=\(topicDefaults.maxPartitions) "
                            + "(\(existing) exist)"))
            }
            var generator = SystemRandomNumberGenerator()
            do throws(ControllerError) {
                let records = try ControllerDecisions.createTopic(
                    state.working, name: topic.name, partitions: partitions, replicationFactor: factor,
                    configs: configs, internalTopic: internalTopic, using: &generator)
                return .success(records)
            } catch {
                return .failure(error)
            }
        }
    }

    /// DeleteTopics on the queue: each topic removed by its own entry; internal topics refused.
    func deleteTopics(_ request: DeleteTopicsRequest, reply: @escaping @Sendable (DeleteTopicsResponse, Int64) -> Void)
    {
        dispatchPrecondition(condition: .onQueue(queue))
        var known: [TopicResult?] = []
        var proposals: [(index: Int, records: [MetadataRecord])] = []
        for name in request.names {
            let decision = state.withLock { state -> Result<[MetadataRecord], ControllerError> in
                if TopicInfo.internalTopicNames.contains(name) || name.hasPrefix("__"),
                    state.working.topic(named: name) != nil
                {
                    return .failure(ControllerError(.invalidTopic, "internal topic '\(name)' cannot be deleted"))
                }
                do throws(ControllerError) {
                    return .success(try ControllerDecisions.deleteTopic(state.working, name: name))
                } catch {
                    return .failure(error)
                }
            }
            switch decision {
            case .failure(let error):
                known.append(TopicResult(name: name, errorCode: error.code, errorMessage: error.message))
            case .success(let records):
                proposals.append((known.count, records))
                known.append(nil)
            }
        }
        proposeTopics(
            proposals, known: known, names: request.names, timeoutMs: request.timeoutMs,
            change: ("deletion", "deleted topic")
        ) { reply(DeleteTopicsResponse(topics: $0), $1) }
    }

    /// AlterConfigs on the queue: a topic's listed keys set (or, with a null value, removed) by
    /// ``ControllerDecisions/alterTopicConfigs(_:name:set:remove:)``; broker configs are static.
    func alterConfigs(_ request: AlterConfigsRequest, reply: @escaping @Sendable (AlterConfigsResponse, Int64) -> Void)
    {
        dispatchPrecondition(condition: .onQueue(queue))
        typealias Result = AlterConfigsResponse.Resource
        var known: [Result?] = []
        var proposals: [(index: Int, records: [MetadataRecord])] = []
        for resource in request.resources {
            func refuse(_ code: ErrorCode, _ message: String) -> Result {
                Result(errorCode: code, errorMessage: message, type: resource.type, name: resource.name)
            }
            guard resource.type == .topic else {
                known.append(refuse(.invalidRequest, "only topic configs can be altered; broker configs are static"))
                continue
            }
            var set: [String: String] = [:]
            var remove: Set<String> = []
            var refused: Result?
            for entry in resource.entries {
                if let value = entry.value {
                    set[entry.name] = value.trimmingWhitespace()
                    remove.remove(entry.name)
                } else {
                    guard TopicConfigKeys.key(entry.name) != nil else {
                        refused = refuse(.invalidConfig, "unknown topic config '\(entry.name)'")
                        break
                    }
                    set[entry.name] = nil
                    remove.insert(entry.name)
                }
            }
            if let refused {
                known.append(refused)
                continue
            }
            let decision = state.withLock { state -> Swift.Result<[MetadataRecord], ControllerError> in
                do throws(ControllerError) {
                    guard let topic = state.working.topic(named: resource.name) else {
                        throw ControllerError(.unknownTopicOrPartition, "topic '\(resource.name)' does not exist")
                    }
                    // The topic's overrides after the change must pass as a whole, as at creation.
                    var after = topic.configs
                    for key in remove { after[key] = nil }
                    after.merge(set) { $1 }
                    if let reason = TopicInfo.validateConfigs(after) { throw ControllerError(.invalidConfig, reason) }
                    return .success(
                        try ControllerDecisions.alterTopicConfigs(
                            state.working, name: resource.name, set: set, remove: remove))
                } catch {
                    return .failure(error)
                }
            }
            switch decision {
            case .failure(let error): known.append(refuse(error.code, error.message))
            case .success(let records) where records.isEmpty || request.validateOnly:
                known.append(Result(type: .topic, name: resource.name))
            case .success(let records):
                proposals.append((known.count, records))
                known.append(nil)
            }
        }
        let names = request.resources.map(\.name)
        proposeEach(
            proposals, known: known, what: { "configs of topic \(names[$0])" },
            committed: { index in
                self.logger.info("altered topic configs", metadata: ["tern_topic": "\(names[index])"])
                return Result(type: .topic, name: names[index])
            },
            failed: { Result(errorCode: $1, errorMessage: $2, type: .topic, name: names[$0]) }
        ) { reply(AlterConfigsResponse(resources: $0), $1) }
    }

    /// The upgrade of a single-node data directory, on the queue: the topics of its
    /// `__tern_topics.json` not yet in the image are proposed (one entry per topic, keeping their
    /// ids; ``TopicStoreImport/records(topics:nodeId:)``) with `nodeId` as their only replica.
    /// A topic already in the image with the same id was imported before (a crash between the
    /// commit and the file's rename) and is skipped. Completes with the last committed offset
    /// (-1 when nothing was proposed) or why the import cannot happen.
    func importTopics(
        _ topics: [TopicInfo], nodeId: Int32,
        completion: @escaping @Sendable (Swift.Result<Int64, ControllerError>) -> Void
    ) {
        dispatchPrecondition(condition: .onQueue(queue))
        let decision = decide { image throws(ControllerError) in
            var entries: [[MetadataRecord]] = []
            for topic in topics.sorted(by: { $0.name < $1.name }) {
                let id = TopicStoreImport.topicId(topic.id)
                if let present = image.topic(named: topic.name) {
                    guard present.id == id else {
                        throw ControllerError(
                            .topicAlreadyExists,
                            "topic \(topic.name) of __tern_topics.json (id \(topic.id)) exists in the cluster "
                                + "with another id \(present.id)")
                    }
                    continue
                }
                do throws(TopicStoreImportError) {
                    entries.append(try TopicStoreImport.records(topics: [topic], nodeId: nodeId))
                } catch {
                    throw ControllerError(.invalidRequest, error.description)
                }
            }
            return entries
        }
        let entries: [[MetadataRecord]]
        switch decision {
        case .failure(let error): return completion(.failure(error))
        case .success(let found): entries = found
        }
        proposeEach(
            entries.enumerated().map { (index: $0, records: $1) }, known: [Bool?](repeating: nil, count: entries.count),
            what: { "import of topic \($0)" }, committed: { _ in true }, failed: { _, _, _ in false }
        ) { results, offset in
            if results.allSatisfy({ $0 }) {
                completion(.success(offset))
            } else {
                completion(.failure(ControllerError(.notController, "no metadata quorum: the import did not commit")))
            }
        }
    }
}
