/// One event of an order's life, stored as JSON in a record keyed by the order id. Every event
/// of an order is on one partition, in order.
struct OrderEvent: Codable, Equatable {
    enum Kind: String, Codable {
        case orderPlaced = "OrderPlaced"
        case paymentCharged = "PaymentCharged"
        case paymentDeclined = "PaymentDeclined"
        case inventoryReserved = "InventoryReserved"
        case inventoryUnavailable = "InventoryUnavailable"
        case paymentRefunded = "PaymentRefunded"  // compensates PaymentCharged
        case orderCompleted = "OrderCompleted"
        case orderCancelled = "OrderCancelled"
    }

    var type: Kind
    var order: String
    var amount: Int
    var quantity: Int
    /// Why a step failed (declined, unavailable, refunded, cancelled).
    var reason: String?

    /// The next event of the same order, with the same amount and quantity.
    func next(_ type: Kind, reason: String? = nil) -> OrderEvent {
        OrderEvent(type: type, order: order, amount: amount, quantity: quantity, reason: reason ?? self.reason)
    }

    /// Whether the order's saga is over.
    var isTerminal: Bool { type == .orderCompleted || type == .orderCancelled }
}

/// The saga's three services. Each reacts to some events of an order with the next one:
///
///     OrderPlaced ──payment──▶ PaymentCharged ──inventory──▶ InventoryReserved ──order──▶ OrderCompleted
///                        └───▶ PaymentDeclined ──order──▶ OrderCancelled
///                                         inventory └──▶ InventoryUnavailable ──payment──▶ PaymentRefunded ──order──▶ OrderCancelled
enum Service: String, CaseIterable {
    case order, payment, inventory

    /// The largest amount the payment service charges.
    static let creditLimit = 1000
    /// The most items of one order the warehouse can reserve.
    static let stockPerOrder = 5

    /// The event this service appends in reaction to `event`, or nil when it is not its step.
    func react(to event: OrderEvent) -> OrderEvent? {
        switch (self, event.type) {
        case (.payment, .orderPlaced):
            event.amount <= Self.creditLimit
                ? event.next(.paymentCharged)
                : event.next(.paymentDeclined, reason: "amount \(event.amount) is over the credit limit")
        case (.inventory, .paymentCharged):
            event.quantity <= Self.stockPerOrder
                ? event.next(.inventoryReserved)
                : event.next(.inventoryUnavailable, reason: "only \(Self.stockPerOrder) in stock")
        case (.payment, .inventoryUnavailable):
            event.next(.paymentRefunded)
        case (.order, .inventoryReserved):
            event.next(.orderCompleted)
        case (.order, .paymentDeclined), (.order, .paymentRefunded):
            event.next(.orderCancelled)
        default:
            nil
        }
    }
}
