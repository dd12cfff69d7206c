/// An event of the bank-account example's `bank-accounts` topic (the write side), as JSON.
struct AccountEvent: Codable {
    enum Kind: String, Codable {
        case accountOpened = "AccountOpened"
        case moneyDeposited = "MoneyDeposited"
        case moneyWithdrawn = "MoneyWithdrawn"
    }

    var type: Kind
    var account: String
    var amount: Int
}

/// The read model: one account's current state, kept as the latest record of its key in a
/// compacted topic.
struct AccountSummary: Codable, Equatable {
    var account: String
    var balance = 0
    var deposits = 0
    var withdrawals = 0
    /// The offset of the last event folded in. Events of one account are on one partition, in
    /// offset order, so an event at or below this offset was already applied: redelivered
    /// events change nothing.
    var lastEventOffset: Int64 = -1

    init(account: String) { self.account = account }

    /// Folds an event in; false when it was already applied.
    mutating func apply(_ event: AccountEvent, offset: Int64) -> Bool {
        guard offset > lastEventOffset else { return false }
        switch event.type {
        case .accountOpened: break
        case .moneyDeposited:
            balance += event.amount
            deposits += 1
        case .moneyWithdrawn:
            balance -= event.amount
            withdrawals += 1
        }
        lastEventOffset = offset
        return true
    }
}
