/// One event of an account's history, stored as JSON in a record keyed by the account id.
struct AccountEvent: Codable, Equatable {
    enum Kind: String, Codable {
        case accountOpened = "AccountOpened"
        case moneyDeposited = "MoneyDeposited"
        case moneyWithdrawn = "MoneyWithdrawn"
    }

    var type: Kind
    var account: String
    /// The amount deposited or withdrawn (0 for AccountOpened).
    var amount: Int
    /// The event's position in the account's history: 0, 1, 2, ... without gaps.
    var version: Int
}

/// What a command asks for.
enum Command {
    case open
    case deposit(Int)
    case withdraw(Int)
}

/// A command the account's rules refuse (not a failure of the program).
struct Rejection: Error {
    var reason: String
}

/// An account's current state: what its events add up to.
struct Account {
    let id: String
    var isOpen = false
    var balance = 0
    /// The version of the last event (-1: none).
    var version = -1
    /// The log offset of the last event (-1: none): the condition of the next append.
    var lastOffset: Int64 = -1

    init(id: String) { self.id = id }

    /// Folds one event into the state.
    mutating func apply(_ event: AccountEvent, offset: Int64) {
        switch event.type {
        case .accountOpened: isOpen = true
        case .moneyDeposited: balance += event.amount
        case .moneyWithdrawn: balance -= event.amount
        }
        version = event.version
        lastOffset = offset
    }

    /// Decides a command against the current state: the event to append, or why not.
    func decide(_ command: Command) throws(Rejection) -> AccountEvent {
        switch command {
        case .open:
            guard !isOpen else { throw Rejection(reason: "account \(id) is already open") }
            return AccountEvent(type: .accountOpened, account: id, amount: 0, version: version + 1)
        case .deposit(let amount):
            guard isOpen else { throw Rejection(reason: "account \(id) is not open") }
            guard amount > 0 else { throw Rejection(reason: "amount must be positive") }
            return AccountEvent(type: .moneyDeposited, account: id, amount: amount, version: version + 1)
        case .withdraw(let amount):
            guard isOpen else { throw Rejection(reason: "account \(id) is not open") }
            guard amount > 0 else { throw Rejection(reason: "amount must be positive") }
            guard amount <= balance else {
                throw Rejection(reason: "insufficient funds: balance \(balance), withdrawal \(amount)")
            }
            return AccountEvent(type: .moneyWithdrawn, account: id, amount: amount, version: version + 1)
        }
    }
}
