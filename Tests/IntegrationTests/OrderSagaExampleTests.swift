import Foundation
import TernClient
import TernTestSupport
import XCTest

/// The `order-saga` example (Examples/OrderSaga) against a real `ternd`: order, payment and
/// inventory services run as separate processes, each in its own consumer group (payment with
/// two members), and drive every order to a terminal state, compensating failed steps.
final class OrderSagaExampleTests: BrokerTestCase {
    override class var brokerSettings: [String: String] {
        [
            "offsets.topic.num.partitions": "4", "group.min.session.timeout.ms": "500",
            "group.consumer.heartbeat.interval.ms": "200",
        ]
    }

    /// Every order's event types in log order, read by plain fetches of the whole topic.
    func orderHistories() async throws -> [String: [String]] {
        let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
        let records = try await readWholeTopic(client, topic: "orders")
        await client.close()
        var histories: [String: [String]] = [:]
        for record in records {
            let json = try jsonObject(record)
            let order = try XCTUnwrap(json["order"] as? String)
            XCTAssertEqual(record.key.map { Array($0) }, Array(order.utf8), "keyed by the order id")
            histories[order, default: []].append(json["type"] as? String ?? "?")
        }
        return histories
    }

    func place(_ order: String, amount: Int, quantity: Int) throws {
        let placed = try runExample(
            "order-saga", ["place", order, "--amount", "\(amount)", "--quantity", "\(quantity)"], broker: broker)
        XCTAssertEqual(placed.status, 0, placed.stderr)
        XCTAssertTrue(placed.stdout.contains("OrderPlaced \(order)"), placed.stdout)
    }

    func testEveryOrderEndsInATerminalStateWithCompensation() async throws {
        let completed = ["OrderPlaced", "PaymentCharged", "InventoryReserved", "OrderCompleted"]
        let declined = ["OrderPlaced", "PaymentDeclined", "OrderCancelled"]
        let refunded = ["OrderPlaced", "PaymentCharged", "InventoryUnavailable", "PaymentRefunded", "OrderCancelled"]
        // (amount, quantity, expected history): the credit limit is 1000, stock 5 per order.
        let orders: [(String, Int, Int, [String])] = [
            ("order-1", 100, 1, completed), ("order-2", 5000, 1, declined), ("order-3", 200, 9, refunded),
            ("order-4", 1000, 5, completed), ("order-5", 1001, 10, declined), ("order-6", 50, 6, refunded),
        ]
        // Half the orders wait in the topic before any service runs (the groups start at the
        // earliest offset), half arrive while they run.
        for (order, amount, quantity, _) in orders.prefix(3) { try place(order, amount: amount, quantity: quantity) }
        let services = try ["order", "payment", "payment", "inventory"].map {
            try ExampleProcess(
                "order-saga", ["--bootstrap", broker.bootstrap, "run", $0], directory: directory.path)
        }
        defer { services.forEach { $0.stop() } }
        for service in services { try service.waitForOutput(containing: "service: consuming orders") }
        for (order, amount, quantity, _) in orders.dropFirst(3) { try place(order, amount: amount, quantity: quantity) }

        // An order id is placed once.
        let again = try runExample(
            "order-saga", ["place", "order-1", "--amount", "1", "--quantity", "1"], broker: broker)
        XCTAssertEqual(again.status, 2)
        XCTAssertTrue(again.stderr.contains("order order-1 already exists"), again.stderr)

        var histories: [String: [String]] = [:]
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            histories = try await orderHistories()
            let done = orders.allSatisfy {
                histories[$0.0]?.last == "OrderCompleted" || histories[$0.0]?.last == "OrderCancelled"
            }
            if done { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // Each step exactly once, compensation where a step failed, nothing after the end.
        for (order, _, _, expected) in orders {
            XCTAssertEqual(histories[order], expected, "\(order); services: \(services.map(\.output))")
        }
        // Let any late (redelivered) reaction land, then check nothing was added.
        try await Task.sleep(for: .seconds(1))
        let later = try await orderHistories()
        XCTAssertEqual(later, histories)

        // Redelivery: the services stop (SIGTERM: they leave their groups), their groups are
        // reset to the first event, and they run again over every event. Each reaction is
        // conditional on the event it answers being the order's last, so none is appended twice.
        for service in services {
            XCTAssertEqual(try service.signal(SIGTERM), 0, service.errorOutput)
            XCTAssertTrue(service.output.contains("service: stopped"), service.output)
        }
        for group in ["order-saga-order", "order-saga-payment", "order-saga-inventory"] {
            let reset = try runCommand(
                Binaries.path("tern"),
                [
                    "group", "reset-offsets", group, "--topic", "orders", "--to-earliest", "--bootstrap",
                    broker.bootstrap,
                ])
            XCTAssertEqual(reset.status, 0, reset.stderr)
        }
        let rerun = try ExampleProcess(
            "order-saga", ["--bootstrap", broker.bootstrap, "run"], directory: directory.path)
        defer { rerun.stop() }
        let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
        let ends = try await client.admin.describeTopic(name: "orders").partitions.map(\.logEndOffset)
        var caughtUp = false
        while !caughtUp && Date() < deadline.addingTimeInterval(60) {
            caughtUp = true
            for group in ["order-saga-order", "order-saga-payment", "order-saga-inventory"] {
                let offsets = try await client.admin.describeGroup(group).partitions
                for (partition, end) in ends.enumerated() where end > 0 {
                    let committed = offsets.first { $0.topic == "orders" && $0.partition == partition }?.committedOffset
                    caughtUp = caughtUp && committed == end
                }
            }
            if !caughtUp { try await Task.sleep(for: .milliseconds(200)) }
        }
        await client.close()
        XCTAssertTrue(caughtUp, "the restarted services read every event again: \(rerun.output) \(rerun.errorOutput)")
        let replayed = try await orderHistories()
        XCTAssertEqual(replayed, histories, "no reaction appended twice")
        XCTAssertFalse(rerun.output.contains("->"), rerun.output)

        let status = try runExample("order-saga", ["status", "order-3"], broker: broker)
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("PaymentRefunded"), status.stdout)
        XCTAssertTrue(status.stdout.hasSuffix("order-3: OrderCancelled\n"), status.stdout)
    }
}
