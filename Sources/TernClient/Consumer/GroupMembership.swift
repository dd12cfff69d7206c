/// A group consumer's membership behind the consumer's group lock: the I/O-free
/// ``GroupMembershipState``, the application's rebalance callback, and the heartbeat task while it
/// waits (for a deadline or an event).
struct GroupMembership: Sendable {
    var machine: GroupMembershipState
    var listener: (@Sendable (RebalanceEvent) async -> Void)?
    /// The heartbeat task's wait, resumed by its deadline or by ``TernConsumer/wakeGroupTask(_:)``.
    var sleeper: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
    var sleeperIds: UInt64 = 0
    /// An event came while the task was not waiting: its next wait returns at once.
    var wakeRequested = false

    init(_ configuration: ConsumerConfiguration) {
        machine = GroupMembershipState(settings: .init(configuration))
    }

    /// Takes the waiting task's continuation (to resume outside the lock), or notes the wake-up
    /// for its next wait.
    mutating func wakeUp() -> CheckedContinuation<Void, Never>? {
        guard let sleeper else {
            wakeRequested = true
            return nil
        }
        self.sleeper = nil
        return sleeper.continuation
    }
}
