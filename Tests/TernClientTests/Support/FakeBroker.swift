import Dispatch
import Synchronization
import TernNet
import TernWire

@testable import TernClient

/// An in-memory broker that speaks the native protocol through a fake transport, so the SDK's
/// bootstrap, admin, producer and consumer can be tested end to end without sockets.
final class FakeBroker: Sendable {
    struct Partition {
        /// Stored batches with their assigned base offsets.
        var batches: [(baseOffset: Int64, bytes: [UInt8])] = []
        var logStartOffset: Int64 = 0
        var nextOffset: Int64 = 0
    }

    struct Topic {
        var partitions: [Partition]
        var configs: [String: String]
    }

    struct State {
        var topics: [String: Topic] = [:]
        /// Errors to answer the next produce requests of a partition with, in order.
        var produceErrors: [TopicPartition: [ErrorCode]] = [:]
        var requestsByApi: [ApiKey: Int] = [:]
        /// The next id InitProducerId hands out.
        var nextProducerId: Int64 = 1000
        var produceRequests: [ProduceRequest] = []
        var connections = 0
        var omitApis: Set<ApiKey> = []
        /// When set, produce requests are not answered (to test timeouts).
        var swallowProduce = false
        /// The scripted consumer group (see FakeBroker+Groups).
        var group = FakeGroup()
    }

    let host = "fake-broker"
    let port: Int
    let nodeId: Int32 = 1
    let state = Mutex(State())
    private let queue = DispatchQueue(label: "fake-broker", target: .global())

    init(port: Int = 9092) {
        self.port = port
    }

    /// A transport factory that connects to this broker at `host:port` and refuses anything else.
    var transport: TransportFactory {
        TransportFactory { [self] address, _, _, onFrame, onClose in
            guard address.host == host, address.port == port else {
                throw NetError(.connectionRefused, "connect to \(address): Connection refused")
            }
            state.withLock { $0.connections += 1 }
            return FakeConnection(broker: self, onFrame: onFrame, onClose: onClose)
        }
    }

    /// A client configuration bootstrapping from this broker.
    func configuration(requestTimeout: Duration = .seconds(5)) -> ClientConfiguration {
        var configuration = ClientConfiguration(bootstrap: ["\(host):\(port)"], requestTimeout: requestTimeout)
        configuration.transport = transport
        return configuration
    }

    func createTopic(_ name: String, partitions: Int, configs: [String: String] = [:]) {
        state.withLock {
            $0.topics[name] = Topic(partitions: Array(repeating: Partition(), count: partitions), configs: configs)
        }
    }

    /// The records stored in a partition, decoded.
    func records(_ topic: String, _ partition: Int32) throws -> [Record] {
        let batches = state.withLock { $0.topics[topic]?.partitions[Int(partition)].batches ?? [] }
        var records: [Record] = []
        for batch in batches { try RecordBatchDecoder.decode(batch.bytes, into: &records) }
        return records
    }

    func requestCount(_ api: ApiKey) -> Int { state.withLock { $0.requestsByApi[api, default: 0] } }

    // MARK: Requests

    /// Handles one request frame payload (after the size prefix); returns the response frame, or
    /// nil for requests that get none.
    func handle(_ payload: [UInt8]) -> [UInt8]? {
        var reader = ByteReader(payload)
        guard let header = try? RequestHeader(from: &reader) else { return nil }
        state.withLock { $0.requestsByApi[header.apiKey, default: 0] += 1 }
        let id = header.correlationId
        do {
            switch header.apiKey {
            case .apiVersions:
                let omitted = state.withLock { $0.omitApis }
                let apis = ApiKey.supported.filter { !omitted.contains($0.key) }.map {
                    ApiVersionsResponse.Api(key: $0.key, minVersion: $0.minVersion, maxVersion: $0.maxVersion)
                }
                return Frame.response(ApiVersionsResponse(apis: apis, brokerVersion: "fake-1.0"), correlationId: id)
            case .metadata:
                return Frame.response(metadata(try MetadataRequest(from: &reader)), correlationId: id)
            case .createTopics:
                return Frame.response(createTopics(try CreateTopicsRequest(from: &reader)), correlationId: id)
            case .deleteTopics:
                return Frame.response(deleteTopics(try DeleteTopicsRequest(from: &reader)), correlationId: id)
            case .describeConfigs:
                return Frame.response(describeConfigs(try DescribeConfigsRequest(from: &reader)), correlationId: id)
            case .listOffsets:
                return Frame.response(
                    listOffsets(try ListOffsetsRequest(from: &reader, version: header.apiVersion)), correlationId: id)
            case .produce:
                let request = try ProduceRequest(from: &reader)
                let response = produce(request)
                if request.acks == 0 || state.withLock({ $0.swallowProduce }) { return nil }
                return Frame.response(response, correlationId: id)
            case .fetch:
                let request = try FetchRequest(from: &reader, version: header.apiVersion)
                return Frame.response(fetch(request), correlationId: id, version: header.apiVersion)
            case .findCoordinator, .consumerGroupHeartbeat, .offsetCommit, .offsetFetch:
                return try groupResponse(header, &reader)
            case .initProducerId:
                _ = try InitProducerIdRequest(from: &reader)
                let id = state.withLock { state -> Int64 in
                    defer { state.nextProducerId += 1 }
                    return state.nextProducerId
                }
                return Frame.response(InitProducerIdResponse(producerId: id, producerEpoch: 0), correlationId: header.correlationId)
            default:
                return Frame.errorResponse(correlationId: id, status: ResponseStatus(.unsupportedVersion, "unknown API"))
            }
        } catch {
            return Frame.errorResponse(correlationId: id, status: ResponseStatus(.invalidRequest, "\(error)"))
        }
    }

    /// Delivers `response` to `connection` asynchronously, as a network would.
    func deliver(_ response: [UInt8], to connection: FakeConnection, after delay: Duration = .zero) {
        queue.asyncAfter(deadline: .now() + delay.dispatchInterval) { connection.receive(response) }
    }

    private func metadata(_ request: MetadataRequest) -> MetadataResponse {
        state.withLock { state in
            let names = request.topics ?? state.topics.keys.sorted()
            let topics = names.map { name -> MetadataResponse.Topic in
                guard let topic = state.topics[name] else {
                    return MetadataResponse.Topic(errorCode: .unknownTopicOrPartition, name: name, partitions: [])
                }
                return MetadataResponse.Topic(
                    name: name,
                    partitions: topic.partitions.indices.map {
                        MetadataResponse.Partition(
                            partition: Int32($0), leader: nodeId, leaderEpoch: 0, replicas: [nodeId], isr: [nodeId])
                    })
            }
            return MetadataResponse(
                brokers: [.init(nodeId: nodeId, host: host, port: Int32(port))], clusterId: "fake", controllerId: nodeId,
                topics: topics)
        }
    }

    private func createTopics(_ request: CreateTopicsRequest) -> CreateTopicsResponse {
        state.withLock { state in
            CreateTopicsResponse(
                topics: request.topics.map { topic in
                    if state.topics[topic.name] != nil {
                        return TopicResult(
                            name: topic.name, errorCode: .topicAlreadyExists,
                            errorMessage: "Topic '\(topic.name)' already exists.")
                    }
                    if let bad = topic.configs.first(where: { $0.value.hasPrefix("-") }) {
                        return TopicResult(
                            name: topic.name, errorCode: .invalidConfig,
                            errorMessage: "\(bad.name)=\(bad.value): must not be negative")
                    }
                    let count = topic.numPartitions < 0 ? 1 : Int(topic.numPartitions)
                    state.topics[topic.name] = Topic(
                        partitions: Array(repeating: Partition(), count: count),
                        configs: Dictionary(topic.configs.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }))
                    return TopicResult(name: topic.name)
                })
        }
    }

    private func deleteTopics(_ request: DeleteTopicsRequest) -> DeleteTopicsResponse {
        state.withLock { state in
            DeleteTopicsResponse(
                topics: request.names.map { name in
                    guard state.topics.removeValue(forKey: name) != nil else {
                        return TopicResult(
                            name: name, errorCode: .unknownTopicOrPartition, errorMessage: "no topic '\(name)'")
                    }
                    return TopicResult(name: name)
                })
        }
    }

    private func describeConfigs(_ request: DescribeConfigsRequest) -> DescribeConfigsResponse {
        state.withLock { state in
            DescribeConfigsResponse(
                resources: request.resources.map { resource in
                    guard let topic = state.topics[resource.name] else {
                        return .init(
                            errorCode: .unknownTopicOrPartition, errorMessage: "no topic", type: resource.type,
                            name: resource.name, entries: [])
                    }
                    var entries = topic.configs.map { DescribeConfigsResponse.Entry(name: $0.key, value: $0.value, source: .topic) }
                    if topic.configs["cleanup.policy"] == nil {
                        entries.append(.init(name: "cleanup.policy", value: "delete", source: .defaultValue))
                    }
                    return .init(type: resource.type, name: resource.name, entries: entries)
                })
        }
    }

    private func listOffsets(_ request: ListOffsetsRequest) -> ListOffsetsResponse {
        state.withLock { state in
            ListOffsetsResponse(
                topics: request.topics.map { topic in
                    .init(
                        name: topic.name,
                        partitions: topic.partitions.map { query in
                            guard let log = state.topics[topic.name]?.partitions[safe: Int(query.partition)] else {
                                return .init(partition: query.partition, errorCode: .unknownTopicOrPartition)
                            }
                            switch query.timestamp {
                            case ListOffsetsRequest.earliest: return .init(partition: query.partition, offset: log.logStartOffset)
                            case ListOffsetsRequest.latest: return .init(partition: query.partition, offset: log.nextOffset)
                            default:
                                for batch in log.batches {
                                    guard let header = RecordBatchHeader(batch.bytes),
                                        header.maxTimestamp >= query.timestamp
                                    else { continue }
                                    return .init(partition: query.partition, timestamp: header.maxTimestamp, offset: batch.baseOffset)
                                }
                                return .init(partition: query.partition)
                            }
                        })
                })
        }
    }

    private func produce(_ request: ProduceRequest) -> ProduceResponse {
        state.withLock { state in
            state.produceRequests.append(request)
            return ProduceResponse(
                topics: request.topics.map { topic in
                    .init(
                        name: topic.name,
                        partitions: topic.partitions.map { partition in
                            let tp = TopicPartition(topic: topic.name, partition: partition.partition)
                            if var errors = state.produceErrors[tp], !errors.isEmpty {
                                let error = errors.removeFirst()
                                state.produceErrors[tp] = errors
                                return .init(partition: partition.partition, errorCode: error, errorMessage: "injected \(error)")
                            }
                            guard state.topics[topic.name]?.partitions[safe: Int(partition.partition)] != nil else {
                                return .init(partition: partition.partition, errorCode: .unknownTopicOrPartition)
                            }
                            let batches: [ValidatedBatch]
                            do {
                                batches = try partition.records.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
                            } catch let error as WireError {
                                return .init(
                                    partition: partition.partition, errorCode: ErrorCode(validationFailure: error),
                                    errorMessage: error.message)
                            } catch {
                                return .init(partition: partition.partition, errorCode: .invalidRecord)
                            }
                            let base = state.topics[topic.name]!.partitions[Int(partition.partition)].nextOffset
                            var next = base
                            for batch in batches {
                                var bytes = Array(partition.records[batch.position..<batch.position + batch.size])
                                bytes.withUnsafeMutableBytes {
                                    RecordBatchHeader.assign(baseOffset: next, partitionLeaderEpoch: 0, in: $0, at: 0)
                                }
                                state.topics[topic.name]!.partitions[Int(partition.partition)].batches.append((next, bytes))
                                next += Int64(batch.header.recordCount)
                            }
                            state.topics[topic.name]!.partitions[Int(partition.partition)].nextOffset = next
                            return .init(partition: partition.partition, baseOffset: base)
                        })
                })
        }
    }

    private func fetch(_ request: FetchRequest) -> FetchResponse {
        state.withLock { state in
            FetchResponse(
                topics: request.topics.map { topic in
                    .init(
                        name: topic.name,
                        partitions: topic.partitions.map { query in
                            guard let log = state.topics[topic.name]?.partitions[safe: Int(query.partition)] else {
                                return .init(partition: query.partition, errorCode: .unknownTopicOrPartition)
                            }
                            guard query.fetchOffset >= log.logStartOffset, query.fetchOffset <= log.nextOffset else {
                                return .init(
                                    partition: query.partition, errorCode: .offsetOutOfRange,
                                    highWatermark: log.nextOffset, logStartOffset: log.logStartOffset)
                            }
                            var bytes: [UInt8] = []
                            for batch in log.batches {
                                guard let header = RecordBatchHeader(batch.bytes), header.lastOffset >= query.fetchOffset
                                else { continue }
                                if !bytes.isEmpty, bytes.count + batch.bytes.count > Int(query.maxBytes) { break }
                                bytes += batch.bytes
                            }
                            return .init(
                                partition: query.partition, highWatermark: log.nextOffset,
                                logStartOffset: log.logStartOffset, records: bytes)
                        })
                })
        }
    }
}

/// One client connection to a ``FakeBroker``.
final class FakeConnection: FrameTransport {
    private struct State {
        var pending: [UInt8] = []
        var closed = false
    }

    private let broker: FakeBroker
    private let onFrame: @Sendable (UnsafeRawBufferPointer) -> Void
    private let onClose: @Sendable ((any Error)?) -> Void
    private let state = Mutex(State())

    init(
        broker: FakeBroker, onFrame: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
        onClose: @escaping @Sendable ((any Error)?) -> Void
    ) {
        self.broker = broker
        self.onFrame = onFrame
        self.onClose = onClose
    }

    func send(_ bytes: [UInt8]) { send([bytes]) }

    func send(_ chunks: [[UInt8]]) {
        let frames = state.withLock { state -> [[UInt8]] in
            guard !state.closed else { return [] }
            for chunk in chunks { state.pending += chunk }
            var frames: [[UInt8]] = []
            while state.pending.count >= 4 {
                let size = Int(state.pending.withUnsafeBytes { BigEndian.uint32(at: 0, in: $0) })
                guard state.pending.count >= 4 + size else { break }
                frames.append(Array(state.pending[4..<4 + size]))
                state.pending.removeFirst(4 + size)
            }
            return frames
        }
        var fetchDelay = Duration.zero
        for frame in frames {
            if frame.count >= 2, frame[0] == 0, frame[1] == UInt8(ApiKey.fetch.rawValue) { fetchDelay = .milliseconds(5) }
            if let response = broker.handle(frame) { broker.deliver(response, to: self, after: fetchDelay) }
        }
    }

    /// Hands a response frame (size prefix included) to the client.
    func receive(_ frame: [UInt8]) {
        guard !state.withLock({ $0.closed }) else { return }
        frame.withUnsafeBytes { onFrame(UnsafeRawBufferPointer(rebasing: $0[4...])) }
    }

    func close() {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if first { onClose(nil) }
    }

    /// Simulates the broker dropping the connection.
    func breakConnection() {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if first { onClose(NetError(.connectionReset, "connection reset by fake broker")) }
    }

    var isClosed: Bool { state.withLock { $0.closed } }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
