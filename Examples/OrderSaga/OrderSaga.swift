import Foundation
import TernClient

/// An order saga on Tern: order, payment and inventory services, each a consumer group on the
/// `orders` topic, react to an order's events with the next one, and compensate (refund the
/// payment, cancel the order) when a step fails.
///
///     order-saga [--bootstrap HOST:PORT] [--topic orders] run [order|payment|inventory ...]
///     order-saga [--bootstrap HOST:PORT] [--topic orders] place ORDER --amount N --quantity N
///     order-saga [--bootstrap HOST:PORT] [--topic orders] status ORDER
///
/// Each reaction is appended on condition that the event it answers is still the order's last
/// one. Consumer groups deliver at least once (a redelivery after a restart or a rebalance), and
/// the condition turns a second reaction to the same event into a no-op: every step happens once.
@main
struct OrderSaga {
    static let usage = """
        usage: order-saga [--bootstrap HOST:PORT] [--topic NAME] run [order|payment|inventory ...]
               order-saga [--bootstrap HOST:PORT] [--topic NAME] place ORDER --amount N --quantity N
               order-saga [--bootstrap HOST:PORT] [--topic NAME] status ORDER
        """

    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let bootstrap = option("--bootstrap", in: &arguments) ?? "127.0.0.1:9092"
        let topic = option("--topic", in: &arguments) ?? "orders"
        let amount = option("--amount", in: &arguments).flatMap { Int($0) }
        let quantity = option("--quantity", in: &arguments).flatMap { Int($0) }
        do {
            let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [bootstrap]))
            try await createTopicIfMissing(client, topic: topic)
            switch (arguments.first, arguments.count, amount, quantity) {
            case ("run", _, _, _):
                let names = arguments.count == 1 ? Service.allCases.map(\.rawValue) : Array(arguments.dropFirst())
                let services = try names.map { name in
                    guard let service = Service(rawValue: name) else { throw TernError(.invalidArgument, usage) }
                    return service
                }
                // Each service runs until Ctrl-C or SIGTERM, then leaves its group.
                let work = Task {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for service in services {
                            group.addTask { try await run(service, client: client, topic: topic) }
                        }
                        try await group.waitForAll()
                    }
                }
                let signals = onTermination { work.cancel() }
                try await work.value
                signals.forEach { $0.cancel() }
            case ("place", 2, let amount?, let quantity?):
                try await place(
                    OrderEvent(type: .orderPlaced, order: arguments[1], amount: amount, quantity: quantity),
                    client: client, topic: topic)
            case ("status", 2, _, _):
                try await status(arguments[1], client: client, topic: topic)
            default:
                fail(usage, status: 64)
            }
            await client.close()
        } catch is CancellationError {
            // Stopped while starting up.
        } catch {
            fail("order-saga: error: \(error)", status: 1)
        }
    }

    /// One service: consume the topic in the service's own consumer group, react, commit.
    static func run(_ service: Service, client: TernClient, topic: String) async throws {
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(
                fetchMaxWait: .milliseconds(200), autoOffsetReset: .earliest, groupId: "order-saga-\(service)",
                enableAutoCommit: false))
        try await consumer.subscribe(topics: [topic])
        let producer = client.producer()
        say("\(service) service: consuming \(topic) in group order-saga-\(service)")
        do {
            while true {
                let records = try await consumer.poll(timeout: .seconds(1))
                for record in records {
                    guard let event = try? JSONDecoder().decode(OrderEvent.self, from: Data(record.value ?? [])),
                        let reaction = service.react(to: event)
                    else { continue }
                    do {
                        // Only if the event we react to is still the order's last one.
                        try await producer.send(
                            topic: topic, key: Array(event.order.utf8), value: try encode(reaction),
                            condition: .keyLastOffset(record.offset))
                        say("\(service): \(event.order) \(event.type.rawValue) -> \(reaction.type.rawValue)")
                    } catch let error as TernError where error.code == .conditionFailed {
                        // Already answered (this is a redelivery): the order has moved on.
                    }
                }
                // At least once: commit only after the reactions are appended.
                if !records.isEmpty { try await consumer.commitSync() }
            }
        } catch is CancellationError {
            // Stopped: leave the group so that the other members take the partitions at once.
        }
        await producer.close()
        await consumer.close()
        say("\(service) service: stopped")
    }

    /// Starts an order's saga; an order id can be placed only once.
    static func place(_ event: OrderEvent, client: TernClient, topic: String) async throws {
        let producer = client.producer()
        do {
            let stored = try await producer.send(
                topic: topic, key: Array(event.order.utf8), value: try encode(event), condition: .keyAbsent)
            say("OrderPlaced \(event.order) at \(stored.partition):\(stored.offset)")
        } catch let error as TernError where error.code == .conditionFailed {
            fail("order \(event.order) already exists (last event at offset \(error.actualOffset ?? -1))", status: 2)
        }
        await producer.close()
    }

    /// Prints an order's events (read by key) and where its saga stands.
    static func status(_ order: String, client: TernClient, topic: String) async throws {
        var last: OrderEvent?
        for try await record in client.records(topic: topic, key: order) {
            let event = try JSONDecoder().decode(OrderEvent.self, from: Data(record.value ?? []))
            say("offset \(record.offset): \(event.type.rawValue)" + (event.reason.map { " (\($0))" } ?? ""))
            last = event
        }
        guard let last else { fail("order \(order) does not exist", status: 2) }
        say("\(order): " + (last.isTerminal ? last.type.rawValue : "in progress"))
    }

    static func encode(_ event: OrderEvent) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(event))
    }

    /// Key conditions and reads by key need the key index.
    static func createTopicIfMissing(_ client: TernClient, topic: String) async throws {
        do {
            try await client.admin.createTopic(name: topic, partitions: 3, configs: ["key.index.enable": "true"])
        } catch let error as TernError where error.brokerError == .topicAlreadyExists {
            // Created earlier (or by a concurrent command): fine.
        }
    }
}

/// Calls `action` on SIGINT or SIGTERM instead of dying. (A plain function, not main-actor code:
/// Dispatch runs the handler on its own queue.)
func onTermination(_ action: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler(handler: action)
        source.resume()
        return source
    }
}

/// Removes `name VALUE` from `arguments` and returns VALUE.
func option(_ name: String, in arguments: inout [String]) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    defer { arguments.removeSubrange(index...index + 1) }
    return arguments[index + 1]
}

/// Prints a line at once, even when stdout is a pipe or a file (where `print` buffers).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(status)
}
